package tag

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/revision"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// UsageReconciler keeps the InUse condition of IstioRevisionTags, and their status.state, which
// summarises it with the tag controller's Reconciled and Ready. Like the revisions' usage controller
// it reads namespaces and pods from the metadata-only cache through internal/inuse's indexes and
// writes through the same revision.InUseWriter (field manager bosun-inuse): a pod event costs a few
// index lookups and, when the answer changes, one status write.
type UsageReconciler struct {
	Client client.Client
	Clock  clock.PassiveClock
	InUse  *revision.InUseWriter
}

// SetupWithManager registers the controller: tags (every change, since state follows the tag
// controller's conditions), the namespaces and pods that select a tag by label, and the revision the
// tag named default points at, whose enableNamespacesByDefault keeps that tag in use.
func (r *UsageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("istiorevisiontag-inuse").
		For(&v1.IstioRevisionTag{}).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(byLabels), builder.WithPredicates(revision.MetadataChanged{})).
		WatchesMetadata(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(byLabels), builder.WithPredicates(revision.MetadataChanged{})).
		Watches(&v1.IstioRevision{}, handler.EnqueueRequestsFromMapFunc(defaultTag), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(controller.CountErrors(v1.KindIstioRevisionTag, r))
}

// byLabels maps a namespace or pod to the tag its labels name, if there is one of that name. A pod's
// istio.io/rev annotation names the revision that injected it, never a tag, so it is not read.
func byLabels(_ context.Context, obj client.Object) []reconcile.Request {
	var name string
	if _, ok := obj.(*metav1.PartialObjectMetadata); ok && obj.GetNamespace() == "" {
		name, _ = inuse.NamespaceReference(obj.GetLabels())
	} else {
		_, name = inuse.PodReferences(obj.GetLabels(), nil, "")
	}
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
}

// defaultTag maps a revision to the tag named default, whose use depends on the values of the revision
// it points at.
func defaultTag(context.Context, client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: inuse.Default}}}
}

// Reconcile computes a tag's InUse condition and state, and writes them when they changed.
func (r *UsageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tag := &v1.IstioRevisionTag{}
	if err := r.Client.Get(ctx, req.NamespacedName, tag); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !tag.DeletionTimestamp.IsZero() {
		r.InUse.Forget(tag.UID)
		return ctrl.Result{}, nil
	}
	if tag.Status.ObservedGeneration == 0 {
		// The tag controller has not written the status yet, whose required fields (istioRevision,
		// istiodNamespace) are its own; its first write wakes this controller again.
		return ctrl.Result{}, nil
	}
	tag.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevisionTag))
	now := r.Clock.Now()
	if wait := r.InUse.UntilEvaluation(tag.UID, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	c := r.Evaluate(ctx, tag)
	return r.InUse.Write(ctx, tag, tag.Status.Conditions, c, now, func(written metav1.Condition) (any, bool) {
		conditions := status.Set(tag.Status.Conditions, written, written.LastTransitionTime)
		state := status.State(conditions, StateConditions...)
		fields := map[string]any{"conditions": []metav1.Condition{written}, "state": state}
		return fields, revision.SameCondition(tag.Status.Conditions, c) && tag.Status.State == state
	})
}

// Evaluate tells whether namespaces or pods select the tag now, from the cache. A failed lookup gives
// Unknown.
func (r *UsageReconciler) Evaluate(ctx context.Context, tag *v1.IstioRevisionTag) metav1.Condition {
	enable, err := r.enableNamespacesByDefault(ctx, tag)
	var usage inuse.Usage
	if err == nil {
		usage, err = inuse.Tag(revision.CacheLookup{Ctx: ctx, Reader: r.Client}, tag.Name, enable)
	}
	return revision.UsageCondition(usage, err)
}

// enableNamespacesByDefault is the sidecarInjectorWebhook.enableNamespacesByDefault of the revision the
// tag named default points at: with it, that revision's injector serves every unlabelled namespace
// through the tag. Other tags are not affected.
func (r *UsageReconciler) enableNamespacesByDefault(ctx context.Context, tag *v1.IstioRevisionTag) (bool, error) {
	if tag.Name != inuse.Default || tag.Status.IstioRevision == "" {
		return false, nil
	}
	rev := &v1.IstioRevision{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: tag.Status.IstioRevision}, rev); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	v := rev.Spec.Values
	if v == nil || v.SidecarInjectorWebhook == nil || v.SidecarInjectorWebhook.EnableNamespacesByDefault == nil {
		return false, nil
	}
	return *v.SidecarInjectorWebhook.EnableNamespacesByDefault, nil
}
