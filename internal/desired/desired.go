// Package desired decides what bosun wants in the cluster for each sailoperator.io resource: the
// IstioRevision an Istio maps to, and the charts (with their values, namespaces and release names) a
// revision, tag, IstioCNI or ZTunnel is rendered from. It is pure over its inputs; `bosun render` and
// the controllers share it, so that what render prints is what the operator applies.
package desired

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Default namespaces of the kinds whose spec.namespace has a default.
const (
	DefaultIstioNamespace   = "istio-system"
	DefaultCNINamespace     = "istio-cni"
	DefaultZTunnelNamespace = "ztunnel"
)

// Env is what the decisions depend on besides the resource itself.
type Env struct {
	Catalog *catalog.Catalog
	// Resources holds the fetched charts and profiles: <version>/charts and <version>/profiles.
	Resources fs.FS
	Platform  values.Platform
}

// resolve turns spec.version into a catalog version and the profiles it ships. An empty version is
// the catalog's default.
func (e Env) resolve(name string) (catalog.Version, values.Profiles, error) {
	if name == "" {
		name = e.Catalog.Default()
	}
	v, err := e.Catalog.Resolve(name)
	if err != nil {
		return v, values.Profiles{}, err
	}
	sub, err := fs.Sub(e.Resources, v.Name)
	if err != nil {
		return v, values.Profiles{}, err
	}
	return v, values.Profiles{FS: sub, Version: v.Name}, nil
}

// inputs resolves a resource's spec.version and turns its spec.values into a Map: what every decision
// below starts from.
func (e Env) inputs(version string, specValues any) (catalog.Version, values.Profiles, values.Map, error) {
	v, profiles, err := e.resolve(version)
	if err != nil {
		return v, profiles, nil, err
	}
	vals, err := values.FromObject(specValues)
	return v, profiles, vals, err
}

// revisionName is a name or label value Istio's istiod chart derives from a revision name, and the
// rule of apimachinery the API server checks it with.
type revisionName struct {
	// what says what carries the name, for messages.
	what string
	// of derives the name from a revision name.
	of func(revision string) string
	// max is the most characters Kubernetes allows it, and valid apimachinery's whole check of it.
	max   int
	valid func(string) []string
}

// revisionNames are the names the istiod chart derives from a revision name that Kubernetes limits to
// 63 characters. Every other name it derives (the Deployment, ServiceAccount, ConfigMaps,
// HorizontalPodAutoscaler, PodDisruptionBudget, webhook configurations: DNS subdomains of up to 253
// characters; ClusterRoles and bindings: path segments) is shorter than its limit whenever these fit.
// The istiod Service and the release labels add the most, 7 characters each, so a revision name may
// hold 56. Names the chart adds only for some values (the "-remote" Service of a remote control plane
// with a local injector) are left to the check of every rendered object in internal/render.
var revisionNames = []revisionName{
	{
		what: "istiod's Service", of: func(rev string) string { return "istiod-" + rev },
		max: validation.DNS1035LabelMaxLength, valid: validation.IsDNS1035Label,
	},
	{
		what: "the release and app.kubernetes.io/instance labels of istiod's objects",
		of:   func(rev string) string { return releaseName(rev, render.ChartIstiod) },
		max:  validation.LabelValueMaxLength, valid: validation.IsValidLabelValue,
	},
	{
		what: "the istio.io/rev label", of: func(rev string) string { return rev },
		max: validation.LabelValueMaxLength, valid: validation.IsValidLabelValue,
	},
}

// revisionNameLimit is the longest revision name whose derived names all fit, and the derived name
// that sets it.
func revisionNameLimit() (int, revisionName) {
	limit, by := math.MaxInt, revisionNames[0]
	for _, n := range revisionNames {
		if l := n.max - len(n.of("")); l < limit {
			limit, by = l, n
		}
	}
	return limit, by
}

// maxRevisionName is the longest revision name, and revisionNameLimitedBy the derived name that sets
// it: a longer revision name makes a name the API server refuses.
var maxRevisionName, revisionNameLimitedBy = revisionNameLimit()

// RevisionNameTooLongError says that an Istio's revision name would make a name longer than Kubernetes
// allows.
type RevisionNameTooLongError struct {
	// Istio is the Istio's name and Revision the revision name it maps to.
	Istio, Revision string
	// What carries Derived, the name made from the revision name, which may hold Max characters.
	What, Derived string
	Max           int
	// MaxIstioName is the longest Istio name whose revision name fits, for this version and strategy.
	MaxIstioName int
}

func (e *RevisionNameTooLongError) Error() string {
	return fmt.Sprintf("the revision name %s makes %s %s, %d characters, and Kubernetes allows %d: shorten the Istio's name %q to at most %d characters",
		e.Revision, e.What, e.Derived, len(e.Derived), e.Max, e.Istio, e.MaxIstioName)
}

