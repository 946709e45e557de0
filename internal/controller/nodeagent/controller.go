// Package nodeagent reconciles the node agents, IstioCNI and ZTunnel: one Reconciler, given an Agent
// that says what differs between the two, renders the kind's chart (cni or ztunnel), applies it
// through internal/apply, removes it when the resource is deleted, and reports whether the DaemonSet
// is ready. Before it applies anything it checks the agent's version against every control plane
// that needs it: a node agent runs its control plane's minor version or one behind, never ahead, so
// that the update order of OpenShift Service Mesh 3 (control plane, then CNI, then ztunnel) is what
// bosun enforces.
package nodeagent

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	"github.com/bosun-mesh/bosun/internal/controller/revision"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Reconciler reconciles the node agent of one kind.
type Reconciler struct {
	Agent    Agent
	Client   client.Client
	Env      desired.Env
	Charts   *render.Cache
	Applier  *apply.Applier
	Recorder events.EventRecorder
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
	// Status writes the status (field manager bosun).
	Status *status.Writer
	Clock  clock.PassiveClock
	// External are the node agents managed outside bosun (--external-node-components): their versions
	// are not checked against the control planes, which do not count on them.
	External revision.Needs
}

// ownedConditions are the conditions of a node agent, in the order state summarises them.
var ownedConditions = []string{v1.ConditionReconciled, v1.ConditionReady}

// SetupWithManager registers the controller: the agent's kind by generation and deletion, the objects
// it owns for drift and readiness, namespaces coming into existence or going for an agent waiting on
// its own, and IstioRevisions (and, for the ZTunnel's targetRef, Istios) whose spec changes, since
// the version check and the target depend on them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	createDelete := predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	singleton := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: v1.SingletonName}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named(r.Agent.Name).
		For(r.Agent.New(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.inNamespace), builder.OnlyMetadata, builder.WithPredicates(createDelete)).
		Watches(&v1.IstioRevision{}, singleton, builder.WithPredicates(controller.RevisionChange{}))
	if r.Agent.Kind == v1.KindZTunnel {
		b = b.Watches(&v1.Istio{}, singleton, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	return apply.WatchOwned(b, r.Served).Complete(controller.CountErrors(r.Agent.Kind, r))
}

// inNamespace maps a namespace to the agent when the agent installs into it.
func (r *Reconciler) inNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	obj := r.Agent.New()
	if err := r.Client.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, obj); err != nil {
		return nil
	}
	if r.Agent.Read(obj).Namespace != ns.GetName() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: v1.SingletonName}}}
}

// installer is what the controller installs with.
func (r *Reconciler) installer() controller.Installer {
	return controller.Installer{Client: r.Client, Applier: r.Applier, Charts: r.Charts, Status: r.Status, Recorder: r.Recorder}
}

// Reconcile reads the agent, applies its chart or, when it is being deleted, removes it, and writes
// its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.Agent.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(v1.GroupVersion.WithKind(r.Agent.Kind))
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, r.installer().Finalize(ctx, obj, r.Agent.DaemonSet)
	}
	if err := controller.EnsureFinalizer(ctx, r.Client, obj); err != nil {
		return ctrl.Result{}, err
	}
	spec := r.Agent.Read(obj)
	st := newStatus(obj.GetGeneration(), spec.Status, metav1.NewTime(r.Clock.Now()))
	applied, target, applyErr := r.applyChart(ctx, obj, spec)
	st.reconciled(applyErr, target)
	// Readiness is told even when the spec is refused: the DaemonSet that runs keeps running, and the
	// control planes that count on it are still served.
	st.ready(r.readiness(ctx, spec, applied))
	wrote, err := r.Status.Write(ctx, obj, st.result(), st.unchanged())
	if err != nil {
		return ctrl.Result{}, errors.Join(applyErr, err)
	}
	if reason, refused := status.RefusalReason(applyErr); refused {
		// One Warning per refusal, when the status first says so, not one per reconcile.
		if wrote {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", applyErr.Error())
		}
		return ctrl.Result{}, reconcile.TerminalError(applyErr)
	}
	return ctrl.Result{}, applyErr
}

