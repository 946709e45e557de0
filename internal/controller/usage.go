package controller

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/remote"
)

// RevisionUse evaluates a revision's use: in this cluster from the cache (inuse.Revision), and, when its
// istiod serves other clusters (desired.ServesRemoteClusters), in each of them as well, through the
// remote secrets in its namespace (internal/remote). One that cannot be read fails the evaluation, so
// the use is unknown and the revision kept (docs/architecture.md#lesson-remote-revisions). The revision
// controller writes what it finds as InUse, from what was read of the other clusters within their
// interval (remote.Recent); the Istio controller evaluates it afresh (remote.Fresh) before it prunes.
func RevisionUse(ctx context.Context, reader client.Reader, remotes *remote.Reader, env desired.Env, rev *v1.IstioRevision, f *desired.Facts, fresh remote.Freshness) (inuse.Usage, error) {
	target := env.UsageTarget(rev, f)
	u, err := inuse.Revision(inuse.Cache{Ctx: ctx, Reader: reader}, target)
	if err != nil || !desired.ServesRemoteClusters(rev.Spec.Values) {
		return u, err
	}
	if remotes == nil {
		return inuse.Usage{}, errors.New("this control plane serves other clusters, and this operator reads none")
	}
	if err := remotes.Use(ctx, rev.Spec.Namespace, target, &u, fresh); err != nil {
		return inuse.Usage{}, err
	}
	return u, nil
}

// EvaluateInterval is how often, at most, pod and namespace events reconcile a revision or tag to
// evaluate its use. Evaluating reads every pod that references it; during a rollout of thousands of
// pods, events come faster than that, and are answered together once the interval has passed. Other
// events (a spec change, its istiod's rollout) reconcile at once, and evaluate too. Pruning never
// waits on this: the Istio controller evaluates a revision afresh before it deletes it.
const EvaluateInterval = time.Second

// CountRefreshInterval is how often, at most, the InUse condition is rewritten when only its counts
// changed, unless the operator is told otherwise (--in-use-refresh-interval). A rollout of thousands
// of pods would otherwise rewrite it hundreds of times; a change of the condition's status (in use or
// not) is written at once, since pruning depends on it.
const CountRefreshInterval = 30 * time.Second

// Usage is what the revision and tag controllers share about usage: it paces the events that ask for
// an evaluation (Events), holds back rewrites of an InUse condition whose counts alone changed (Hold),
// and keeps each revision's latest counts for the metrics (Counts). The evaluation itself is
// internal/inuse's, and the InUse condition is written with the rest of the status by the resource's
// own controller.
type Usage struct {
	Clock clock.PassiveClock
	// RefreshInterval is how often, at most, InUse is rewritten when only its counts changed; zero
	// means CountRefreshInterval.
	RefreshInterval time.Duration

	mu sync.Mutex
	// evaluated is when a reconcile of each object, which evaluates its use, last started, by kind and
	// name: events know names.
	evaluated map[string]time.Time
	// written is the InUse condition last written for each object, and when.
	written map[types.UID]writtenUsage
	// counts are each object's counts of its latest evaluation that succeeded, for the metrics:
	// fresher than the condition's message, which Hold may keep for RefreshInterval.
	counts map[types.UID]Counts
}

// Counts say how many namespaces and pods use a revision or tag.
type Counts struct{ Namespaces, Pods int }

type writtenUsage struct {
	condition metav1.Condition
	at        time.Time
}

func usageKey(kind, name string) string { return kind + "/" + name }

// Reconciling records that a reconcile of the object, which evaluates its use, starts now: the events
// that come from here on wait for the rest of EvaluateInterval. Were the time taken after the
// evaluation, the events that arrive while the reconcile runs would queue the object again at once.
func (u *Usage) Reconciling(kind string, obj client.Object) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.evaluated == nil {
		u.evaluated = map[string]time.Time{}
	}
	u.evaluated[usageKey(kind, obj.GetName())] = u.Clock.Now()
}

// Evaluate evaluates an object's use with evaluate and records its counts. It returns the InUse
// condition of the result; a failed evaluation is Unknown, and forgets the counts.
func (u *Usage) Evaluate(obj client.Object, evaluate func() (inuse.Usage, error)) metav1.Condition {
	usage, err := evaluate()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.counts == nil {
		u.counts = map[types.UID]Counts{}
	}
	if err != nil {
		delete(u.counts, obj.GetUID())
	} else {
		c := Counts{Namespaces: len(usage.Namespaces), Pods: usage.Pods}
		for _, there := range usage.Clusters {
			c.Namespaces += len(there.Namespaces)
			c.Pods += there.Pods
		}
		u.counts[obj.GetUID()] = c
	}
	return inuse.Condition(usage, err)
}

// Hold returns the InUse condition to write for an object whose evaluation gave fresh: fresh, unless
// only its message (its counts) changed since the condition Hold last returned for it, less than the
// refresh interval ago. Then it returns that condition again, and how long until fresh may replace it.
// What it returns is what the object's status is about to say; a status write that fails is retried
// with the same condition.
func (u *Usage) Hold(uid types.UID, fresh metav1.Condition) (metav1.Condition, time.Duration) {
	now := u.Clock.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	last, ok := u.written[uid]
	switch {
	case ok && last.condition.Status == fresh.Status && last.condition.Reason == fresh.Reason && last.condition.Message == fresh.Message:
		return fresh, 0
	case ok && last.condition.Status == fresh.Status && last.condition.Reason == fresh.Reason:
		if wait := last.at.Add(u.Interval()).Sub(now); wait > 0 {
			return last.condition, wait
		}
	}
	if u.written == nil {
		u.written = map[types.UID]writtenUsage{}
	}
	u.written[uid] = writtenUsage{condition: fresh, at: now}
	return fresh, 0
}

