package desired

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Plan is what a resource that installs objects (an IstioRevision, IstioRevisionTag, IstioCNI or
// ZTunnel) becomes: the charts to render and apply, or the refusal that applies nothing.
type Plan struct {
	// Charts are rendered, in order, into the objects the resource owns.
	Charts []render.Request
	// Target is, for a tag or a ZTunnel, the revision its objects point at; nil otherwise, and for a
	// ZTunnel without a targetRef.
	Target *v1.IstioRevision
	// Next is the revision a tag's or ZTunnel's targetRef resolves to while it stays on Target until
	// that revision's istiod is ready (Choose); its name alone when the revision is about to be created.
	Next    *v1.IstioRevision
	Refusal *Refusal
}

// refused is the plan of a refused resource.
func refused(r *Refusal) Plan { return Plan{Refusal: r} }

// ForRevision decides an IstioRevision: the istiod chart and, for the revision named default, the base
// chart without Istio's CRDs (ForCRDs's): the default validator and the reader service account. It is refused when an
// older IstioRevisionTag holds its name, when its namespace does not exist, and when its version,
// profile or values cannot be rendered.
func (e Env) ForRevision(rev *v1.IstioRevision, f *Facts) Plan {
	if r := revisionNameRefusal(rev, f); r != nil {
		return refused(r)
	}
	if r := f.namespaceRefusal(rev.Spec.Namespace, "istiod"); r != nil {
		return refused(r)
	}
	charts, err := e.RevisionCharts(rev)
	if err != nil {
		return refused(invalid(err))
	}
	return Plan{Charts: charts}
}

// RevisionCharts are the charts a revision's objects are rendered from: the istiod chart and, for the
// revision named default, the base chart without Istio's CRDs (ForCRDs's): the default validator and
// the reader service account. An error says the version, profile or values cannot be read. The
// pre-flight checks render them for a revision before it is created or updated (internal/preflight).
func (e Env) RevisionCharts(rev *v1.IstioRevision) ([]render.Request, error) {
	version, _, vals, err := e.inputs(string(rev.Spec.Version), rev.Spec.Values)
	if err != nil {
		return nil, err
	}
	// Every pod the revision's injector injects says which proxy version it got.
	vals = values.WithProxyVersion(vals, version.Name)
	owner := render.Owner{Kind: v1.KindIstioRevision, Name: rev.Name}
	charts := []string{render.ChartIstiod}
	if rev.Name == v1.SingletonName {
		charts = append(charts, render.ChartBase)
	}
	var out []render.Request
	for _, chart := range charts {
		chartValues := vals
		if chart == render.ChartBase {
			// Istio's CRDs are ForCRDs's, applied once for every control plane.
			chartValues = values.WithoutCRDs(vals)
		}
		out = append(out, render.Request{
			Version: version.Name, Chart: chart, Namespace: rev.Spec.Namespace,
			ReleaseName: releaseName(rev.Name, chart), Values: chartValues, Owner: owner,
		})
	}
	return out, nil
}

// IsRemote reports whether a revision's istiod runs in another cluster: the remote profile, or the
// istiodRemote values enabled.
func IsRemote(rev *v1.IstioRevision) bool { return remote("", rev.Spec.Values) }

// remote reports whether a profile and values make a control plane whose istiod runs in another
// cluster: the remote profile (spec.profile or values.profile), or the istiodRemote values enabled.
func remote(profile string, vals *v1.Values) bool {
	if profile == "remote" {
		return true
	}
	if vals == nil {
		return false
	}
	if vals.Profile != nil && *vals.Profile == "remote" {
		return true
	}
	return vals.IstiodRemote != nil && vals.IstiodRemote.Enabled != nil && *vals.IstiodRemote.Enabled
}

// IstiodName is the name of a revision's istiod Deployment and Service: istiod for the revision whose
// values.revision is empty (the one named default), istiod-<revision> otherwise.
func IstiodName(rev *v1.IstioRevision) string {
	if v := rev.Spec.Values; v != nil && v.Revision != nil && *v.Revision != "" {
		return "istiod-" + *v.Revision
	}
	return "istiod"
}

// Ready reports whether a revision's istiod is ready for its current spec: its Ready condition is True
// and describes its latest generation.
func Ready(rev *v1.IstioRevision) bool {
	c := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && rev.Status.ObservedGeneration == rev.Generation
}

// Dependencies is a revision's DependenciesHealthy condition: each node agent the revision needs of
// bosun (Needs) must exist (named default), run a version that fits the revision's (its minor or one
// behind: a retiring revision does not hold the agents back, see Retiring) and be Ready. The CNI is
// checked first, as it must be installed first.
func (e Env) Dependencies(rev *v1.IstioRevision, f *Facts) metav1.Condition {
	needs := e.Needs(rev)
	cond := func(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: status, Reason: reason, Message: msg}
	}
	type agent struct {
		needed                       bool
		kind, why                    string
		exists                       bool
		version                      string
		conditions                   []metav1.Condition
		notFound, skewed, notHealthy string
	}
	agents := []agent{
		{needed: needs.CNI, kind: v1.KindIstioCNI, why: "the Istio CNI plugin", notFound: v1.ReasonIstioCNINotFound, skewed: v1.ReasonIstioCNIVersionSkew, notHealthy: v1.ReasonIstioCNINotHealthy},
		{needed: needs.ZTunnel, kind: v1.KindZTunnel, why: "ztunnel (ambient mode)", notFound: v1.ReasonZTunnelNotFound, skewed: v1.ReasonZTunnelVersionSkew, notHealthy: v1.ReasonZTunnelNotHealthy},
	}
	if f.CNI != nil {
		agents[0].exists, agents[0].version, agents[0].conditions = true, string(f.CNI.Spec.Version), f.CNI.Status.Conditions
	}
	if f.ZTunnel != nil {
		agents[1].exists, agents[1].version, agents[1].conditions = true, string(f.ZTunnel.Spec.Version), f.ZTunnel.Status.Conditions
	}
	for _, a := range agents {
		if !a.needed {
			continue
		}
		if !a.exists {
			return cond(metav1.ConditionFalse, a.notFound, fmt.Sprintf("this control plane needs %s, and no %s named default exists: create it", a.why, a.kind))
		}
		if !e.Retiring(rev, f) {
			if err := e.skewWith(a.kind+" "+v1.SingletonName, a.version, []*v1.IstioRevision{rev}); err != nil {
				var skew *SkewError
				if errors.As(err, &skew) {
					return cond(metav1.ConditionFalse, a.skewed, err.Error())
				}
				return cond(metav1.ConditionFalse, a.notHealthy, fmt.Sprintf("%s default: %v", a.kind, err))
			}
		}
		if !meta.IsStatusConditionTrue(a.conditions, v1.ConditionReady) {
			return cond(metav1.ConditionFalse, a.notHealthy, fmt.Sprintf("%s default is not ready", a.kind))
		}
	}
	return cond(metav1.ConditionTrue, v1.ReasonDependenciesHealthy, "every component this control plane needs is ready")
}
