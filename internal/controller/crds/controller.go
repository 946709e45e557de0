// Package crds keeps Istio's CRDs (VirtualService, DestinationRule, AuthorizationPolicy, …) installed:
// those of the base chart of the newest Istio version any IstioRevision uses (internal/desired,
// ForCRDs), applied with internal/apply's ApplyCRDs, which never deletes a CRD and never replaces
// one with an older version's. The operator runs this controller unless told that another tool owns
// the CRDs (--manage-istio-crds=false, docs/architecture.md#lesson-crds-left-to-another-tool).
//
// All revisions share one set of CRDs, so every revision event maps to one request. The controller
// remembers the newest version it brought the CRDs to; while the newest version in use is not newer,
// a reconcile renders, reads and writes nothing.
package crds

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
)

// crdKind labels this controller's metrics.
const crdKind = "CustomResourceDefinition"

// request is the one request every revision event maps to.
var request = reconcile.Request{NamespacedName: types.NamespacedName{Name: desired.CRDOwner.Name}}

// Reconciler applies Istio's CRDs.
type Reconciler struct {
	Client   client.Client
	Env      desired.Env
	Renderer *render.Renderer
	Applier  *apply.Applier
	Recorder events.EventRecorder

	mu sync.Mutex
	// done is the newest chart version whose CRDs this process has applied (or found newer ones
	// than): a version not newer needs nothing (desired.CRDsUpToDate).
	done string
}

// SetupWithManager registers the controller: IstioRevisions being created, deleted, or changing their
// spec (their version).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("istio-crds").
		Watches(&v1.IstioRevision{}, handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
			return []reconcile.Request{request}
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{}, predicate.Funcs{
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(controller.CountErrors(crdKind, r))
}

// Reconcile brings Istio's CRDs to the newest version in use (desired.ForCRDs). CRDs that do not
// render are not retried: the same chart renders the same way. The revisions of that version get a
// Warning Event saying so.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	facts, err := desired.Read(ctx, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	chart, ok := r.Env.ForCRDs(facts)
	if !ok {
		// No revision: whatever CRDs exist stay, as they would after the last one is deleted.
		return reconcile.Result{}, nil
	}
	r.mu.Lock()
	done := r.Env.CRDsUpToDate(chart.Version, r.done)
	r.mu.Unlock()
	if done {
		return reconcile.Result{}, nil
	}
	rendered, err := r.Renderer.Render(chart)
	metrics.Renders.WithLabelValues(crdKind).Inc()
	if err != nil {
		err = fmt.Errorf("rendering Istio's CRDs of %s: %w", chart.Version, err)
		logr.FromContextOrDiscard(ctx).Error(err, "Istio's CRDs are left as they are")
		r.event(facts, chart.Version, corev1.EventTypeWarning, v1.ReasonReconcileError, err.Error())
		r.mu.Lock()
		r.done = chart.Version
		r.mu.Unlock()
		return reconcile.Result{}, nil
	}
	res, err := r.Applier.ApplyCRDs(ctx, rendered.CRDs)
	apply.CountApplied(crdKind, res.Result)
	if res.Changed() {
		logr.FromContextOrDiscard(ctx).Info("applied Istio's CRDs", "version", chart.Version, "result", res.String())
		r.event(facts, chart.Version, corev1.EventTypeNormal, "AppliedCRDs", fmt.Sprintf("Istio's CRDs of %s: %s", chart.Version, res.String()))
	}
	if len(res.Newer) > 0 {
		logr.FromContextOrDiscard(ctx).Info("kept Istio CRDs of a newer version", "crds", len(res.Newer), "version in use", chart.Version)
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	r.mu.Lock()
	r.done = chart.Version
	r.mu.Unlock()
	return reconcile.Result{}, nil
}

// event records an Event about Istio's CRDs of version on a revision that runs it.
func (r *Reconciler) event(f *desired.Facts, version, eventType, reason, note string) {
	rev := desired.CRDRevisionOf(version, f)
	if rev == nil {
		return
	}
	rev = rev.DeepCopy()
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	r.Recorder.Eventf(rev, nil, eventType, reason, "Apply", "%s", note)
}