// applyChart checks the agent's namespace and version, renders its chart (or takes it from the render
// cache when the inputs did not change) and applies it. It returns the revision a ZTunnel's targetRef
// resolved to, and a status.Refusal when the agent cannot be installed as written: a namespace that
// does not exist, a version too far from a control plane's, a version or profile bosun cannot
// render, a targetRef that names nothing. A refusal applies and changes nothing.
func (r *Reconciler) applyChart(ctx context.Context, obj client.Object, spec Spec) (apply.Result, string, error) {
	if err := r.namespaceExists(ctx, spec.Namespace); err != nil {
		return apply.Result{}, "", err
	}
	lookup := desired.Cluster{Reader: r.Client}
	reqs, target, err := r.Agent.Charts(ctx, r.Env, lookup, obj)
	if err != nil {
		return apply.Result{}, "", err
	}
	if err := r.checkVersion(ctx, lookup, spec); err != nil {
		return apply.Result{}, target, err
	}
	objs, err := r.Charts.Render(obj.GetUID(), reqs)
	if err != nil {
		return apply.Result{}, target, status.Refuse(v1.ReasonReconcileError, err)
	}
	res, err := r.Applier.Apply(ctx, apply.Component{Owner: obj, Objects: objs})
	var notOurs *apply.NotOursError
	if errors.As(err, &notOurs) {
		err = status.Refuse(v1.ReasonReconcileError, err)
	}
	if res.Changed() {
		logr.FromContextOrDiscard(ctx).Info("applied "+r.Agent.DaemonSet, "version", spec.Version, "namespace", spec.Namespace, "result", res.String())
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Applied", "Apply", "Istio %s in %s: %s", spec.Version, spec.Namespace, res.String())
	}
	apply.CountApplied(r.Agent.Kind, res)
	return res, target, err
}

// checkVersion refuses a version that is not the minor version, or one behind, of every control plane
// that needs this agent (revision.Dependents).
func (r *Reconciler) checkVersion(ctx context.Context, lookup desired.Lookup, spec Spec) error {
	revs, err := lookup.Revisions(ctx)
	if err != nil {
		return fmt.Errorf("%w: IstioRevisions: %w", desired.ErrLookup, err)
	}
	var current []*v1.IstioRevision
	for _, rev := range revs {
		if !r.Env.Retiring(ctx, lookup, rev) {
			current = append(current, rev)
		}
	}
	dependents := revision.Dependents(current, r.Env.Platform, r.External, r.Agent.Needs)
	if err := r.Env.SkewWith(r.Agent.Kind+" "+v1.SingletonName, spec.Version, dependents); err != nil {
		return refuseInput(err)
	}
	return nil
}

// namespaceExists returns a refusal when the agent's namespace does not exist or is being deleted.
// The controller waits for the namespace's creation event instead of retrying.
func (r *Reconciler) namespaceExists(ctx context.Context, name string) error {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case apierrors.IsNotFound(err):
		return status.Refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s does not exist: create it (kubectl create namespace %s); bosun installs %s as soon as it exists", name, name, r.Agent.DaemonSet))
	case err != nil:
		return err
	case !ns.DeletionTimestamp.IsZero():
		return status.Refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s is being deleted: wait for it to be gone and create it again", name))
	}
	return nil
}

// readiness reads the DaemonSet: as the API server answered the apply when this reconcile wrote it
// (the cache still holds the version before the write, which would say a new template is ready
// before its rollout began), else from the cache of owned objects.
func (r *Reconciler) readiness(ctx context.Context, spec Spec, applied apply.Result) metav1.Condition {
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	name := spec.Namespace + "/" + r.Agent.DaemonSet
	if sent, ok := applied.Sent[apply.Ref{GVK: gvk, Namespace: spec.Namespace, Name: r.Agent.DaemonSet}]; ok {
		return DaemonSetReady(sent, name)
	}
	ds := &unstructured.Unstructured{}
	ds.SetGroupVersionKind(gvk)
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: spec.Namespace, Name: r.Agent.DaemonSet}, ds)
	switch {
	case apierrors.IsNotFound(err):
		return DaemonSetReady(nil, name)
	case err != nil:
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed, Message: err.Error()}
	}
	return DaemonSetReady(ds, name)
}

// agentStatus is the status the controller computes for one reconcile.
type agentStatus struct {
	old, new Status
	now      metav1.Time
}

func newStatus(generation int64, old Status, now metav1.Time) *agentStatus {
	st := &agentStatus{old: old, now: now}
	st.new.ObservedGeneration = generation
	// Start from the current conditions, so that transition times carry over.
	st.new.Conditions = old.Conditions
	st.new.IstioRevision = old.IstioRevision
	return st
}

func (s *agentStatus) set(c metav1.Condition) {
	c.ObservedGeneration = s.new.ObservedGeneration
	s.new.Conditions = status.Set(s.new.Conditions, c, s.now)
}

// reconciled sets Reconciled from the outcome of applying the chart, and the revision the targetRef
// resolved to (kept as it was when the chart could not be applied).
func (s *agentStatus) reconciled(err error, target string) {
	if err == nil {
		s.new.IstioRevision = target
		s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: "the chart is applied"})
		return
	}
	reason := v1.ReasonReconcileError
	if r, ok := status.RefusalReason(err); ok {
		reason = r
	}
	s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: reason, Message: err.Error()})
}

func (s *agentStatus) ready(c metav1.Condition) { s.set(c) }

// result is the status as written: the conditions this controller owns, and state.
func (s *agentStatus) result() Status {
	out := s.new
	out.Conditions = status.Only(s.new.Conditions, ownedConditions...)
	out.State = status.State(out.Conditions, ownedConditions...)
	return out
}

// unchanged reports whether the status is already what the controller computed.
func (s *agentStatus) unchanged() bool {
	return equality.Semantic.DeepEqual(s.old, s.result())
}
