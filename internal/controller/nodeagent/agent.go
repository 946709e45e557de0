package nodeagent

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller/revision"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Agent is what differs between the two node agents; everything else (applying, readiness, the
// version check, status, events) is the Reconciler's, shared.
type Agent struct {
	// Kind is the API kind, IstioCNI or ZTunnel; DaemonSet the name of the DaemonSet its chart renders.
	Kind, DaemonSet string
	// Name is the controller's name, for metrics and logs.
	Name string
	// New returns an empty object of the kind.
	New func() client.Object
	// Read returns what the Reconciler needs of an object of the kind.
	Read func(client.Object) Spec
	// Charts decides the charts to apply, and the IstioRevision a targetRef resolved to (empty when
	// there is none).
	Charts func(ctx context.Context, env desired.Env, l desired.Lookup, obj client.Object) ([]render.Request, string, error)
	// Needs picks this agent out of what a control plane needs.
	Needs func(revision.Needs) bool
}

// Spec is what the Reconciler reads of an IstioCNI or a ZTunnel.
type Spec struct {
	Version, Namespace string
	Status             Status
}

// Status is the status of an IstioCNI or a ZTunnel, as bosun writes it. IstioRevision is the ZTunnel's
// only; it is empty, and so not written, for an IstioCNI.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration"`
	Conditions         []metav1.Condition `json:"conditions"`
	State              string             `json:"state"`
	IstioRevision      string             `json:"istioRevision,omitempty"`
}

// CNI is the IstioCNI: the cni chart's istio-cni-node DaemonSet.
var CNI = Agent{
	Kind: v1.KindIstioCNI, DaemonSet: "istio-cni-node", Name: "istiocni",
	New: func() client.Object { return &v1.IstioCNI{} },
	Read: func(obj client.Object) Spec {
		cni := obj.(*v1.IstioCNI)
		return Spec{Version: string(cni.Spec.Version), Namespace: desired.CNINamespace(cni),
			Status: Status{ObservedGeneration: cni.Status.ObservedGeneration, Conditions: cni.Status.Conditions, State: cni.Status.State}}
	},
	Charts: func(_ context.Context, env desired.Env, _ desired.Lookup, obj client.Object) ([]render.Request, string, error) {
		reqs, err := env.CNICharts(obj.(*v1.IstioCNI))
		return reqs, "", refuseInput(err)
	},
	Needs: revision.NeedsCNI,
}

// ZTunnel is the ZTunnel (read as sailoperator.io/v1, its storage version, whichever version it was
// written with): the ztunnel chart's ztunnel DaemonSet, with the global values, mesh config and
// revision of the control plane its targetRef names.
var ZTunnel = Agent{
	Kind: v1.KindZTunnel, DaemonSet: "ztunnel", Name: "ztunnel",
	New: func() client.Object { return &v1.ZTunnel{} },
	Read: func(obj client.Object) Spec {
		zt := obj.(*v1.ZTunnel)
		return Spec{Version: string(zt.Spec.Version), Namespace: desired.ZTunnelNamespace(zt),
			Status: Status{ObservedGeneration: zt.Status.ObservedGeneration, Conditions: zt.Status.Conditions, State: zt.Status.State, IstioRevision: zt.Status.IstioRevision}}
	},
	Charts: func(ctx context.Context, env desired.Env, l desired.Lookup, obj client.Object) ([]render.Request, string, error) {
		zt := obj.(*v1.ZTunnel)
		var target *v1.IstioRevision
		if zt.Spec.TargetRef != nil {
			var err error
			if target, err = ztunnelTarget(ctx, env, l, zt); err != nil {
				return nil, "", err
			}
		}
		reqs, err := env.ZTunnelCharts(zt, target)
		if err != nil {
			return nil, "", refuseInput(err)
		}
		if target == nil {
			return reqs, "", nil
		}
		return reqs, target.Name, nil
	},
	Needs: revision.NeedsZTunnel,
}

// ztunnelTarget is the revision ztunnel follows: where its targetRef points, once that revision's istiod
// is ready. During a RevisionBased update of the Istio it names, ztunnel stays with the revision it
// follows (its status) while the new revision is being created and until the new istiod is ready
// (desired.Choose), as a tag's webhook does: ztunnel's certificates and configuration come from that
// istiod. A target that does not exist at all is refused; the Istio and IstioRevision watches bring
// the ZTunnel back when it appears.
func ztunnelTarget(ctx context.Context, env desired.Env, l desired.Lookup, zt *v1.ZTunnel) (*v1.IstioRevision, error) {
	var current *v1.IstioRevision
	if name := zt.Status.IstioRevision; name != "" {
		rev, err := l.Revision(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("%w: IstioRevision %s: %w", desired.ErrLookup, name, err)
		}
		current = rev
	}
	want, err := env.Target(ctx, l, *zt.Spec.TargetRef)
	switch {
	case errors.Is(err, desired.ErrTargetNotFound) && current != nil && zt.Spec.TargetRef.Kind == v1.KindIstio:
		if istio, lerr := l.Istio(ctx, zt.Spec.TargetRef.Name); lerr == nil && istio != nil {
			// The Istio is there; its new revision is not yet.
			return current, nil
		}
		return nil, status.Refuse(v1.ReasonRefNotFound, err)
	case errors.Is(err, desired.ErrTargetNotFound):
		return nil, status.Refuse(v1.ReasonRefNotFound, err)
	case err != nil:
		return nil, err
	}
	return desired.Choose(want, current).Revision, nil
}

// refuseInput turns an error deciding the charts (an unknown version, a profile the version lacks, a
// version too far from the target's) into a refusal: the spec must change.
func refuseInput(err error) error {
	if err == nil {
		return nil
	}
	var skew *desired.SkewError
	if errors.As(err, &skew) {
		return status.Refuse(v1.ReasonVersionSkew, err)
	}
	return status.Refuse(v1.ReasonReconcileError, err)
}
