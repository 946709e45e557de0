package revision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// UsageFieldManager owns the InUse condition of IstioRevisions.
const UsageFieldManager = "bosun-inuse"

// UsageReconciler keeps the InUse condition of IstioRevisions. It reads namespaces and pods from a
// metadata-only cache through the indexes of internal/inuse, so a pod event costs a few index lookups
// and, only when the answer changes, one status write: nothing is rendered or applied.
type UsageReconciler struct {
	Client client.Client
	// Env resolves the targets of tags from their spec.
	Env   desired.Env
	Clock clock.PassiveClock
	// InUse writes the InUse condition (field manager bosun-inuse).
	InUse *InUseWriter
}

// InUseWriter writes the InUse condition of revisions and tags (field manager bosun-inuse), with the
// fields that go with it: a change of the condition's status at once, since pruning depends on it, and
// a change of its counts alone at most once per RefreshInterval.
type InUseWriter struct {
	Status *status.Writer
	// RefreshInterval is how often, at most, the condition is rewritten when only its counts changed;
	// zero means CountRefreshInterval.
	RefreshInterval time.Duration

	mu sync.Mutex
	// written is what was last written for each object, and when. The cache may not have seen it yet,
	// and the condition's transition time, which decides pruning, must follow what was written.
	written map[types.UID]writtenUsage
	// evaluated is when each object's use was last evaluated.
	evaluated map[types.UID]time.Time
	// counts are the counts of each revision's last evaluation that succeeded, for the metrics: fresher
	// than the condition's message, which may hold them back for RefreshInterval.
	counts map[types.UID]Counts
}

// Counts say how many namespaces and pods use a revision, directly or through its tags.
type Counts struct{ Namespaces, Pods int }

type writtenUsage struct {
	condition metav1.Condition
	// fields is the whole status written with it.
	fields []byte
	at     time.Time
}

// Write writes c as obj's InUse condition. cached are the conditions the cache holds. fields makes the
// status to write from the condition as it will be written, and says whether the cache already holds
// that status. A change of the condition's message alone (its counts) within RefreshInterval of
// the last write is held back, unless the other fields changed too: the result then says when to try
// again.
func (w *InUseWriter) Write(ctx context.Context, obj client.Object, cached []metav1.Condition, c metav1.Condition, now time.Time,
	fields func(written metav1.Condition) (status any, cachedUnchanged bool)) (ctrl.Result, error) {
	base := cached
	if last, ok := w.last(obj.GetUID()); ok {
		base = []metav1.Condition{last.condition}
		if last.condition.Status == c.Status && last.condition.Reason == c.Reason && last.condition.Message != c.Message {
			if wait := last.at.Add(w.refreshInterval()).Sub(now); wait > 0 {
				if before, _ := fields(last.condition); bytes.Equal(mustJSON(before), last.fields) {
					return ctrl.Result{RequeueAfter: wait}, nil
				}
			}
		}
	}
	written := *meta.FindStatusCondition(status.Set(base, c, metav1.NewTime(now)), v1.ConditionInUse)
	st, cachedUnchanged := fields(written)
	wrote, err := w.Status.Write(ctx, obj, st, cachedUnchanged)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wrote {
		w.remember(obj.GetUID(), writtenUsage{condition: written, fields: mustJSON(st), at: now})
	}
	return ctrl.Result{}, nil
}

// UntilEvaluation returns how long to wait before an object's use may be evaluated again (see
// EvaluateInterval), or zero, and then records now as the time of its evaluation.
func (w *InUseWriter) UntilEvaluation(uid types.UID, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wait := w.evaluated[uid].Add(EvaluateInterval).Sub(now); wait > 0 {
		return wait
	}
	if w.evaluated == nil {
		w.evaluated = map[types.UID]time.Time{}
	}
	w.evaluated[uid] = now
	return 0
}

// Observe records the outcome of evaluating an object's use. A failed evaluation forgets the counts:
// they are unknown until an evaluation succeeds again.
func (w *InUseWriter) Observe(uid types.UID, usage inuse.Usage, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		delete(w.counts, uid)
		return
	}
	if w.counts == nil {
		w.counts = map[types.UID]Counts{}
	}
	w.counts[uid] = Counts{Namespaces: len(usage.Namespaces), Pods: usage.Pods}
}

// Counts returns the counts of the object's last successful evaluation since this process started, if
// there is one and the object was not forgotten since.
func (w *InUseWriter) Counts(uid types.UID) (Counts, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.counts[uid]
	return c, ok
}

// Forget drops what was written for an object that is gone.
func (w *InUseWriter) Forget(uid types.UID) {
	w.mu.Lock()
	delete(w.written, uid)
	delete(w.evaluated, uid)
	delete(w.counts, uid)
	w.mu.Unlock()
	w.Status.Forget(uid)
}

func (w *InUseWriter) refreshInterval() time.Duration {
	if w.RefreshInterval > 0 {
		return w.RefreshInterval
	}
	return CountRefreshInterval
}

