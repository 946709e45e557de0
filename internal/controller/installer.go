// Package controller holds the loop every controller of a resource that installs something
// (IstioRevision, IstioRevisionTag, IstioCNI, ZTunnel) runs: Installer reads the facts, has
// internal/desired decide, renders and applies the plan, reads readiness and writes the status once;
// the Events, metrics and finalizer are the same for every kind. What differs between kinds is a Kind,
// in the packages below, which add their watches. The Istio controller, which installs nothing itself,
// shares the refusal reporting and the usage pacing.
package controller

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Kind is what the Installer needs to know of the kind it reconciles.
type Kind[T client.Object] interface {
	// Name is the API kind: IstioRevision, IstioRevisionTag, IstioCNI or ZTunnel.
	Name() string
	// Installs names what the kind installs, for logs ("istiod", "revision tag", "ztunnel").
	Installs() string
	// New returns an empty object of the kind.
	New() T
	// Namespaces are the namespaces the decision needs to know exist.
	Namespaces(obj T) []string
	// Decide is the kind's decision: internal/desired's For<Kind>.
	Decide(env desired.Env, obj T, f *desired.Facts) desired.Plan
	// Conditions are the object's conditions as read.
	Conditions(obj T) []metav1.Condition
	// Status computes the object's whole status from the outcome of the reconcile, with whether obj
	// already holds it, and how long until the status must be computed again (zero: not before an
	// event). It may read the cache (readiness, usage); an error is a failure to read, retried.
	Status(ctx context.Context, obj T, o Outcome) (st any, unchanged bool, recheck time.Duration, err error)
	// Applied describes, for the Event of an apply that changed something, what was applied for obj
	// ("Istio v1.27.0", "IstioRevision default-v1-27-0").
	Applied(obj T, plan desired.Plan) string
	// Reconciling is told that a reconcile of obj starts, before anything is read.
	Reconciling(obj T)
	// Forget drops what the kind kept in memory of an object that is gone.
	Forget(obj T)
}

// Outcome is what one reconcile found and did, for the status.
type Outcome struct {
	Facts *desired.Facts
	Plan  desired.Plan
	// Refusal is the plan's refusal, or one found while rendering or applying: a chart that does not
	// render, an object that belongs to another installer. Nothing was applied then.
	Refusal *desired.Refusal
	// Err is a failure to apply, which is retried.
	Err error
	// Applied says what the apply did; Sent holds the objects written, as the API server answered.
	Applied apply.Result
	// Now is the reconcile's time.
	Now metav1.Time
}

// Reconciled reports whether the plan was applied: nothing refused it and the apply succeeded.
func (o Outcome) Reconciled() bool { return o.Refusal == nil && o.Err == nil }

// Installer reconciles the resources of one Kind: read the facts, decide, render and apply, write the
// status once. A refusal is a condition, a Warning Event and bosun_refusals_total when it first
// appears, never an error; a failure to read or apply is an error, retried with backoff.
type Installer[T client.Object] struct {
	Kind     Kind[T]
	Client   client.Client
	Env      desired.Env
	Charts   *render.Cache
	Applier  *apply.Applier
	Recorder events.EventRecorder
	Status   *status.Writer
	Clock    clock.PassiveClock
}

