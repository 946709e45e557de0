// Package nodeagent reconciles the node agents, IstioCNI and ZTunnel, with internal/controller's
// Installer: the kind's chart (cni or ztunnel) as internal/desired decides it, applied through
// internal/apply and removed when the resource is deleted; the status says whether the DaemonSet is
// ready. Before anything is applied, desired checks the agent's version against every control plane
// that needs it: a node agent runs its control plane's minor version or one behind, never ahead, so
// that the update order of OpenShift Service Mesh 3 (control plane, then CNI, then ztunnel) is what
// bosun enforces.
package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// Kind is a node agent's kind for controller.Installer: what differs between IstioCNI and ZTunnel.
type Kind[T client.Object] struct {
	// Reader reads the cache: the agent's DaemonSet.
	Reader client.Reader
	kind   string
	// daemonSet is the name of the DaemonSet the kind's chart renders, and controllerName the
	// controller's name, for metrics and logs.
	daemonSet, controllerName string
	new                       func() T
	read                      func(T) spec
	decide                    func(desired.Env, T, *desired.Facts) desired.Plan
}

// spec is what the controller reads of an IstioCNI or a ZTunnel.
type spec struct {
	version, namespace string
	status             Status
}

// Status is the status of an IstioCNI or a ZTunnel, as bosun writes it. IstioRevision is the ZTunnel's
// only; it is empty, and so not written, for an IstioCNI.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration"`
	Conditions         []metav1.Condition `json:"conditions"`
	State              string             `json:"state"`
	IstioRevision      string             `json:"istioRevision,omitempty"`
}

// Conditions are the conditions of a node agent, in the order its state summarises them.
var Conditions = []string{v1.ConditionReconciled, v1.ConditionReady}

// CNI is the IstioCNI: the cni chart's istio-cni-node DaemonSet.
func CNI(reader client.Reader) Kind[*v1.IstioCNI] {
	return Kind[*v1.IstioCNI]{
		Reader: reader, kind: v1.KindIstioCNI, daemonSet: "istio-cni-node", controllerName: "istiocni",
		new: func() *v1.IstioCNI { return &v1.IstioCNI{} },
		read: func(cni *v1.IstioCNI) spec {
			return spec{version: string(cni.Spec.Version), namespace: desired.CNINamespace(cni),
				status: Status{ObservedGeneration: cni.Status.ObservedGeneration, Conditions: cni.Status.Conditions, State: cni.Status.State}}
		},
		decide: desired.Env.ForCNI,
	}
}

// ZTunnel is the ZTunnel (read as sailoperator.io/v1, its storage version, whichever version it was
// written with): the ztunnel chart's ztunnel DaemonSet, with the global values, mesh config and
// revision of the control plane its targetRef resolves to.
func ZTunnel(reader client.Reader) Kind[*v1.ZTunnel] {
	return Kind[*v1.ZTunnel]{
		Reader: reader, kind: v1.KindZTunnel, daemonSet: "ztunnel", controllerName: "ztunnel",
		new: func() *v1.ZTunnel { return &v1.ZTunnel{} },
		read: func(zt *v1.ZTunnel) spec {
			return spec{version: string(zt.Spec.Version), namespace: desired.ZTunnelNamespace(zt),
				status: Status{ObservedGeneration: zt.Status.ObservedGeneration, Conditions: zt.Status.Conditions, State: zt.Status.State, IstioRevision: zt.Status.IstioRevision}}
		},
		decide: desired.Env.ForZTunnel,
	}
}

func (k Kind[T]) Name() string                        { return k.kind }
func (k Kind[T]) Installs() string                    { return k.daemonSet }
func (k Kind[T]) New() T                              { return k.new() }
func (k Kind[T]) Namespaces(obj T) []string           { return []string{k.read(obj).namespace} }
func (k Kind[T]) Conditions(obj T) []metav1.Condition { return k.read(obj).status.Conditions }

// Forget implements controller.Kind: a node agent keeps nothing in memory.
func (k Kind[T]) Forget(T) {}

// Reconciling implements controller.Kind: nothing paces a node agent's reconciles.
func (k Kind[T]) Reconciling(T) {}

func (k Kind[T]) Decide(env desired.Env, obj T, f *desired.Facts) desired.Plan {
	return k.decide(env, obj, f)
}

func (k Kind[T]) Applied(obj T, _ desired.Plan) string {
	s := k.read(obj)
	return fmt.Sprintf("Istio %s in %s", s.version, s.namespace)
}

// Status computes the agent's status: Reconciled, and the revision a ZTunnel's targetRef resolved to
// (kept as it was while the agent is not reconciled), from the outcome; Ready from the DaemonSet, even
// when the spec is refused: the DaemonSet that runs keeps running, and the control planes that count
// on it are still served.
func (k Kind[T]) Status(ctx context.Context, obj T, o controller.Outcome) (any, bool, time.Duration, error) {
	s := k.read(obj)
	c := status.NewConditions(s.status.Conditions, obj.GetGeneration(), o.Now)
	st := Status{ObservedGeneration: obj.GetGeneration(), IstioRevision: s.status.IstioRevision}
	if c.Reconciled(o.Refusal, o.Err, "the chart is applied") {
		st.IstioRevision = ""
		if o.Plan.Target != nil {
			st.IstioRevision = o.Plan.Target.Name
		}
	}
	c.Set(k.readiness(ctx, s, o.Applied))
	st.Conditions = c.Of(Conditions...)
	st.State = status.State(st.Conditions, Conditions...)
	return st, equality.Semantic.DeepEqual(s.status, st), 0, nil
}

var daemonSetGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}

// readiness is the Ready condition from the agent's DaemonSet.
func (k Kind[T]) readiness(ctx context.Context, s spec, applied apply.Result) metav1.Condition {
	ds, err := controller.Workload(ctx, k.Reader, daemonSetGVK, s.namespace, k.daemonSet, applied)
	if err != nil {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed, Message: err.Error()}
	}
	return DaemonSetReady(ds, s.namespace+"/"+k.daemonSet)
}

// Controller registers the controller of one node agent kind.
type Controller[T client.Object] struct {
	Installer *controller.Installer[T]
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
}

// SetupWithManager registers the controller: the agent's kind by generation and deletion, the objects
// it owns for drift and readiness, namespaces coming into existence or going for an agent waiting on
// its own, and IstioRevisions (and, for the ZTunnel's targetRef, Istios) whose spec or readiness
// changes, since the version check and the target depend on them.
func (c *Controller[T]) SetupWithManager(mgr ctrl.Manager) error {
	kind := c.Installer.Kind.(Kind[T])
	singleton := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: v1.SingletonName}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named(kind.controllerName).
		For(kind.New(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(kind.inNamespace), builder.OnlyMetadata, builder.WithPredicates(controller.CreatedOrDeleted{})).
		Watches(&v1.IstioRevision{}, singleton, builder.WithPredicates(controller.RevisionChange{}))
	if kind.kind == v1.KindZTunnel {
		b = b.Watches(&v1.Istio{}, singleton, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	return apply.WatchOwned(b, c.Served).Complete(controller.CountErrors(kind.kind, c.Installer))
}

// inNamespace maps a namespace to the agent when the agent installs into it. An agent that cannot be
// read is mapped anyway: its reconcile reads it again, and retries if that fails too.
func (k Kind[T]) inNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	obj := k.New()
	err := k.Reader.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, obj)
	if client.IgnoreNotFound(err) == nil && (err != nil || k.read(obj).namespace != ns.GetName()) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: v1.SingletonName}}}
}