// mustJSON encodes a status made of plain fields, which cannot fail.
func mustJSON(v any) []byte {
	data, _ := json.Marshal(v)
	return data
}

// CountRefreshInterval is how often, at most, the InUse message is rewritten when only its counts
// changed, unless the operator is told otherwise (--in-use-refresh-interval). A rollout of thousands
// of pods would otherwise rewrite it hundreds of times; a change of the condition's status (in use or
// not) is written at once, since pruning depends on it.
const CountRefreshInterval = 30 * time.Second

// EvaluateInterval is how often, at most, a revision's or tag's use is evaluated. Evaluating reads every
// pod that references it; during a rollout of thousands of pods, events come faster than that, and are
// answered together once the interval has passed. Pruning never waits on this: the Istio controller
// evaluates a revision afresh before it deletes it.
const EvaluateInterval = time.Second

// SetupWithManager registers the controller: IstioRevisions, and the namespaces, pods and tags that
// reference them. Namespace and pod events pass only when labels or annotations change (or the object
// comes or goes): status updates of pods are not even seen, since the cache holds metadata only.
func (r *UsageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("istiorevision-inuse").
		For(&v1.IstioRevision{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.referenced), builder.WithPredicates(MetadataChanged{})).
		WatchesMetadata(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.referenced), builder.WithPredicates(MetadataChanged{})).
		Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(r.tagTarget)).
		Complete(controller.CountErrors(v1.KindIstioRevision, r))
}

// referenced maps a namespace or pod to the revisions the names it references resolve to. Old and new
// objects both pass through here on an update, so a relabelled namespace wakes both revisions.
func (r *UsageReconciler) referenced(ctx context.Context, obj client.Object) []reconcile.Request {
	var names []string
	if _, ok := obj.(*metav1.PartialObjectMetadata); ok && obj.GetNamespace() == "" {
		if name, _ := inuse.NamespaceReference(obj.GetLabels()); name != "" {
			names = append(names, name)
		}
	} else {
		byAnnotation, byLabel := inuse.PodReferences(obj.GetLabels(), obj.GetAnnotations(), "")
		names = append(names, byAnnotation, byLabel)
	}
	return r.resolve(ctx, names)
}

// resolve turns referenced names (revision names, tag names, default) into revision requests.
func (r *UsageReconciler) resolve(ctx context.Context, names []string) []reconcile.Request {
	seen := map[string]bool{}
	var out []reconcile.Request
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
		}
	}
	var tags *v1.IstioRevisionTagList
	for _, name := range names {
		if name == "" {
			continue
		}
		add(name)
		if tags == nil {
			tags = &v1.IstioRevisionTagList{}
			if err := r.Client.List(ctx, tags); err != nil {
				logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisionTags to map a namespace or pod event")
			}
		}
		for _, t := range tags.Items {
			if t.Name == name {
				add(t.Status.IstioRevision)
			}
		}
	}
	return out
}

// tagTarget maps a tag to the revision its spec resolves to, not the one its status names, which lags
// behind a change of its target (field lesson #26).
func (r *UsageReconciler) tagTarget(ctx context.Context, obj client.Object) []reconcile.Request {
	tag, ok := obj.(*v1.IstioRevisionTag)
	if !ok {
		return nil
	}
	var out []reconcile.Request
	if rev, err := r.Env.Target(ctx, desired.Cluster{Reader: r.Client}, tag.Spec.TargetRef); err == nil {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: rev.Name}})
	}
	if tag.Status.IstioRevision != "" {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: tag.Status.IstioRevision}})
	}
	return out
}

// Reconcile computes a revision's InUse condition and writes it when it changed.
func (r *UsageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rev := &v1.IstioRevision{}
	if err := r.Client.Get(ctx, req.NamespacedName, rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rev.DeletionTimestamp.IsZero() {
		r.InUse.Forget(rev.UID)
		return ctrl.Result{}, nil
	}
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	now := r.Clock.Now()
	if wait := r.InUse.UntilEvaluation(rev.UID, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	usage, err := r.usage(ctx, rev)
	r.InUse.Observe(rev.UID, usage, err)
	c := UsageCondition(usage, err)
	return r.InUse.Write(ctx, rev, rev.Status.Conditions, c, now, func(written metav1.Condition) (any, bool) {
		return map[string]any{"conditions": []metav1.Condition{written}}, SameCondition(rev.Status.Conditions, c)
	})
}

// SameCondition reports whether conditions hold c with the same status, reason and message.
func SameCondition(conditions []metav1.Condition, c metav1.Condition) bool {
	old := meta.FindStatusCondition(conditions, c.Type)
	return old != nil && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message
}

func (w *InUseWriter) last(uid types.UID) (writtenUsage, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.written[uid]
	return c, ok
}

func (w *InUseWriter) remember(uid types.UID, u writtenUsage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		w.written = map[types.UID]writtenUsage{}
	}
	w.written[uid] = u
}

// Evaluate tells whether workloads use the revision now, from the cache. A failed lookup gives
// Unknown, which never lets the revision be pruned (field lesson #27).
func (r *UsageReconciler) Evaluate(ctx context.Context, rev *v1.IstioRevision) metav1.Condition {
	return UsageCondition(r.usage(ctx, rev))
}

// usage reads what references the revision, from the cache.
func (r *UsageReconciler) usage(ctx context.Context, rev *v1.IstioRevision) (inuse.Usage, error) {
	target, err := r.target(ctx, rev)
	if err != nil {
		return inuse.Usage{}, err
	}
	return inuse.Revision(CacheLookup{Ctx: ctx, Reader: r.Client}, target)
}

// UsageCondition is the InUse condition of a revision's or tag's usage, or of a failed evaluation,
// which is Unknown.
func UsageCondition(usage inuse.Usage, err error) metav1.Condition {
	switch {
	case err != nil:
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionUnknown, Reason: v1.ReasonUsageCheckFailed, Message: err.Error()}
	case usage.InUse():
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionTrue, Reason: v1.ReasonReferencedByWorkloads, Message: usage.Message()}
	default:
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionFalse, Reason: v1.ReasonNotReferencedByAnything, Message: usage.Message()}
	}
}