// Counts returns the counts of the object's latest successful evaluation since this process started,
// if there is one and the object was not forgotten since.
func (u *Usage) Counts(uid types.UID) (Counts, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.counts[uid]
	return c, ok
}

// Forget drops what was kept of an object that is gone.
func (u *Usage) Forget(kind string, obj client.Object) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.evaluated, usageKey(kind, obj.GetName()))
	delete(u.written, obj.GetUID())
	delete(u.counts, obj.GetUID())
}

// Interval is how often, at most, InUse is rewritten when only its counts changed; also how often the
// use of a revision whose workloads run in other clusters, which send no events, is evaluated again.
func (u *Usage) Interval() time.Duration {
	if u.RefreshInterval > 0 {
		return u.RefreshInterval
	}
	return CountRefreshInterval
}

// delay is how long an event that asks to evaluate the object kind/name waits: the rest of
// EvaluateInterval since its last reconcile started.
func (u *Usage) delay(kind, name string) time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return max(u.evaluated[usageKey(kind, name)].Add(EvaluateInterval).Sub(u.Clock.Now()), 0)
}

// Events is the handler of the pod and namespace events that ask to evaluate the use of the objects
// of kind that names maps them to: each is queued after the rest of EvaluateInterval since its last
// evaluation, so that a burst of events costs one reconcile. Old and new objects both pass through
// names on an update, so a relabelled namespace wakes both the revisions it leaves and joins.
func (u *Usage) Events(kind string, names func(context.Context, client.Object) []string) UsageEvents {
	return UsageEvents{usage: u, kind: kind, names: names}
}

// UsageEvents is the event handler Events returns.
type UsageEvents struct {
	usage *Usage
	kind  string
	names func(context.Context, client.Object) []string
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (h UsageEvents) add(ctx context.Context, q queue, objs ...client.Object) {
	seen := map[string]bool{}
	for _, obj := range objs {
		if obj == nil {
			continue
		}
		for _, name := range h.names(ctx, obj) {
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			req := reconcile.Request{NamespacedName: types.NamespacedName{Name: name}}
			if d := h.usage.delay(h.kind, name); d > 0 {
				q.AddAfter(req, d)
			} else {
				q.Add(req)
			}
		}
	}
}

// Create implements handler.EventHandler.
func (h UsageEvents) Create(ctx context.Context, e event.CreateEvent, q queue) {
	h.add(ctx, q, e.Object)
}

// Update implements handler.EventHandler.
func (h UsageEvents) Update(ctx context.Context, e event.UpdateEvent, q queue) {
	h.add(ctx, q, e.ObjectOld, e.ObjectNew)
}

// Delete implements handler.EventHandler.
func (h UsageEvents) Delete(ctx context.Context, e event.DeleteEvent, q queue) {
	h.add(ctx, q, e.Object)
}

// Generic implements handler.EventHandler.
func (h UsageEvents) Generic(context.Context, event.GenericEvent, queue) {}

// CreatedOrDeleted passes only an object's creation and deletion: for watches that care whether an
// object exists, not how it changes.
type CreatedOrDeleted struct{ predicate.Funcs }

func (CreatedOrDeleted) Create(event.CreateEvent) bool   { return true }
func (CreatedOrDeleted) Delete(event.DeleteEvent) bool   { return true }
func (CreatedOrDeleted) Update(event.UpdateEvent) bool   { return false }
func (CreatedOrDeleted) Generic(event.GenericEvent) bool { return false }

// TagMoved passes the events of a tag that can change the revisions it concerns (and the workloads that
// follow it): its coming and going,
// a change of its spec (its targetRef), and its webhook moving to another revision (status). The rest
// of its status (its own InUse and Ready) concerns no revision.
type TagMoved struct{ predicate.Funcs }

func (TagMoved) Create(event.CreateEvent) bool   { return true }
func (TagMoved) Delete(event.DeleteEvent) bool   { return true }
func (TagMoved) Generic(event.GenericEvent) bool { return false }
func (TagMoved) Update(e event.UpdateEvent) bool {
	old, okOld := e.ObjectOld.(*v1.IstioRevisionTag)
	tag, okNew := e.ObjectNew.(*v1.IstioRevisionTag)
	return !okOld || !okNew || old.Generation != tag.Generation || old.Status.IstioRevision != tag.Status.IstioRevision
}

// MetadataChanged passes namespace and pod events that can change what they reference: creation,
// deletion, and updates of labels or annotations. Status updates of pods are not even seen, since the
// cache holds metadata only.
type MetadataChanged struct{ predicate.Funcs }

func (MetadataChanged) Create(event.CreateEvent) bool { return true }
func (MetadataChanged) Delete(event.DeleteEvent) bool { return true }
func (MetadataChanged) Update(e event.UpdateEvent) bool {
	return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		!maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
}
func (MetadataChanged) Generic(event.GenericEvent) bool { return false }
