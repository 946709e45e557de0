// Package istio reconciles Istio resources into IstioRevisions, the way a Deployment makes
// ReplicaSets: InPlace keeps one revision named after the Istio and updates it; RevisionBased creates a
// revision per version, <istio>-<version with dots as dashes>, and deletes an old one once no
// workload has used it for the grace period. The Istio's status is its active revision's.
package istio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// Reconciler reconciles Istios.
type Reconciler struct {
	Client   client.Client
	Env      desired.Env
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Status writes the Istios' status (with field manager bosun).
	Status *status.Writer
	// Usage tells, at the moment of pruning, whether workloads use a revision: the InUse condition
	// the pruning decision started from may be older than the cache.
	Usage interface {
		Evaluate(context.Context, *v1.IstioRevision) metav1.Condition
	}
}

// SetupWithManager registers the controller: Istios when their spec or annotations change, the
// revisions they own, whose status becomes theirs, and the deletion of tags, which may free the name
// of the revision an Istio was refused.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("istio").
		For(&v1.Istio{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&v1.IstioRevision{}).
		Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(r.refusedIstios), builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			UpdateFunc:  func(event.UpdateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return true },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(controller.CountErrors(v1.KindIstio, r))
}

// refusedIstios maps an event to the Istios refused for a name conflict, which may now go on.
func (r *Reconciler) refusedIstios(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1.IstioList
	if err := r.Client.List(ctx, &list); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing Istios to map an IstioRevisionTag's deletion")
		return nil
	}
	var out []reconcile.Request
	for _, istio := range list.Items {
		if c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionReconciled); c != nil && c.Reason == v1.ReasonNameAlreadyExists {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&istio)})
		}
	}
	return out
}

