// Package revision reconciles IstioRevisions: it renders a revision's charts (istiod, and base for the
// revision named default), applies them through internal/apply, removes them when the revision is
// deleted, and reports whether istiod is ready and whether the control plane's dependencies are there.
// Whether workloads use the revision (the InUse condition) is kept by UsageReconciler, beside it,
// because pod and namespace events must update it without rendering or applying anything.
package revision

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
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
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Reconciler reconciles IstioRevisions.
type Reconciler struct {
	Client   client.Client
	Env      desired.Env
	Charts   *render.Cache
	Applier  *apply.Applier
	Recorder events.EventRecorder
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
	// Status writes the revisions' Reconciled, Ready and DependenciesHealthy (field manager bosun).
	Status *status.Writer
	Clock  clock.PassiveClock
	// External are the node components managed outside bosun (--external-node-components): no
	// revision requires them, so DependenciesHealthy does not check them (field lesson #60).
	External Needs
}

// SetupWithManager registers the controller: IstioRevisions by generation and deletion, the objects
// they own for drift and readiness, and namespaces coming into existence for revisions waiting on
// theirs.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("istiorevision").
		For(&v1.IstioRevision{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.revisionsInNamespace),
			builder.OnlyMetadata, builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return true },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			}))
	// A tag that held a revision's name and goes lets the revision of that name in (§2.2 step 2).
	b = b.Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(sameName), builder.WithPredicates(predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}))
	// The node components a control plane may need: a change of one re-checks the dependencies of
	// the revisions that need it, and of no other.
	b = b.Watches(&v1.IstioCNI{}, handler.EnqueueRequestsFromMapFunc(r.revisionsNeeding(NeedsCNI))).
		Watches(&v1.ZTunnel{}, handler.EnqueueRequestsFromMapFunc(r.revisionsNeeding(NeedsZTunnel)))
	return apply.WatchOwned(b, r.Served).Complete(controller.CountErrors(v1.KindIstioRevision, r))
}

// sameName maps an object to the revision of the same name.
func sameName(_ context.Context, obj client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: obj.GetName()}}}
}

// revisionsInNamespace maps a namespace to the revisions that run istiod in it.
func (r *Reconciler) revisionsInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	return r.revisionsWhere(ctx, func(rev *v1.IstioRevision) bool { return rev.Spec.Namespace == ns.GetName() })
}

// revisionsWhere lists the revisions that match.
func (r *Reconciler) revisionsWhere(ctx context.Context, match func(*v1.IstioRevision) bool) []reconcile.Request {
	var list v1.IstioRevisionList
	if err := r.Client.List(ctx, &list); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisions to map an event")
		return nil
	}
	var out []reconcile.Request
	for _, rev := range list.Items {
		if match(&rev) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rev)})
		}
	}
	return out
}

// installer is what the controller installs with.
func (r *Reconciler) installer() controller.Installer {
	return controller.Installer{Client: r.Client, Applier: r.Applier, Charts: r.Charts, Status: r.Status, Recorder: r.Recorder}
}

// Reconcile reads a revision, applies its charts or, when it is being deleted, removes them, and writes
// its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rev := &v1.IstioRevision{}
	if err := r.Client.Get(ctx, req.NamespacedName, rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	if !rev.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.installer().Finalize(ctx, rev, "istiod")
	}
	if err := controller.EnsureFinalizer(ctx, r.Client, rev); err != nil {
		return ctrl.Result{}, err
	}
	st := newStatus(rev, metav1.NewTime(r.Clock.Now()))
	applied, applyErr := r.applyCharts(ctx, rev)
	st.reconciled(applyErr)
	if applyErr == nil {
		st.ready(r.readiness(ctx, rev, applied))
		st.dependencies(r.dependencies(ctx, rev))
	}
	if err := r.writeStatus(ctx, rev, st); err != nil {
		return ctrl.Result{}, errors.Join(applyErr, err)
	}
	if reason, refused := status.RefusalReason(applyErr); refused {
		r.Recorder.Eventf(rev, nil, corev1.EventTypeWarning, reason, "Reconcile", applyErr.Error())
		return ctrl.Result{}, reconcile.TerminalError(applyErr)
	}
	return ctrl.Result{}, applyErr
}

