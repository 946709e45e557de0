package values

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// Platform is the kind of cluster bosun runs on.
type Platform string

const (
	// Kubernetes is any cluster that is not OpenShift.
	Kubernetes Platform = "kubernetes"
	// OpenShift is a Red Hat OpenShift cluster.
	OpenShift Platform = "openshift"
)

// DefaultProfile is the profile every other profile is laid over, as istioctl does.
const DefaultProfile = "default"

// ProfileName is the profile a component uses: the user's choice, else openshift on OpenShift, else
// default.
func ProfileName(userProfile string, platform Platform) string {
	switch {
	case userProfile != "":
		return userProfile
	case platform == OpenShift:
		return "openshift"
	default:
		return DefaultProfile
	}
}

// Profiles reads the profiles one Istio version ships: profiles/<name>.yaml, each an IstioOperator
// whose spec.values (and spec.meshConfig) hold the presets. Most presets only set values.profile or
// global.platform; Istio's charts then apply the real settings from their files/profile-*.yaml.
type Profiles struct {
	// FS holds the version's folder, with profiles/ in it.
	FS fs.FS
	// Version names the version, for messages.
	Version string
}

// Names lists the profiles the version ships. A version without profiles was not fetched.
func (p Profiles) Names() ([]string, error) {
	files, err := fs.Glob(p.FS, "profiles/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing the profiles of Istio %s: %w", p.Version, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("the fetched charts of Istio %s have no profiles: run make charts, or point bosun at the folder they were fetched into", p.Version)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(path.Base(f), ".yaml"))
	}
	return names, nil
}

// ProfileNotShippedError says that the chosen Istio version has no profile of that name.
type ProfileNotShippedError struct {
	Profile, Version string
	// Field is where the name was written: spec.profile, or spec.values.profile for the charts'
	// own presets.
	Field     string
	Available []string
}

func (e *ProfileNotShippedError) Error() string {
	field := e.Field
	if field == "" {
		field = "spec.profile"
	}
	return fmt.Sprintf("Istio %s does not ship the profile %q; set %s to one of: %s",
		e.Version, e.Profile, field, strings.Join(e.Available, ", "))
}

// chartProfiles lists the presets a chart applies for values.profile: its files/profile-<name>.yaml,
// less the compatibility-version and platform files, which other values select.
func (p Profiles) chartProfiles(chart string) ([]string, error) {
	files, err := fs.Glob(p.FS, "charts/"+chart+"/files/profile-*.yaml")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "profile-"), ".yaml")
		if !strings.HasPrefix(name, "compatibility-version-") && !strings.HasPrefix(name, "platform-") {
			names = append(names, name)
		}
	}
	return names, nil
}

// checkChartProfile makes values.profile something the chart can apply: "default" means no presets
// (the charts have no file for it and would fail), and any other name must be one of the chart's.
func (p Profiles) checkChartProfile(m Map, chart string) error {
	name, ok := m["profile"].(string)
	if !ok || name == "" {
		return nil
	}
	if name == DefaultProfile {
		delete(m, "profile")
		return nil
	}
	names, err := p.chartProfiles(chart)
	if err != nil || len(names) == 0 {
		return err // a test double without charts; rendering reports a missing chart itself
	}
	if !slices.Contains(names, name) {
		return &ProfileNotShippedError{Profile: name, Version: p.Version, Field: "spec.values.profile", Available: names}
	}
	return nil
}

