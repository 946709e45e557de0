package revision

import (
	"context"
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
	// Status writes the InUse condition (field manager bosun-inuse).
	Status *status.Writer

	mu sync.Mutex
	// written is the InUse condition last written for each revision, and when. The cache may not have
	// seen it yet, and the condition's transition time, which decides pruning, must follow what was
	// written.
	written map[types.UID]writtenUsage
	// evaluated is when each revision's use was last evaluated.
	evaluated map[types.UID]time.Time
}

type writtenUsage struct {
	condition metav1.Condition
	at        time.Time
}

// CountRefreshInterval is how often, at most, the InUse message is rewritten when only its counts
// changed. A rollout of thousands of pods would otherwise rewrite it hundreds of times; a change of the
// condition's status (in use or not) is written at once, since pruning depends on it.
const CountRefreshInterval = 30 * time.Second

// EvaluateInterval is how often, at most, a revision's use is evaluated. Evaluating reads every pod
// that references the revision; during a rollout of thousands of pods, events come faster than that,
// and are answered together once the interval has passed. Pruning never waits on this: the Istio
// controller evaluates a revision afresh before it deletes it.
const EvaluateInterval = time.Second

// SetupWithManager registers the controller: IstioRevisions, and the namespaces, pods and tags that
// reference them. Namespace and pod events pass only when labels or annotations change (or the object
// comes or goes): status updates of pods are not even seen, since the cache holds metadata only.
func (r *UsageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("istiorevision-inuse").
		For(&v1.IstioRevision{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.referenced), builder.WithPredicates(metadataChanged{})).
		WatchesMetadata(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.referenced), builder.WithPredicates(metadataChanged{})).
		Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(r.tagTarget)).
		Complete(r)
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
		r.forget(rev.UID)
		r.Status.Forget(rev.UID)
		return ctrl.Result{}, nil
	}
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	now := r.Clock.Now()
	if wait := r.untilEvaluation(rev.UID, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	c := r.Evaluate(ctx, rev)
	base := rev.Status.Conditions
	if last, ok := r.last(rev.UID); ok {
		base = []metav1.Condition{last.condition}
		if last.condition.Status == c.Status && last.condition.Reason == c.Reason && last.condition.Message != c.Message {
			if wait := last.at.Add(CountRefreshInterval).Sub(now); wait > 0 {
				return ctrl.Result{RequeueAfter: wait}, nil
			}
		}
	}
	conditions := status.Set(base, c, metav1.NewTime(now))
	written := *meta.FindStatusCondition(conditions, v1.ConditionInUse)
	cached := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionInUse)
	cachedUnchanged := cached != nil && cached.Status == c.Status && cached.Reason == c.Reason && cached.Message == c.Message
	wrote, err := r.Status.Write(ctx, rev, map[string]any{"conditions": []metav1.Condition{written}}, cachedUnchanged)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wrote {
		r.remember(rev.UID, writtenUsage{condition: written, at: now})
	}
	return ctrl.Result{}, nil
}

// untilEvaluation returns how long to wait before the revision's use may be evaluated again, or zero,
// and then records now as the time of its evaluation.
func (r *UsageReconciler) untilEvaluation(uid types.UID, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wait := r.evaluated[uid].Add(EvaluateInterval).Sub(now); wait > 0 {
		return wait
	}
	if r.evaluated == nil {
		r.evaluated = map[types.UID]time.Time{}
	}
	r.evaluated[uid] = now
	return 0
}

func (r *UsageReconciler) last(uid types.UID) (writtenUsage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.written[uid]
	return c, ok
}

func (r *UsageReconciler) remember(uid types.UID, w writtenUsage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.UID]writtenUsage{}
	}
	r.written[uid] = w
}

func (r *UsageReconciler) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.written, uid)
	delete(r.evaluated, uid)
}

// Evaluate tells whether workloads use the revision now, from the cache. A failed lookup gives
// Unknown, which never lets the revision be pruned (field lesson #27).
func (r *UsageReconciler) Evaluate(ctx context.Context, rev *v1.IstioRevision) metav1.Condition {
	target, err := r.target(ctx, rev)
	var usage inuse.Usage
	if err == nil {
		usage, err = inuse.Revision(cacheLookup{ctx: ctx, c: r.Client}, target)
	}
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
		target, err := r.Env.Target(ctx, lookup, tag.Spec.TargetRef)
		if err != nil && !errors.Is(err, desired.ErrTargetNotFound) {
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

// cacheLookup answers internal/inuse's questions from the operator's metadata-only cache, through the
// field index internal/inuse defines. Lists are not deep-copied: the objects are only read.
type cacheLookup struct {
	ctx context.Context
	c   client.Reader
}

func (l cacheLookup) list(kind, key string) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind + "List"))
	if err := l.c.List(l.ctx, list, client.MatchingFields{inuse.IndexField: key}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (l cacheLookup) NamespacesReferencing(name string) ([]inuse.Namespace, error) {
	items, err := l.list("Namespace", inuse.LabelKey(name))
	out := make([]inuse.Namespace, 0, len(items))
	for _, ns := range items {
		out = append(out, inuse.Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	return out, err
}

func (l cacheLookup) pods(key string) ([]inuse.Pod, error) {
	items, err := l.list("Pod", key)
	out := make([]inuse.Pod, 0, len(items))
	for _, p := range items {
		out = append(out, inuse.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Annotations: p.Annotations})
	}
	return out, err
}

func (l cacheLookup) PodsByAnnotation(name string) ([]inuse.Pod, error) {
	return l.pods(inuse.AnnotationKey(name))
}

func (l cacheLookup) PodsByLabel(name string) ([]inuse.Pod, error) {
	return l.pods(inuse.LabelKey(name))
}

func (l cacheLookup) Namespace(name string) (inuse.Namespace, bool, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := l.c.Get(l.ctx, client.ObjectKey{Name: name}, ns)
	if client.IgnoreNotFound(err) != nil {
		return inuse.Namespace{}, false, err
	}
	if err != nil {
		return inuse.Namespace{}, false, nil
	}
	return inuse.Namespace{Name: ns.Name, Labels: ns.Labels}, true, nil
}

// metadataChanged passes namespace and pod events that can change what they reference: creation,
// deletion, and updates of labels or annotations.
type metadataChanged struct{ predicate.Funcs }

func (metadataChanged) Create(event.CreateEvent) bool { return true }
func (metadataChanged) Delete(event.DeleteEvent) bool { return true }
func (metadataChanged) Update(e event.UpdateEvent) bool {
	return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
		!maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
}
func (metadataChanged) Generic(event.GenericEvent) bool { return false }
