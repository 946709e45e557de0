package revision

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Needs says which node components a control plane needs.
type Needs struct {
	CNI, ZTunnel bool
}

// Without drops the components managed outside bosun (the operator's --external-node-components):
// bosun neither requires them of a control plane nor checks their versions (field lesson #60).
func (n Needs) Without(external Needs) Needs {
	return Needs{CNI: n.CNI && !external.CNI, ZTunnel: n.ZTunnel && !external.ZTunnel}
}

// NeedsCNI picks the CNI out of Needs.
func NeedsCNI(n Needs) bool { return n.CNI }

// NeedsZTunnel picks ztunnel out of Needs.
func NeedsZTunnel(n Needs) bool { return n.ZTunnel }

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

// Dependents are the revisions that need the component which picks, unless it is managed outside
// bosun: the ones an IstioCNI or ZTunnel event concerns, and the ones whose versions the IstioCNI or
// ZTunnel must fit.
func Dependents(revs []*v1.IstioRevision, platform values.Platform, external Needs, which func(Needs) bool) []*v1.IstioRevision {
	var out []*v1.IstioRevision
	for _, rev := range revs {
		if which(DependenciesOf(rev, platform).Without(external)) {
			out = append(out, rev)
		}
	}
	return out
}

// revisionsNeeding maps an event of a node component to the revisions that need it.
func (r *Reconciler) revisionsNeeding(which func(Needs) bool) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		revs, err := desired.Cluster{Reader: r.Client}.Revisions(ctx)
		if err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisions to map an event")
			return nil
		}
		var out []reconcile.Request
		for _, rev := range Dependents(revs, r.Env.Platform, r.External, which) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rev)})
		}
		return out
	}
}

// dependencies is the DependenciesHealthy condition: each component the revision needs must exist
// (named default), run a version that fits the revision's (its minor or one behind) and be Ready. The
// CNI is checked first, as it must be installed first. Components managed outside bosun are not
// checked.
func (r *Reconciler) dependencies(ctx context.Context, rev *v1.IstioRevision) metav1.Condition {
	needs := DependenciesOf(rev, r.Env.Platform).Without(r.External)
	type component struct {
		kind, why                    string
		notFound, skewed, notHealthy string
	}
	check := func(obj client.Object, version func() string, conditions func() []metav1.Condition, c component) *metav1.Condition {
		cond := func(status metav1.ConditionStatus, reason, msg string) *metav1.Condition {
			return &metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: status, Reason: reason, Message: msg}
		}
		err := r.Client.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, obj)
		switch {
		case apierrors.IsNotFound(err):
			return cond(metav1.ConditionFalse, c.notFound, fmt.Sprintf("this control plane needs %s, and no %s named default exists: create it", c.why, c.kind))
		case err != nil:
			return cond(metav1.ConditionUnknown, v1.ReasonDependencyCheckFailed, err.Error())
		}
		// A revision on its way out does not hold the node components back (desired.Retiring).
		if !r.Env.Retiring(ctx, desired.Cluster{Reader: r.Client}, rev) {
			if err := r.Env.SkewWith(c.kind+" default", version(), []*v1.IstioRevision{rev}); err != nil {
				var skew *desired.SkewError
				if errors.As(err, &skew) {
					return cond(metav1.ConditionFalse, c.skewed, err.Error())
				}
				return cond(metav1.ConditionFalse, c.notHealthy, fmt.Sprintf("%s default: %v", c.kind, err))
			}
		}
		if !meta.IsStatusConditionTrue(conditions(), v1.ConditionReady) {
			return cond(metav1.ConditionFalse, c.notHealthy, fmt.Sprintf("%s default is not ready", c.kind))
		}
		return nil
	}
	if needs.CNI {
		cni := &v1.IstioCNI{}
		if c := check(cni, func() string { return string(cni.Spec.Version) }, func() []metav1.Condition { return cni.Status.Conditions },
			component{"IstioCNI", "the Istio CNI plugin", v1.ReasonIstioCNINotFound, v1.ReasonIstioCNIVersionSkew, v1.ReasonIstioCNINotHealthy}); c != nil {
			return *c
		}
	}
	if needs.ZTunnel {
		zt := &v1.ZTunnel{}
		if c := check(zt, func() string { return string(zt.Spec.Version) }, func() []metav1.Condition { return zt.Status.Conditions },
			component{"ZTunnel", "ztunnel (ambient mode)", v1.ReasonZTunnelNotFound, v1.ReasonZTunnelVersionSkew, v1.ReasonZTunnelNotHealthy}); c != nil {
			return *c
		}
	}
	return metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionTrue, Reason: v1.ReasonDependenciesHealthy, Message: "every component this control plane needs is ready"}
}