// target gathers what names resolve to the revision: its own, the tags that point at it, and whether
// its injector serves every namespace.
func (r *UsageReconciler) target(ctx context.Context, rev *v1.IstioRevision) (inuse.Target, error) {
	t := inuse.Target{Revision: rev.Name}
	var tags v1.IstioRevisionTagList
	if err := r.Client.List(ctx, &tags); err != nil {
		return t, err
	}
	lookup := desired.Cluster{Reader: r.Client}
	for _, tag := range tags.Items {
		// The tag counts for the revision its spec points at, and for the one its status still names:
		// until the tag's webhook has moved, workloads that use the tag are injected by that one.
		// Only a failed lookup makes the answer Unknown (field lesson #27). A tag whose target cannot
		// be decided (missing, or an Istio bosun refuses) points nowhere new; it still counts for the
		// revision its status names, and it must not stop every other revision from being pruned.
		target, err := r.Env.Target(ctx, lookup, tag.Spec.TargetRef)
		if errors.Is(err, desired.ErrLookup) {
			return t, err
		}
		if (target != nil && target.Name == rev.Name) || tag.Status.IstioRevision == rev.Name {
			t.Tags = append(t.Tags, tag.Name)
		}
	}
	if v := rev.Spec.Values; v != nil && v.SidecarInjectorWebhook != nil && v.SidecarInjectorWebhook.EnableNamespacesByDefault != nil {
		t.EnableNamespacesByDefault = *v.SidecarInjectorWebhook.EnableNamespacesByDefault
	}
	return t, nil
}

// CacheLookup answers internal/inuse's questions from the operator's metadata-only cache, through the
// field index internal/inuse defines. Lists are not deep-copied: the objects are only read.
type CacheLookup struct {
	Ctx    context.Context
	Reader client.Reader
}

func (l CacheLookup) list(kind, key string) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind + "List"))
	if err := l.Reader.List(l.Ctx, list, client.MatchingFields{inuse.IndexField: key}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (l CacheLookup) NamespacesReferencing(name string) ([]inuse.Namespace, error) {
	items, err := l.list("Namespace", inuse.LabelKey(name))
	out := make([]inuse.Namespace, 0, len(items))
	for _, ns := range items {
		out = append(out, inuse.Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	return out, err
}

func (l CacheLookup) pods(key string) ([]inuse.Pod, error) {
	items, err := l.list("Pod", key)
	out := make([]inuse.Pod, 0, len(items))
	for _, p := range items {
		out = append(out, inuse.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Annotations: p.Annotations})
	}
	return out, err
}

func (l CacheLookup) PodsByAnnotation(name string) ([]inuse.Pod, error) {
	return l.pods(inuse.AnnotationKey(name))
}

func (l CacheLookup) PodsByLabel(name string) ([]inuse.Pod, error) {
	return l.pods(inuse.LabelKey(name))
}

func (l CacheLookup) Namespace(name string) (inuse.Namespace, bool, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := l.Reader.Get(l.Ctx, client.ObjectKey{Name: name}, ns)
	if client.IgnoreNotFound(err) != nil {
		return inuse.Namespace{}, false, err
	}
	if err != nil {
		return inuse.Namespace{}, false, nil
	}
	return inuse.Namespace{Name: ns.Name, Labels: ns.Labels}, true, nil
}

// MetadataChanged passes namespace and pod events that can change what they reference: creation,
// deletion, and updates of labels or annotations.
type MetadataChanged struct{ predicate.Funcs }

func (MetadataChanged) Create(event.CreateEvent) bool { return true }
func (MetadataChanged) Delete(event.DeleteEvent) bool { return true }
func (MetadataChanged) Update(e event.UpdateEvent) bool {
	return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		!maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
}
func (MetadataChanged) Generic(event.GenericEvent) bool { return false }
