package revision

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Needs says which node components a control plane needs.
type Needs struct {
	CNI, ZTunnel bool
}

// DependenciesOf decides what a revision needs from its values: the Istio CNI plugin on OpenShift
// unless pilot.cni.enabled is false, elsewhere when it is true; ztunnel in ambient mode (the ambient
// profile, or PILOT_ENABLE_AMBIENT).
func DependenciesOf(rev *v1.IstioRevision, platform values.Platform) Needs {
	m, err := values.FromObject(rev.Spec.Values)
	if err != nil {
		return Needs{}
	}
	var n Needs
	cni, set := values.Get(m, "pilot", "cni", "enabled")
	enabled, _ := cni.(bool)
	n.CNI = enabled || (platform == values.OpenShift && !set)
	if p, _ := values.Get(m, "profile"); p == "ambient" {
		n.ZTunnel = true
	}
	if e, _ := values.Get(m, "pilot", "env", "PILOT_ENABLE_AMBIENT"); e == "true" {
		n.ZTunnel = true
	}
	return n
}

// dependencies is the DependenciesHealthy condition: each component the revision needs must exist
// (named default) and be Ready. The CNI is checked first, as it must be installed first.
func (r *Reconciler) dependencies(ctx context.Context, rev *v1.IstioRevision) metav1.Condition {
	needs := DependenciesOf(rev, r.Env.Platform)
	check := func(obj client.Object, conditions func() []metav1.Condition, kind, notFound, notHealthy, why string) *metav1.Condition {
		err := r.Client.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, obj)
		switch {
		case apierrors.IsNotFound(err):
			return &metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionFalse, Reason: notFound,
				Message: fmt.Sprintf("this control plane needs %s, and no %s named default exists: create it", why, kind)}
		case err != nil:
			return &metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionUnknown, Reason: v1.ReasonDependencyCheckFailed, Message: err.Error()}
		}
		if !meta.IsStatusConditionTrue(conditions(), v1.ConditionReady) {
			return &metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionFalse, Reason: notHealthy,
				Message: fmt.Sprintf("%s default is not ready", kind)}
		}
		return nil
	}
	if needs.CNI {
		cni := &v1.IstioCNI{}
		if c := check(cni, func() []metav1.Condition { return cni.Status.Conditions }, "IstioCNI", v1.ReasonIstioCNINotFound, v1.ReasonIstioCNINotHealthy, "the Istio CNI plugin"); c != nil {
			return *c
		}
	}
	if needs.ZTunnel {
		zt := &v1.ZTunnel{}
		if c := check(zt, func() []metav1.Condition { return zt.Status.Conditions }, "ZTunnel", v1.ReasonZTunnelNotFound, v1.ReasonZTunnelNotHealthy, "ztunnel (ambient mode)"); c != nil {
			return *c
		}
	}
	return metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionTrue, Reason: v1.ReasonDependenciesHealthy, Message: "every component this control plane needs is ready"}
}