// Reconcile makes the Istio's active revision what its spec asks for, deletes revisions no longer
// used, and writes the Istio's status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	istio := &v1.Istio{}
	if err := r.Client.Get(ctx, req.NamespacedName, istio); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !istio.DeletionTimestamp.IsZero() {
		// The garbage collector deletes the owned revisions; their finalizers remove istiod.
		return ctrl.Result{}, nil
	}
	istio.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstio))
	revs, err := r.ownedRevisions(ctx, istio)
	if err != nil {
		return ctrl.Result{}, err
	}
	active, err := r.activeRevision(ctx, istio, revs)
	var requeue time.Duration
	if err == nil {
		revs, requeue, err = r.prune(ctx, istio, active.Name, revs)
	}
	wrote, serr := r.writeStatus(ctx, istio, active, revs, err)
	if serr != nil {
		return ctrl.Result{}, errors.Join(err, serr)
	}
	if reason, refused := status.RefusalReason(err); refused {
		// One Warning per refusal, when the status first says so, not one per reconcile.
		if wrote {
			r.Recorder.Eventf(istio, nil, corev1.EventTypeWarning, reason, "Reconcile", err.Error())
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{RequeueAfter: requeue}, err
}

// ownedRevisions lists the revisions whose controller is this Istio.
func (r *Reconciler) ownedRevisions(ctx context.Context, istio *v1.Istio) ([]v1.IstioRevision, error) {
	var list v1.IstioRevisionList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	var out []v1.IstioRevision
	for _, rev := range list.Items {
		if ref := metav1.GetControllerOf(&rev); ref != nil && ref.UID == istio.UID {
			out = append(out, rev)
		}
	}
	return out, nil
}

// activeRevision computes the revision the spec asks for and creates or updates it. It returns a
// refusal when the spec cannot be installed (an unknown or end-of-life version, a profile the version
// lacks, a name too long, a minor version skipped under InPlace, a revision of that name owned by
// someone else), and changes nothing then.
func (r *Reconciler) activeRevision(ctx context.Context, istio *v1.Istio, owned []v1.IstioRevision) (*v1.IstioRevision, error) {
	want, existing, err := r.Env.ActiveRevision(ctx, desired.Cluster{Reader: r.Client}, istio)
	if errors.Is(err, desired.ErrLookup) {
		return nil, err
	}
	var conflict *desired.NameConflictError
	if errors.As(err, &conflict) {
		return nil, status.Refuse(v1.ReasonNameAlreadyExists, err)
	}
	if err != nil {
		return nil, status.Refuse(v1.ReasonReconcileError, err)
	}
	if existing == nil {
		return r.createRevision(ctx, istio, want)
	}
	if existing.Spec.Version != want.Spec.Version {
		// The running version may have left the catalog (end of life after an operator upgrade, when
		// big jumps are likeliest): its minor version comes from its name, and a name that says none
		// refuses the change rather than allowing it.
		from, err := catalog.ParseVersion(string(existing.Spec.Version))
		if err != nil {
			return nil, status.Refuse(v1.ReasonVersionChangeNotAllowed, fmt.Errorf("IstioRevision %s runs %q, whose minor version bosun cannot tell, so it cannot check the change to %s: %w", existing.Name, existing.Spec.Version, want.Spec.Version, err))
		}
		to, err := catalog.ParseVersion(string(want.Spec.Version))
		if err != nil {
			return nil, err
		}
		if err := CheckInPlaceStep(istio, from, to, r.Env.Catalog); err != nil {
			return nil, status.Refuse(v1.ReasonVersionChangeNotAllowed, err)
		}
	}
	return r.updateRevision(ctx, istio, existing, want)
}

// createRevision creates the revision with its owner reference and the revision controller's
// finalizer, so that it needs no second write.
func (r *Reconciler) createRevision(ctx context.Context, istio *v1.Istio, rev *v1.IstioRevision) (*v1.IstioRevision, error) {
	if err := controllerutil.SetControllerReference(istio, rev, r.Client.Scheme()); err != nil {
		return nil, err
	}
	controllerutil.AddFinalizer(rev, controller.Finalizer)
	if err := r.Client.Create(ctx, rev, client.FieldOwner(apply.FieldManager)); err != nil {
		return nil, fmt.Errorf("creating IstioRevision %s: %w", rev.Name, err)
	}
	logr.FromContextOrDiscard(ctx).Info("created revision", "revision", rev.Name, "version", rev.Spec.Version)
	r.Recorder.Eventf(istio, rev, corev1.EventTypeNormal, "RevisionCreated", "Create", "created IstioRevision %s (Istio %s)", rev.Name, rev.Spec.Version)
	return rev, nil
}

// updateRevision writes the computed spec into an existing revision when it differs, and takes the
// revision back as this Istio's when it lost its owner reference (after a restore, field lesson #28).
func (r *Reconciler) updateRevision(ctx context.Context, istio *v1.Istio, existing, want *v1.IstioRevision) (*v1.IstioRevision, error) {
	rev := existing.DeepCopy()
	rev.Spec = want.Spec
	if metav1.GetControllerOf(rev) == nil {
		if err := controllerutil.SetControllerReference(istio, rev, r.Client.Scheme()); err != nil {
			return nil, err
		}
	}
	if equality.Semantic.DeepEqual(rev.Spec, existing.Spec) && equality.Semantic.DeepEqual(rev.OwnerReferences, existing.OwnerReferences) {
		return existing, nil
	}
	if err := r.Client.Update(ctx, rev, client.FieldOwner(apply.FieldManager)); err != nil {
		return nil, fmt.Errorf("updating IstioRevision %s: %w", rev.Name, err)
	}
	what := "values"
	switch {
	case rev.Spec.Version != existing.Spec.Version:
		what = fmt.Sprintf("version %s → %s", existing.Spec.Version, rev.Spec.Version)
	case equality.Semantic.DeepEqual(rev.Spec, existing.Spec):
		what = "took it back as this Istio's revision (it had no owner reference)"
	}
	logr.FromContextOrDiscard(ctx).Info("updated revision", "revision", rev.Name, "change", what)
	r.Recorder.Eventf(istio, rev, corev1.EventTypeNormal, "RevisionUpdated", "Update", "updated IstioRevision %s: %s", rev.Name, what)
	return rev, nil
}

// prune deletes the inactive revisions that Prune allows, and returns the revisions left and when to
// look again for one still within its grace period.
func (r *Reconciler) prune(ctx context.Context, istio *v1.Istio, active string, revs []v1.IstioRevision) ([]v1.IstioRevision, time.Duration, error) {
	if ServesRemoteClusters(istio) {
		return revs, 0, nil
	}
	grace := GracePeriod(istio)
	now := r.Clock.Now()
	var kept []v1.IstioRevision
	var requeue time.Duration
	for _, rev := range revs {
		if rev.Name == active || !rev.DeletionTimestamp.IsZero() {
			kept = append(kept, rev)
			continue
		}
		d := Prune(&rev, grace, now)
		if d.Delete {
			// Look once more, from the cache as it is now: a workload may have come back since the
			// InUse condition was written (while the operator was down, say).
			if c := r.Usage.Evaluate(ctx, &rev); c.Status != metav1.ConditionFalse {
				logr.FromContextOrDiscard(ctx).Info("kept a revision due for deletion: it is in use again, or its use cannot be told", "revision", rev.Name, "inUse", c.Message)
				d = PruneDecision{Why: c.Message}
			}
		}
		if !d.Delete {
			kept = append(kept, rev)
			if d.RecheckAfter > 0 && (requeue == 0 || d.RecheckAfter < requeue) {
				requeue = d.RecheckAfter
			}
			continue
		}
		uid := rev.UID
		if err := r.Client.Delete(ctx, &rev, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return kept, 0, fmt.Errorf("deleting unused IstioRevision %s: %w", rev.Name, err)
		}
		logr.FromContextOrDiscard(ctx).Info("deleted unused revision", "revision", rev.Name, "grace", grace)
		r.Recorder.Eventf(istio, &rev, corev1.EventTypeNormal, "RevisionDeleted", "Delete", "deleted IstioRevision %s: no workload used it for %s", rev.Name, grace)
	}
	return kept, requeue, nil
}

// writeStatus computes the Istio's status and writes it if it changed; it reports whether it wrote.
func (r *Reconciler) writeStatus(ctx context.Context, istio *v1.Istio, active *v1.IstioRevision, revs []v1.IstioRevision, reconcileErr error) (bool, error) {
	if reconcileErr == nil && active.Status.ObservedGeneration == 0 && istio.Status.ObservedGeneration == 0 {
		// A new Istio whose new revision has not reported yet: its status would say only that, and be
		// rewritten a moment later. The revision's first report wakes this controller again.
		return false, nil
	}
	st := istioStatus(istio, active, revs, reconcileErr, metav1.NewTime(r.Clock.Now()))
	return r.Status.Write(ctx, istio, st, equality.Semantic.DeepEqual(st, istio.Status))
}

// istioStatus is the Istio's status: the active revision's conditions and state, or, when the spec
// could not be acted on, Reconciled False with the reason.
func istioStatus(istio *v1.Istio, active *v1.IstioRevision, revs []v1.IstioRevision, reconcileErr error, now metav1.Time) v1.IstioStatus {
	st := v1.IstioStatus{ObservedGeneration: istio.Generation, ActiveRevisionName: istio.Status.ActiveRevisionName, Conditions: istio.Status.Conditions}
	set := func(c metav1.Condition) {
		c.ObservedGeneration = istio.Generation
		st.Conditions = status.Set(st.Conditions, c, now)
	}
	st.Revisions = revisionCounts(revs)
	if reconcileErr != nil {
		reason := v1.ReasonReconcileError
		if r, ok := status.RefusalReason(reconcileErr); ok {
			reason = r
		}
		set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: reason, Message: reconcileErr.Error()})
		set(metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: reason, Message: "readiness cannot be told until the Istio is reconciled"})
		st.Conditions = status.Only(st.Conditions, v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy)
		st.State = reason
		return st
	}
	st.ActiveRevisionName = active.Name
	for _, t := range copiedConditions {
		c := meta.FindStatusCondition(active.Status.Conditions, t)
		switch {
		case active.Status.ObservedGeneration != active.Generation && t == v1.ConditionReady:
			// The revision has not acted on its latest spec yet: whatever it reported is about the
			// spec before, so Ready must not stay True through an update.
			c = &metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: v1.ReasonIstiodNotReady,
				Message: fmt.Sprintf("IstioRevision %s is being updated to Istio %s", active.Name, active.Spec.Version)}
		case c == nil:
			c = &metav1.Condition{Type: t, Status: metav1.ConditionUnknown, Reason: v1.ReasonPending, Message: "IstioRevision " + active.Name + " has not reported yet"}
		}
		set(*c)
	}
	st.Conditions = status.Only(st.Conditions, copiedConditions...)
	st.State = status.State(st.Conditions, copiedConditions...)
	return st
}