// InvalidRevisionNameError says that an Istio's revision name makes a name the API server refuses for
// what it holds rather than its length, such as a dot in a Service name.
type InvalidRevisionNameError struct {
	Istio, Revision string
	// What carries Derived, the name made from the revision name, and Problems are apimachinery's
	// reasons to refuse it.
	What, Derived string
	Problems      []string
}

func (e *InvalidRevisionNameError) Error() string {
	return fmt.Sprintf("the revision name %s makes %s %s, which Kubernetes refuses: %s; rename the Istio %q",
		e.Revision, e.What, e.Derived, strings.Join(e.Problems, "; "), e.Istio)
}

// checkRevisionName refuses a revision name whose derived names the API server would refuse.
func checkRevisionName(istio, revision string) error {
	if len(revision) > maxRevisionName {
		by := revisionNameLimitedBy
		return &RevisionNameTooLongError{
			Istio: istio, Revision: revision, What: by.what, Derived: by.of(revision), Max: by.max,
			MaxIstioName: maxRevisionName - (len(revision) - len(istio)),
		}
	}
	for _, n := range revisionNames {
		if problems := n.valid(n.of(revision)); len(problems) > 0 {
			return &InvalidRevisionNameError{Istio: istio, Revision: revision, What: n.what, Derived: n.of(revision), Problems: problems}
		}
	}
	return nil
}

// releaseName is the release name (.Release.Name) a revision's chart is rendered with.
func releaseName(revision, chart string) string {
	return revision + "-" + chart
}

// RevisionName is the IstioRevision an Istio's spec maps to: the Istio's own name under InPlace, and
// <istio>-<concrete version with dots as dashes> under RevisionBased (default-v1-24-3 for v1.24.3).
// The concrete version, never the alias, goes into the name, so that a new build behind an alias is a
// new revision under RevisionBased rather than an in-place upgrade (field lesson #16).
func RevisionName(istio *v1.Istio, version catalog.Version) string {
	if istio.Spec.UpdateStrategy == nil || istio.Spec.UpdateStrategy.Type != v1.UpdateStrategyRevisionBased {
		return istio.Name
	}
	return istio.Name + "-" + strings.ReplaceAll(version.Name, ".", "-")
}

// Revision is the IstioRevision bosun writes for an Istio: its concrete version and complete values.
func (e Env) Revision(istio *v1.Istio) (*v1.IstioRevision, error) {
	version, profiles, user, err := e.inputs(string(istio.Spec.Version), istio.Spec.Values)
	if err != nil {
		return nil, err
	}
	name := RevisionName(istio, version)
	if err := checkRevisionName(istio.Name, name); err != nil {
		return nil, err
	}
	namespace := orDefault(istio.Spec.Namespace, DefaultIstioNamespace)
	computed, err := values.ControlPlane(values.ControlPlaneInput{
		Profiles: profiles, Images: version.Images, Profile: istio.Spec.Profile, Platform: e.Platform,
		User: user, Revision: name, Namespace: namespace,
	})
	if err != nil {
		return nil, err
	}
	rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version.Name), Namespace: namespace}}
	rev.APIVersion, rev.Kind = v1.GroupVersion.String(), v1.KindIstioRevision
	rev.Name = name
	rev.Spec.Values = &v1.Values{}
	if err := values.ToObject(computed, rev.Spec.Values); err != nil {
		return nil, fmt.Errorf("the computed values do not fit IstioRevision.spec.values: %w", err)
	}
	return rev, nil
}

// RevisionCharts are the charts of an IstioRevision: istiod and, for the revision named default, the
// base chart with Istio's CRDs, the default validator and the reader service account.
func (e Env) RevisionCharts(rev *v1.IstioRevision) ([]render.Request, error) {
	version, _, vals, err := e.inputs(string(rev.Spec.Version), rev.Spec.Values)
	if err != nil {
		return nil, err
	}
	owner := render.Owner{Kind: v1.KindIstioRevision, Name: rev.Name}
	charts := []string{render.ChartIstiod}
	if rev.Name == v1.SingletonName {
		charts = append(charts, render.ChartBase)
	}
	var reqs []render.Request
	for _, chart := range charts {
		reqs = append(reqs, render.Request{
			Version: version.Name, Chart: chart, Namespace: rev.Spec.Namespace,
			ReleaseName: releaseName(rev.Name, chart), Values: vals, Owner: owner,
		})
	}
	return reqs, nil
}

// tagTemplates are the istiod chart's templates of a revision tag.
var tagTemplates = []string{"revision-tags.yaml", "revision-tags-mwc.yaml", "revision-tags-svc.yaml"}

