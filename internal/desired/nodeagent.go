package desired

import (
	"errors"
	"fmt"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// CNINamespace is the namespace an IstioCNI installs into.
func CNINamespace(cni *v1.IstioCNI) string { return orDefault(cni.Spec.Namespace, DefaultCNINamespace) }

// ZTunnelNamespace is the namespace a ZTunnel installs into.
func ZTunnelNamespace(zt *v1.ZTunnel) string {
	return orDefault(zt.Spec.Namespace, DefaultZTunnelNamespace)
}

// ForCNI decides an IstioCNI: the cni chart. It is refused when its namespace does not exist, when its
// version, profile or values cannot be rendered, and when its version is not the minor version, or one
// behind, of every control plane that needs the CNI of bosun (VersionSkew), so that the update order of
// OpenShift Service Mesh 3 (control plane, then CNI, then ztunnel) is what bosun enforces.
func (e Env) ForCNI(cni *v1.IstioCNI, f *Facts) Plan {
	namespace := CNINamespace(cni)
	if r := f.namespaceRefusal(namespace, "istio-cni-node"); r != nil {
		return refused(r)
	}
	version, profiles, user, err := e.inputs(string(cni.Spec.Version), cni.Spec.Values)
	if err != nil {
		return refused(invalid(err))
	}
	vals, err := values.CNI(values.CNIInput{Profiles: profiles, Images: version.Images, Profile: cni.Spec.Profile, Platform: e.Platform, User: user})
	if err != nil {
		return refused(invalid(err))
	}
	if r := e.agentSkewRefusal(v1.KindIstioCNI, string(cni.Spec.Version), inuse.NeedsCNI, f); r != nil {
		return refused(r)
	}
	return Plan{Charts: []render.Request{{
		Version: version.Name, Chart: render.ChartCNI, Namespace: namespace,
		ReleaseName: "istio-cni", Values: vals, Owner: render.Owner{Kind: v1.KindIstioCNI, Name: cni.Name},
	}}}
}

// ForZTunnel decides a ZTunnel: the ztunnel chart, with the global values, mesh config and revision of
// the control plane its targetRef resolves to (Resolve: during a RevisionBased update of the Istio it
// names, ztunnel stays with the revision it follows until the new istiod is ready, as a tag's webhook
// does, since ztunnel's certificates and configuration come from that istiod). It is refused when its
// namespace does not exist, when its targetRef names nothing (RefNotFound), when its version, profile
// or values cannot be rendered, and when its version is not the minor version, or one behind, of its
// target's and of every control plane that needs ztunnel of bosun (VersionSkew).
func (e Env) ForZTunnel(zt *v1.ZTunnel, f *Facts) Plan {
	namespace := ZTunnelNamespace(zt)
	if r := f.namespaceRefusal(namespace, "ztunnel"); r != nil {
		return refused(r)
	}
	var plan Plan
	if zt.Spec.TargetRef != nil {
		var refusal *Refusal
		if plan.Target, plan.Next, refusal = e.Resolve(*zt.Spec.TargetRef, zt.Status.IstioRevision, f); refusal != nil {
			return refused(refusal)
		}
	}
	version, profiles, user, err := e.inputs(string(zt.Spec.Version), zt.Spec.Values)
	if err != nil {
		return refused(invalid(err))
	}
	var revValues values.Map
	if plan.Target != nil {
		if r := e.agentSkewRefusal(v1.KindZTunnel, string(zt.Spec.Version), nil, &Facts{Revisions: map[string]*v1.IstioRevision{plan.Target.Name: plan.Target}}); r != nil {
			return refused(r)
		}
		if revValues, err = values.FromObject(plan.Target.Spec.Values); err != nil {
			return refused(invalid(err))
		}
	}
	vals, err := values.ZTunnel(values.ZTunnelInput{Profiles: profiles, Images: version.Images, Platform: e.Platform, Revision: revValues, User: user})
	if err != nil {
		return refused(invalid(err))
	}
	if r := e.agentSkewRefusal(v1.KindZTunnel, string(zt.Spec.Version), inuse.NeedsZTunnel, f); r != nil {
		return refused(r)
	}
	plan.Charts = []render.Request{{
		Version: version.Name, Chart: render.ChartZTunnel, Namespace: namespace,
		ReleaseName: "ztunnel", Values: vals, Owner: render.Owner{Kind: v1.KindZTunnel, Name: zt.Name},
	}}
	return plan
}

// agentSkewRefusal refuses a node agent whose version is not the minor version, or one behind, of a
// control plane: of every revision in f that needs it of bosun (which picks the agent out of
// inuse.Needs) and is not retiring, or, with which nil, of every revision in f.
func (e Env) agentSkewRefusal(kind, version string, which func(inuse.Needs) bool, f *Facts) *Refusal {
	var controlPlanes []*v1.IstioRevision
	for _, rev := range f.SortedRevisions() {
		if which == nil || (which(e.Needs(rev)) && !e.Retiring(rev, f)) {
			controlPlanes = append(controlPlanes, rev)
		}
	}
	err := e.skewWith(kind+" "+v1.SingletonName, version, controlPlanes)
	var skew *SkewError
	switch {
	case errors.As(err, &skew):
		return refuse(v1.ReasonVersionSkew, err)
	case err != nil:
		return invalid(err)
	}
	return nil
}

// SkewError says that a data-plane component's version is too far from its control plane's.
type SkewError struct {
	Component             string
	Version, ControlPlane catalog.Version
	// Revision names the control plane's IstioRevision, when the check was against one.
	Revision string
}

func (e *SkewError) Error() string {
	cp := e.ControlPlane.Minor()
	if e.Revision != "" {
		cp += ", IstioRevision " + e.Revision
	}
	return fmt.Sprintf("%s runs Istio %s, which must be the control plane's minor version (%s) or one behind; set its spec.version to v%s-latest or v%d.%d-latest",
		e.Component, e.Version.Minor(), cp, e.ControlPlane.Minor(), e.ControlPlane.Semver.Major(), e.ControlPlane.Semver.Minor()-1)
}

// skewWith checks a node agent (IstioCNI, ZTunnel) whose spec.version is version (an alias or a
// concrete version) against each control plane, in order, and returns the first *SkewError. An
// unknown version is an error of its own. component names the agent in the message ("IstioCNI
// default").
func (e Env) skewWith(component, version string, controlPlanes []*v1.IstioRevision) error {
	if len(controlPlanes) == 0 {
		return nil
	}
	v, _, err := e.resolve(version)
	if err != nil {
		return err
	}
	for _, rev := range controlPlanes {
		// A revision's version is concrete, and may be one the catalog has since dropped.
		cp, err := catalog.ParseVersion(string(rev.Spec.Version))
		if err != nil {
			return fmt.Errorf("IstioRevision %s: %w", rev.Name, err)
		}
		if err := CheckSkew(component, v, cp); err != nil {
			var skew *SkewError
			if errors.As(err, &skew) {
				skew.Revision = rev.Name
			}
			return err
		}
	}
	return nil
}

// CheckSkew allows a data-plane component (IstioCNI, ZTunnel) the control plane's minor version or the
// one before it, as Istio supports (DESIGN decision 6).
func CheckSkew(component string, v, controlPlane catalog.Version) error {
	if v.Semver.Major() == controlPlane.Semver.Major() {
		if d := int64(controlPlane.Semver.Minor()) - int64(v.Semver.Minor()); d == 0 || d == 1 {
			return nil
		}
	}
	return &SkewError{Component: component, Version: v, ControlPlane: controlPlane}
}

// AgentsOutOfSkew checks the node agents a control plane of revision rev needs of bosun (Needs)
// against its version, before it runs: each agent whose version is neither the revision's minor nor one
// behind is an error that says what to set. An agent that does not exist is not checked here: the
// revision's DependenciesHealthy says it is missing.
func (e Env) AgentsOutOfSkew(rev *v1.IstioRevision, f *Facts) []error {
	needs := e.Needs(rev)
	var errs []error
	if needs.CNI && f.CNI != nil {
		if err := e.skewWith(v1.KindIstioCNI+" "+v1.SingletonName, string(f.CNI.Spec.Version), []*v1.IstioRevision{rev}); err != nil {
			errs = append(errs, err)
		}
	}
	if needs.ZTunnel && f.ZTunnel != nil {
		if err := e.skewWith(v1.KindZTunnel+" "+v1.SingletonName, string(f.ZTunnel.Spec.Version), []*v1.IstioRevision{rev}); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