// Values returns the presets of one profile as Helm values.
func (p Profiles) Values(name string) (Map, error) {
	names, err := p.Names()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, name) {
		return nil, &ProfileNotShippedError{Profile: name, Version: p.Version, Available: names}
	}
	data, err := fs.ReadFile(p.FS, "profiles/"+name+".yaml")
	if err != nil {
		return nil, fmt.Errorf("profile %s of Istio %s: %w", name, p.Version, err)
	}
	var doc struct {
		Spec struct {
			Values     Map `json:"values"`
			MeshConfig Map `json:"meshConfig"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("profile %s of Istio %s: %w", name, p.Version, err)
	}
	out := doc.Spec.Values
	if out == nil {
		out = Map{}
	}
	if doc.Spec.MeshConfig != nil {
		out = Merge(out, Map{"meshConfig": doc.Spec.MeshConfig})
	}
	return out, nil
}

// layered returns the default profile's presets with the chosen profile's over them.
func (p Profiles) layered(name string) (Map, error) {
	base, err := p.Values(DefaultProfile)
	if err != nil {
		return nil, err
	}
	if name == DefaultProfile {
		return base, nil
	}
	chosen, err := p.Values(name)
	if err != nil {
		return nil, err
	}
	return Merge(base, chosen), nil
}

// notControlPlane are profile keys that configure what other kinds (IstioCNI, ZTunnel) or nothing in
// bosun (gateways, which are deployed with applications) own. They are dropped from a control plane's
// values so that an IstioRevision's spec.values holds only what its charts use.
var notControlPlane = []string{"cni", "istio_cni", "gateways", "ztunnel", "revisionTags", "ownerName"}

// imageChoice is where a chart reads one component's image, and which values choose it.
type imageChoice struct {
	// at are the paths a pin is written to. Istio's charts take a value that contains a "/" as the
	// whole image reference, in place of hub/image:tag.
	at [][]string
	// chosenBy are the values by which a user chooses the component's image; when the user set any of
	// them, the component runs what the user's values and the chart make of them, not the pin.
	chosenBy [][]string
}

// globalImageChoice are the global values every component's image is made of.
var globalImageChoice = [][]string{{"global", "hub"}, {"global", "tag"}, {"global", "variant"}}

// The components whose image a catalog version may pin, as each chart reads it (resources/<version>/
// charts, in every catalog version): the istiod Deployment from pilot's hub, image, tag and variant
// (the chart moves pilot's values to the top level); sidecars, their init container and gateways from
// global.proxy.image and global.proxy_init.image, which istiod's injection templates use as they are
// when they contain a "/" and otherwise join with global.hub and global.tag; the CNI and ztunnel
// DaemonSets from the hub, image, tag and variant of their own section, over the global ones.
var (
	istiodImage = imageChoice{
		at:       [][]string{{"pilot", "image"}},
		chosenBy: append(slices.Clone(globalImageChoice), []string{"pilot", "hub"}, []string{"pilot", "image"}, []string{"pilot", "tag"}, []string{"pilot", "variant"}),
	}
	proxyImage = imageChoice{
		at:       [][]string{{"global", "proxy", "image"}, {"global", "proxy_init", "image"}},
		chosenBy: append(slices.Clone(globalImageChoice), []string{"global", "proxy", "image"}, []string{"global", "proxy_init", "image"}),
	}
	cniImage = imageChoice{
		at:       [][]string{{"cni", "image"}},
		chosenBy: append(slices.Clone(globalImageChoice), []string{"cni", "hub"}, []string{"cni", "image"}, []string{"cni", "tag"}, []string{"cni", "variant"}),
	}
	ztunnelImage = imageChoice{
		at:       [][]string{{"ztunnel", "image"}},
		chosenBy: append(slices.Clone(globalImageChoice), []string{"ztunnel", "hub"}, []string{"ztunnel", "image"}, []string{"ztunnel", "tag"}, []string{"ztunnel", "variant"}),
	}
)

// pin is one image reference of a version's catalog entry and where it goes.
type pin struct {
	ref    string
	choice imageChoice
}

// pinnedImages is the layer of a version's image pins: each pinned component's image, unless the
// user's values choose that component's image (a global hub, tag or variant, or the component's own).
// It lies under the user's values, so nothing the user writes is ever overridden by a pin.
func pinnedImages(user Map, pins ...pin) Map {
	out := Map{}
	for _, p := range pins {
		if p.ref == "" || slices.ContainsFunc(p.choice.chosenBy, func(path []string) bool {
			_, ok := Get(user, path...)
			return ok
		}) {
			continue
		}
		for _, at := range p.choice.at {
			Set(out, p.ref, at...)
		}
	}
	return out
}

// ControlPlaneInput is what a control plane's values are computed from.
type ControlPlaneInput struct {
	Profiles Profiles
	// Images are the version's image pins; istiod's and proxy's apply.
	Images catalog.Images
	// Profile is the Istio's spec.profile; empty means the platform's default.
	Profile  string
	Platform Platform
	// User is the Istio's spec.values.
	User Map
	// Revision is the IstioRevision's name and Namespace its spec.namespace.
	Revision  string
	Namespace string
}

// ControlPlane computes the complete values of a control-plane revision, as stored in
// IstioRevision.spec.values and passed to the istiod and base charts.
func ControlPlane(in ControlPlaneInput) (Map, error) {
	profile, err := in.Profiles.layered(ProfileName(in.Profile, in.Platform))
	if err != nil {
		return nil, err
	}
	for _, k := range notControlPlane {
		delete(profile, k)
	}
	images := pinnedImages(in.User, pin{in.Images.Istiod, istiodImage}, pin{in.Images.Proxy, proxyImage})
	out := Merge(profile, images, platformValues(in.Platform, profile, in.User), in.User)
	if err := in.Profiles.checkChartProfile(out, "istiod"); err != nil {
		return nil, err
	}
	return forceControlPlane(out, in.Revision, in.Namespace), nil
}

// platformValues sets global.platform on OpenShift unless a profile or the user already chose one.
func platformValues(platform Platform, layers ...Map) Map {
	if platform != OpenShift {
		return nil
	}
	for _, l := range layers {
		if _, ok := Get(l, "global", "platform"); ok {
			return nil
		}
	}
	return Map{"global": Map{"platform": string(OpenShift)}}
}

// forceControlPlane sets the fields bosun owns: the revision (empty for the revision named default, so
// that its injector serves istio-injection=enabled), the control-plane namespace, and no
// defaultRevision, which IstioRevisionTag replaces.
func forceControlPlane(m Map, revision, namespace string) Map {
	if revision == "default" {
		revision = ""
	}
	m["revision"] = revision
	Set(m, namespace, "global", "istioNamespace")
	delete(m, "defaultRevision")
	return m
}

// AnnotationProxyVersion is the annotation istiod's injector writes, through
// sidecarInjectorWebhook.injectedAnnotations, on every pod it injects: the Istio version of the proxy
// it injected. Pod metadata carries no image, so without it a pod's proxy version could only be read
// from the whole pod; with it, `bosun status` and the operator's metrics tell a pod that still runs the
// proxy of before an InPlace update from the metadata they read anyway.
const AnnotationProxyVersion = "bosun.dev/proxy-version"

// WithProxyVersion adds AnnotationProxyVersion, for the version the chart installs, to the
// annotations the injector writes, keeping the user's.
func WithProxyVersion(m Map, version string) Map {
	if m == nil {
		m = Map{}
	}
	annotations, _ := Get(m, "sidecarInjectorWebhook", "injectedAnnotations")
	merged := Map{}
	if a, ok := annotations.(Map); ok {
		for k, v := range a {
			merged[k] = v
		}
	}
	merged[AnnotationProxyVersion] = version
	Set(m, merged, "sidecarInjectorWebhook", "injectedAnnotations")
	return m
}

// WithoutCRDs returns a copy of a control plane's values for its base chart, without Istio's CRDs
// (base.enableCRDTemplates false). bosun applies the CRDs once for every control plane, from the
// newest version in use; a revision's base chart that rendered them too would parse the chart's
// 800 KB of CRDs on every render, to throw them away.
func WithoutCRDs(m Map) Map {
	out := DeepCopy(m)
	if out == nil {
		out = Map{}
	}
	Set(out, false, "base", "enableCRDTemplates")
	return out
}

// CNIInput is what the values of an IstioCNI are computed from.
type CNIInput struct {
	Profiles Profiles
	// Images are the version's image pins; cni's applies.
	Images   catalog.Images
	Profile  string
	Platform Platform
	User     Map
}

// CNI computes the values of the cni chart.
func CNI(in CNIInput) (Map, error) {
	profile, err := in.Profiles.layered(ProfileName(in.Profile, in.Platform))
	if err != nil {
		return nil, err
	}
	images := pinnedImages(in.User, pin{in.Images.CNI, cniImage})
	out := Merge(profile, images, platformValues(in.Platform, profile, in.User), in.User)
	if err := in.Profiles.checkChartProfile(out, "cni"); err != nil {
		return nil, err
	}
	return out, nil
}

// ZTunnelInput is what the values of a ZTunnel are computed from.
type ZTunnelInput struct {
	Profiles Profiles
	// Images are the version's image pins; ztunnel's applies.
	Images   catalog.Images
	Platform Platform
	// Revision holds the global, meshConfig and revision values of the IstioRevision the ZTunnel's
	// targetRef resolved to, or nil.
	Revision Map
	User     Map
}

// ZTunnel computes the values of the ztunnel chart. ztunnel always runs with the ambient profile; the
// image pin, the target revision's shared values and the user's come over it in that order, and a
// global hub, tag or variant of the target revision skips the pin as the user's own would. The chart
// reads its settings at the top level, so the ztunnel section is also copied there.
func ZTunnel(in ZTunnelInput) (Map, error) {
	profile, err := in.Profiles.layered("ambient")
	if err != nil {
		return nil, err
	}
	shared := Map{}
	for _, k := range []string{"global", "meshConfig", "revision"} {
		if v, ok := in.Revision[k]; ok {
			shared[k] = v
		}
	}
	images := pinnedImages(Merge(shared, in.User), pin{in.Images.ZTunnel, ztunnelImage})
	out := Merge(profile, images, shared, platformValues(in.Platform, profile, shared, in.User), in.User)
	if z, ok := out["ztunnel"].(Map); ok {
		out = Merge(out, z)
	}
	return out, nil
}