// TagCharts are the charts of an IstioRevisionTag that resolved to rev: the istiod chart's tag webhook
// and service and, for the tag named default, the base chart's default validator pointing at rev.
func (e Env) TagCharts(tag *v1.IstioRevisionTag, rev *v1.IstioRevision) ([]render.Request, error) {
	version, _, vals, err := e.inputs(string(rev.Spec.Version), rev.Spec.Values)
	if err != nil {
		return nil, err
	}
	owner := render.Owner{Kind: "IstioRevisionTag", Name: tag.Name}
	reqs := []render.Request{{
		Version: version.Name, Chart: render.ChartIstiod, Namespace: rev.Spec.Namespace,
		ReleaseName: tag.Name + "-revisiontags", Owner: owner, Templates: tagTemplates,
		Values: values.Merge(vals, values.Map{"revisionTags": []any{tag.Name}}),
	}}
	if tag.Name == v1.SingletonName {
		reqs = append(reqs, render.Request{
			Version: version.Name, Chart: render.ChartBase, Namespace: rev.Spec.Namespace,
			ReleaseName: "default-base", Owner: owner,
			Values: values.Merge(vals, values.Map{"defaultRevision": rev.Name}),
		})
	}
	return reqs, nil
}

// CRDOwner is what Istio's CRDs are labelled as belonging to: bosun itself, not one resource, since
// every control plane uses them.
var CRDOwner = render.Owner{Kind: "Bosun", Name: "istio-crds"}

// CRDChart is the chart whose CRDs bosun applies: the base chart of the newest of the given versions
// in use, so CRDs move forward with the newest control plane and never back (DESIGN decision 7).
// Versions the catalog does not know are passed over: their revisions are refused on their own, and
// must not hold the other control planes' CRDs back. ok is false when no version is left. Only the
// chart's CRDs are meant to be applied from it.
func (e Env) CRDChart(versionsInUse []string) (req render.Request, ok bool) {
	var newest catalog.Version
	for _, name := range versionsInUse {
		v, _, err := e.resolve(name)
		if err != nil {
			continue
		}
		if newest.Semver == nil || v.Semver.GreaterThan(newest.Semver) {
			newest = v
		}
	}
	if newest.Semver == nil {
		return render.Request{}, false
	}
	return render.Request{
		Version: newest.Name, Chart: render.ChartBase, Namespace: DefaultIstioNamespace,
		ReleaseName: "istio-crds", Values: values.Map{}, Owner: CRDOwner,
	}, true
}

// CNICharts are the charts of an IstioCNI.
func (e Env) CNICharts(cni *v1.IstioCNI) ([]render.Request, error) {
	version, profiles, user, err := e.inputs(string(cni.Spec.Version), cni.Spec.Values)
	if err != nil {
		return nil, err
	}
	vals, err := values.CNI(values.CNIInput{Profiles: profiles, Images: version.Images, Profile: cni.Spec.Profile, Platform: e.Platform, User: user})
	if err != nil {
		return nil, err
	}
	return []render.Request{{
		Version: version.Name, Chart: render.ChartCNI, Namespace: CNINamespace(cni),
		ReleaseName: "istio-cni", Values: vals, Owner: render.Owner{Kind: "IstioCNI", Name: cni.Name},
	}}, nil
}

// ZTunnelCharts are the charts of a ZTunnel; target is the IstioRevision its targetRef resolved to, or
// nil.
func (e Env) ZTunnelCharts(zt *v1.ZTunnel, target *v1.IstioRevision) ([]render.Request, error) {
	version, profiles, user, err := e.inputs(string(zt.Spec.Version), zt.Spec.Values)
	if err != nil {
		return nil, err
	}
	var revValues values.Map
	if target != nil {
		cp, _, err := e.resolve(string(target.Spec.Version))
		if err != nil {
			return nil, err
		}
		if err := CheckSkew("ZTunnel", version, cp); err != nil {
			return nil, err
		}
		if revValues, err = values.FromObject(target.Spec.Values); err != nil {
			return nil, err
		}
	}
	vals, err := values.ZTunnel(values.ZTunnelInput{Profiles: profiles, Images: version.Images, Platform: e.Platform, Revision: revValues, User: user})
	if err != nil {
		return nil, err
	}
	return []render.Request{{
		Version: version.Name, Chart: render.ChartZTunnel, Namespace: ZTunnelNamespace(zt),
		ReleaseName: "ztunnel", Values: vals, Owner: render.Owner{Kind: "ZTunnel", Name: zt.Name},
	}}, nil
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

// SkewWith checks a node agent (IstioCNI, ZTunnel) whose spec.version is version (an alias or a
// concrete version) against each control plane, in order, and returns the first *SkewError. An
// unknown version is an error of its own. component names the agent in the message ("IstioCNI
// default").
func (e Env) SkewWith(component, version string, controlPlanes []*v1.IstioRevision) error {
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

// CNINamespace is the namespace an IstioCNI installs into.
func CNINamespace(cni *v1.IstioCNI) string { return orDefault(cni.Spec.Namespace, DefaultCNINamespace) }

// ZTunnelNamespace is the namespace a ZTunnel installs into.
func ZTunnelNamespace(zt *v1.ZTunnel) string {
	return orDefault(zt.Spec.Namespace, DefaultZTunnelNamespace)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
