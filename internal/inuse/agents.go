package inuse

import (
	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Needs says which node agents a control plane uses.
type Needs struct {
	CNI, ZTunnel bool
}

// Without drops the node agents another tool manages (the operator's --external-node-components): a
// control plane does not need them of bosun, which neither requires them nor checks their versions
// (docs/architecture.md#lesson-external-node-agents).
func (n Needs) Without(external Needs) Needs {
	return Needs{CNI: n.CNI && !external.CNI, ZTunnel: n.ZTunnel && !external.ZTunnel}
}

// NeedsCNI picks the CNI out of Needs.
func NeedsCNI(n Needs) bool { return n.CNI }

// NeedsZTunnel picks ztunnel out of Needs.
func NeedsZTunnel(n Needs) bool { return n.ZTunnel }

// DependenciesOf says which node agents a revision uses, from its values: the Istio CNI plugin on
// OpenShift unless pilot.cni.enabled is false, elsewhere when it is true; ztunnel in ambient mode (the
// ambient profile, or PILOT_ENABLE_AMBIENT). Values that cannot be read need nothing: the revision is
// refused on its own.
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