// Reconcile reads an object, applies its plan or, when it is being deleted, removes what it installed,
// and writes its status once.
func (in *Installer[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	phases := metrics.StartPhases(in.Kind.Name())
	obj := in.Kind.New()
	if err := in.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(v1.GroupVersion.WithKind(in.Kind.Name()))
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, in.finalize(ctx, obj)
	}
	if err := EnsureFinalizer(ctx, in.Client, obj); err != nil {
		// Deleted since the cache showed it: a reconcile that finds the object gone is done
		// (docs/architecture.md#lesson-gone-is-not-an-error).
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	in.Kind.Reconciling(obj)
	facts, err := desired.Read(ctx, in.Client, in.Kind.Namespaces(obj)...)
	if err != nil {
		return ctrl.Result{}, err
	}
	phases.Done("read")
	out := Outcome{Facts: facts, Now: metav1.NewTime(in.Clock.Now())}
	out.Plan = in.Kind.Decide(in.Env, obj, facts)
	out.Refusal = out.Plan.Refusal
	phases.Done("decide")
	if out.Refusal == nil {
		out.Applied, out.Refusal, out.Err = in.apply(ctx, obj, out.Plan, phases)
	}
	st, unchanged, recheck, err := in.Kind.Status(ctx, obj, out)
	if err != nil {
		return ctrl.Result{}, errors.Join(out.Err, err)
	}
	wrote, err := in.Status.Write(ctx, obj, st, unchanged)
	if err != nil {
		return ctrl.Result{}, errors.Join(out.Err, err)
	}
	phases.Done("status")
	ReportRefusal(in.Recorder, obj, in.Kind.Name(), in.Kind.Conditions(obj), out.Refusal, wrote)
	if out.Refusal != nil && out.Refusal.Recheck && (recheck == 0 || recheck > RecheckInterval) {
		recheck = RecheckInterval
	}
	if out.Err != nil {
		// The error is retried with backoff, which a RequeueAfter would be ignored beside.
		return ctrl.Result{}, out.Err
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// RecheckInterval is how often a resource refused for something bosun does not watch is looked at
// again (desired.Refusal.Recheck): an object of another installer, say, which the user may delete.
const RecheckInterval = 30 * time.Second

// apply renders the plan's charts (or takes them from the render cache when the inputs did not change)
// and applies them. A chart that does not render, or an object another installer owns, refuses the
// plan: retrying cannot help.
func (in *Installer[T]) apply(ctx context.Context, obj T, plan desired.Plan, phases *metrics.Phases) (apply.Result, *desired.Refusal, error) {
	objs, err := in.Charts.Render(obj.GetUID(), plan.Charts)
	phases.Done("render")
	if err != nil {
		return apply.Result{}, &desired.Refusal{Reason: v1.ReasonReconcileError, Err: err}, nil
	}
	res, err := in.Applier.Apply(ctx, apply.Component{Owner: obj, Objects: objs})
	phases.Done("apply")
	if res.Changed() {
		what := in.Kind.Applied(obj, plan)
		logr.FromContextOrDiscard(ctx).Info("applied "+in.Kind.Installs(), "for", what, "result", res.String())
		in.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Applied", "Apply", "%s: %s", what, res.String())
	}
	apply.CountApplied(in.Kind.Name(), res)
	if notOurs, ok := errors.AsType[*apply.NotOursError](err); ok {
		return res, &desired.Refusal{Reason: v1.ReasonReconcileError, Err: notOurs, Recheck: true}, nil
	}
	return res, nil, err
}

// finalize removes everything the object's inventory holds, forgets what the controller remembered of
// it, records what it removed, and then removes the finalizer.
func (in *Installer[T]) finalize(ctx context.Context, obj T) error {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	// What was deleted is recorded even when a later delete failed: the retry will not see it again.
	deleted, err := in.Applier.Delete(ctx, obj)
	apply.CountRemoved(in.Kind.Name(), deleted)
	if len(deleted) > 0 {
		logr.FromContextOrDiscard(ctx).Info("removed "+in.Kind.Installs(), "objects", len(deleted))
		in.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Removed", "Delete", "removed %d objects", len(deleted))
	}
	if err != nil {
		return err
	}
	in.Charts.Forget(obj.GetUID())
	in.Status.Forget(obj.GetUID())
	in.Kind.Forget(obj)
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(obj, Finalizer)
	// A reconcile queued before the cache saw the object go finds it here once more, with the
	// finalizer this one already removed: the object is gone, which is what was asked.
	return client.IgnoreNotFound(in.Client.Patch(ctx, obj, patch))
}

// ReportRefusal records a refusal when it first appears: a Warning Event with the refusal's reason
// and message, and bosun_refusals_total. It appears when the status that says so was written and the
// Reconciled condition the object had before (old) did not say it already. A resource that waits for
// something bosun makes itself is not refused.
func ReportRefusal(recorder events.EventRecorder, obj runtime.Object, kind string, old []metav1.Condition, refusal *desired.Refusal, wrote bool) {
	if refusal == nil || refusal.Waiting || !wrote {
		return
	}
	if c := meta.FindStatusCondition(old, v1.ConditionReconciled); c != nil && c.Status == metav1.ConditionFalse &&
		c.Reason == refusal.Reason && c.Message == refusal.Error() {
		return
	}
	metrics.Refusals.WithLabelValues(kind, refusal.Reason).Inc()
	recorder.Eventf(obj, nil, corev1.EventTypeWarning, refusal.Reason, "Reconcile", "%s", refusal.Error())
}