// applyCharts renders the revision's charts (or takes them from the render cache when the inputs did
// not change) and applies them. It returns a status.Refusal when the revision cannot be
// installed as written: an older IstioRevisionTag holds its name, a namespace that does not exist, a
// version or profile bosun cannot render. Nothing is applied then.
func (r *Reconciler) applyCharts(ctx context.Context, rev *v1.IstioRevision) (apply.Result, error) {
	if err := r.Env.CheckRevisionName(ctx, desired.Cluster{Reader: r.Client}, rev); err != nil {
		if errors.Is(err, desired.ErrLookup) {
			return apply.Result{}, err
		}
		return apply.Result{}, status.Refuse(v1.ReasonNameAlreadyExists, err)
	}
	if err := r.namespaceExists(ctx, rev.Spec.Namespace); err != nil {
		return apply.Result{}, err
	}
	reqs, err := r.Env.RevisionCharts(rev)
	if err != nil {
		return apply.Result{}, status.Refuse(v1.ReasonReconcileError, err)
	}
	objs, err := r.Charts.Render(rev.UID, reqs)
	if err != nil {
		return apply.Result{}, status.Refuse(v1.ReasonReconcileError, err)
	}
	res, err := r.Applier.Apply(ctx, apply.Component{Owner: rev, Objects: objs})
	var notOurs *apply.NotOursError
	if errors.As(err, &notOurs) {
		err = status.Refuse(v1.ReasonReconcileError, err)
	}
	if res.Changed() {
		logr.FromContextOrDiscard(ctx).Info("applied istiod", "version", rev.Spec.Version, "result", res.String())
		r.Recorder.Eventf(rev, nil, corev1.EventTypeNormal, "Applied", "Apply", "Istio %s: %s", rev.Spec.Version, res.String())
	}
	apply.CountApplied(v1.KindIstioRevision, res)
	return res, err
}

// namespaceExists returns a user error when the revision's namespace does not exist or is being
// deleted. The controller waits for the namespace's creation event instead of retrying.
func (r *Reconciler) namespaceExists(ctx context.Context, name string) error {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case apierrors.IsNotFound(err):
		return status.Refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s does not exist: create it (kubectl create namespace %s); bosun installs istiod as soon as it exists", name, name))
	case err != nil:
		return err
	case !ns.DeletionTimestamp.IsZero():
		return status.Refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s is being deleted: wait for it to be gone and create it again", name))
	}
	return nil
}

// readiness reads the istiod Deployment: as the API server answered the apply when this reconcile
// wrote it (the cache still holds the version before the write, which would say a new template is
// ready before its rollout began), else from the cache of owned objects.
func (r *Reconciler) readiness(ctx context.Context, rev *v1.IstioRevision, applied apply.Result) metav1.Condition {
	if IsRemote(rev) {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1.ReasonRemoteIstiodNotReady,
			Message: "this revision's istiod runs in another cluster, and bosun does not probe remote control planes yet"}
	}
	deployGVK := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	if sent, ok := applied.Sent[apply.Ref{GVK: deployGVK, Namespace: rev.Spec.Namespace, Name: IstiodName(rev)}]; ok {
		return istiodReady(rev, sent)
	}
	deploy := &unstructured.Unstructured{}
	deploy.SetGroupVersionKind(deployGVK)
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: rev.Spec.Namespace, Name: IstiodName(rev)}, deploy)
	switch {
	case apierrors.IsNotFound(err):
		return istiodReady(rev, nil)
	case err != nil:
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed, Message: err.Error()}
	}
	return istiodReady(rev, deploy)
}

// writeStatus writes the status if it changed, with server-side apply under bosun's field manager:
// the InUse condition belongs to UsageReconciler's field manager and is left alone.
func (r *Reconciler) writeStatus(ctx context.Context, rev *v1.IstioRevision, st *revisionStatus) error {
	_, err := r.Status.Write(ctx, rev, st.result(), st.unchanged())
	return err
}

// IsRemote reports whether a revision's istiod runs in another cluster: the remote profile, or the
// istiodRemote values enabled.
func IsRemote(rev *v1.IstioRevision) bool {
	vals := rev.Spec.Values
	if vals == nil {
		return false
	}
	if vals.Profile != nil && *vals.Profile == "remote" {
		return true
	}
	return vals.IstiodRemote != nil && vals.IstiodRemote.Enabled != nil && *vals.IstiodRemote.Enabled
}

func isRefusal(err error) bool {
	_, ok := status.RefusalReason(err)
	return ok
}
