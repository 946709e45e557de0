package desired

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/Masterminds/semver/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// testEnv has the built-in catalog and, for each of its versions, a default and an ambient profile.
func testEnv() Env {
	profile := &fstest.MapFile{Data: []byte("spec:\n  values:\n    defaultRevision: \"\"\n    global:\n      configValidation: true\n")}
	ambient := &fstest.MapFile{Data: []byte("spec:\n  values:\n    profile: ambient\n")}
	resources := fstest.MapFS{}
	for _, v := range catalog.Embedded().Versions() {
		resources[v.Name+"/profiles/default.yaml"] = profile
		resources[v.Name+"/profiles/ambient.yaml"] = ambient
	}
	return Env{Catalog: catalog.Embedded(), Platform: values.Kubernetes, Resources: resources}
}

func istio(name, strategy, version string) *v1.Istio {
	i := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioSpec{Version: v1.IstioVersion(version)}}
	if strategy != "" {
		i.Spec.UpdateStrategy = &v1.IstioUpdateStrategy{Type: strategy}
	}
	return i
}

func TestRevisionName(t *testing.T) {
	cases := []struct {
		name, strategy, version, want string
	}{
		{"default", "", "v1.24.3", "default"},
		{"default", v1.UpdateStrategyInPlace, "v1.24.3", "default"},
		{"default", v1.UpdateStrategyRevisionBased, "v1.24.3", "default-v1-24-3"},
		{"prod", v1.UpdateStrategyRevisionBased, "v1.27.0-snapshot.b9159ca3", "prod-v1-27-0-snapshot-b9159ca3"},
	}
	for _, tc := range cases {
		got := RevisionName(istio(tc.name, tc.strategy, tc.version), catalog.Version{Name: tc.version})
		if got != tc.want {
			t.Errorf("RevisionName(%s, %q, %s) = %s, want %s", tc.name, tc.strategy, tc.version, got, tc.want)
		}
	}
}

// TestAliasNeverNamesARevision guards docs/architecture.md#lesson-alias-names-a-revision: under RevisionBased, an Istio on an alias gets
// a revision named after the concrete version, so a new build behind the alias is a new revision.
func TestAliasNeverNamesARevision(t *testing.T) {
	for _, alias := range []string{"v1.27-latest", "latest", "v1.31-latest"} {
		rev, err := testEnv().RevisionOf(istio("prod", v1.UpdateStrategyRevisionBased, alias))
		if err != nil {
			t.Fatal(err)
		}
		resolved, _ := catalog.Embedded().Resolve(alias)
		if want := "prod-" + strings.ReplaceAll(resolved.Name, ".", "-"); rev.Name != want {
			t.Errorf("alias %s names the revision %s, want %s", alias, rev.Name, want)
		}
	}
}

func TestRevision(t *testing.T) {
	in := istio("default", "", "v1.27-latest")
	in.Spec.Namespace = "mesh"
	revision := "canary"
	in.Spec.Values = &v1.Values{Revision: &revision, DefaultRevision: &revision}
	rev, err := testEnv().RevisionOf(in)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Name != "default" || rev.Spec.Version != "v1.27.0-snapshot.b9159ca3" || rev.Spec.Namespace != "mesh" {
		t.Errorf("revision %s, version %s, namespace %s", rev.Name, rev.Spec.Version, rev.Spec.Namespace)
	}
	v := rev.Spec.Values
	if v.Revision == nil || *v.Revision != "" {
		t.Errorf("values.revision = %v, want an empty revision for the revision named default", v.Revision)
	}
	if v.DefaultRevision != nil {
		t.Errorf("values.defaultRevision survived: %v", *v.DefaultRevision)
	}
	if v.Global == nil || v.Global.IstioNamespace == nil || *v.Global.IstioNamespace != "mesh" || v.Global.ConfigValidation == nil || !*v.Global.ConfigValidation {
		t.Errorf("values.global = %+v, want istioNamespace mesh and the profile's configValidation", v.Global)
	}
}

func TestRevisionRefusesEndOfLife(t *testing.T) {
	_, refusal := testEnv().RevisionOf(istio("default", "", "v1.24.3"))
	var eol *catalog.EndOfLifeError
	if !errors.As(errOf(refusal), &eol) {
		t.Fatalf("error = %v, want end of life", refusal)
	}
}

func TestRevisionCharts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		charts []string
	}{
		{"default", []string{render.ChartIstiod, render.ChartBase}},
		{"prod", []string{render.ChartIstiod}},
	} {
		rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: tc.name},
			Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system"}}
		plan := testEnv().ForRevision(rev, &Facts{})
		if plan.Refusal != nil {
			t.Fatal(plan.Refusal)
		}
		var charts []string
		for _, r := range plan.Charts {
			charts = append(charts, r.Chart)
			if r.Owner != (render.Owner{Kind: "IstioRevision", Name: tc.name}) || r.Namespace != "istio-system" {
				t.Errorf("%s: request %+v", tc.name, r)
			}
		}
		if len(charts) != len(tc.charts) || charts[0] != tc.charts[0] {
			t.Errorf("revision %s renders %v, want %v", tc.name, charts, tc.charts)
		}
	}
}

// TestInjectedPodsSayTheirProxyVersion: a revision's injector writes bosun.dev/proxy-version, the
// revision's version, on every pod it injects, beside the annotations the user asked for.
func TestInjectedPodsSayTheirProxyVersion(t *testing.T) {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system",
		Values: &v1.Values{SidecarInjectorWebhook: &v1.SidecarInjectorConfig{InjectedAnnotations: map[string]string{"team": "payments"}}}}}
	plan := testEnv().ForRevision(rev, &Facts{})
	if plan.Refusal != nil {
		t.Fatal(plan.Refusal)
	}
	got, _ := values.Get(plan.Charts[0].Values, "sidecarInjectorWebhook", "injectedAnnotations")
	want := values.Map{"team": "payments", values.AnnotationProxyVersion: "v1.27.0-snapshot.b9159ca3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("injectedAnnotations %v, want %v", got, want)
	}
	if rev.Spec.Values.SidecarInjectorWebhook.InjectedAnnotations[values.AnnotationProxyVersion] != "" {
		t.Error("the revision's own spec.values was changed")
	}
}

func TestTagCharts(t *testing.T) {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default-v1-27-0"},
		Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system"}}
	tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: rev.Name}}}
	plan := testEnv().ForTag(tag, &Facts{Revisions: map[string]*v1.IstioRevision{rev.Name: rev}})
	if plan.Refusal != nil {
		t.Fatal(plan.Refusal)
	}
	reqs := plan.Charts
	if len(reqs) != 2 {
		t.Fatalf("the default tag renders %d charts, want the tag webhook and base", len(reqs))
	}
	if tags, _ := values.Get(reqs[0].Values, "revisionTags"); len(tags.([]any)) != 1 || tags.([]any)[0] != "default" {
		t.Errorf("revisionTags = %v", tags)
	}
	if got, _ := values.Get(reqs[1].Values, "defaultRevision"); got != "default-v1-27-0" {
		t.Errorf("base defaultRevision = %v, want the tag's revision", got)
	}
	if _, ok := reqs[1].Values["revisionTags"]; ok {
		t.Errorf("the base chart got revisionTags")
	}
}

// TestRevisionNameLimit: a revision name goes into istiod's Service name, istiod-<revision>, a DNS-1035
// label of at most 63 characters, and into the release labels, <revision>-istiod; so a revision name
// holds 56. Under RevisionBased the version (-v1-27-0-snapshot-b9159ca3, 26 characters) takes its share.
func TestRevisionNameLimit(t *testing.T) {
	name := func(n int) string { return strings.Repeat("m", n) }
	cases := []struct {
		name, strategy string
		// maxIstioName is the longest Istio name the message must advise; 0 means accepted.
		maxIstioName int
		// derived is the refused name the message must show.
		derived string
	}{
		{name: name(56), strategy: v1.UpdateStrategyInPlace},
		{name: name(57), strategy: v1.UpdateStrategyInPlace, maxIstioName: 56, derived: "istiod's Service istiod-" + name(57) + ", 64 characters"},
		{name: name(60), strategy: v1.UpdateStrategyInPlace, maxIstioName: 56, derived: "istiod's Service istiod-" + name(60) + ", 67 characters"},
		{name: name(56), strategy: ""},
		{name: name(57), strategy: "", maxIstioName: 56, derived: "istiod-" + name(57)},
		{name: name(30), strategy: v1.UpdateStrategyRevisionBased},
		{name: name(31), strategy: v1.UpdateStrategyRevisionBased, maxIstioName: 30,
			derived: "istiod's Service istiod-" + name(31) + "-v1-27-0-snapshot-b9159ca3, 64 characters"},
	}
	for _, tc := range cases {
		strategy := tc.strategy
		if strategy == "" {
			strategy = "no strategy"
		}
		t.Run(fmt.Sprintf("%s/%d", strategy, len(tc.name)), func(t *testing.T) {
			rev, refusal := testEnv().RevisionOf(istio(tc.name, tc.strategy, "v1.27-latest"))
			err := errOf(refusal)
			if tc.maxIstioName == 0 {
				if err != nil {
					t.Fatalf("a %d-character name is refused: %v", len(tc.name), err)
				}
				if len(rev.Name) > 56 {
					t.Errorf("the revision name %s is %d characters", rev.Name, len(rev.Name))
				}
				return
			}
			var tooLong *RevisionNameTooLongError
			if !errors.As(err, &tooLong) {
				t.Fatalf("error = %v, want RevisionNameTooLongError", err)
			}
			if tooLong.MaxIstioName != tc.maxIstioName {
				t.Errorf("MaxIstioName = %d, want %d", tooLong.MaxIstioName, tc.maxIstioName)
			}
			for _, want := range []string{tc.derived, "Kubernetes allows 63", fmt.Sprintf("to at most %d characters", tc.maxIstioName)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the message does not say %q: %v", want, err)
				}
			}
		})
	}
}

// TestRevisionNameMustMakeValidNames: a dot is allowed in an Istio's name but not in a Service's.
func TestRevisionNameMustMakeValidNames(t *testing.T) {
	_, refusal := testEnv().RevisionOf(istio("prod.east", v1.UpdateStrategyInPlace, "v1.27-latest"))
	err := errOf(refusal)
	var invalid *InvalidRevisionNameError
	if !errors.As(err, &invalid) {
		t.Fatalf("error = %v, want InvalidRevisionNameError", err)
	}
	if !strings.Contains(err.Error(), "istiod's Service istiod-prod.east, which Kubernetes refuses: a DNS-1035 label must consist of lower case alphanumeric characters or '-'") {
		t.Errorf("the message does not say which name is refused and why: %v", err)
	}
}

// TestRevisionNameLimitFitsTheCharts renders the istiod chart of every catalog version for a revision
// name of the longest length allowed, which every object must pass, and one longer, which must be
// refused: if a chart derives a longer name from the revision, the limit must follow it.
func TestRevisionNameLimitFitsTheCharts(t *testing.T) {
	resources := chartstest.Dir(t)
	env := Env{Catalog: catalog.Embedded(), Platform: values.Kubernetes, Resources: os.DirFS(resources)}
	renderer, err := render.New(env.Resources, render.Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range catalog.Embedded().Versions() {
		for _, n := range []int{maxRevisionName, maxRevisionName + 1} {
			t.Run(fmt.Sprintf("%s/%d", v.Name, n), func(t *testing.T) {
				in := istio(strings.Repeat("m", n), v1.UpdateStrategyInPlace, v.Name)
				// The revision as the Istio controller would write it, were its name not checked.
				rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: in.Name},
					Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(v.Name), Namespace: DefaultIstioNamespace}}
				_, profiles, _, err := env.inputs(v.Name, nil)
				if err != nil {
					t.Fatal(err)
				}
				vals, err := values.ControlPlane(values.ControlPlaneInput{Profiles: profiles, Platform: env.Platform, Revision: rev.Name, Namespace: rev.Spec.Namespace})
				if err != nil {
					t.Fatal(err)
				}
				rev.Spec.Values = &v1.Values{}
				if err := values.ToObject(vals, rev.Spec.Values); err != nil {
					t.Fatal(err)
				}
				plan := env.ForRevision(rev, &Facts{})
				if plan.Refusal != nil {
					t.Fatal(plan.Refusal)
				}
				_, renderErr := renderer.Render(plan.Charts[0])
				_, revisionErr := env.RevisionOf(in)
				if n <= maxRevisionName {
					if renderErr != nil || revisionErr != nil {
						t.Fatalf("a %d-character revision name: Revision gave %v, and rendering gave %v", n, revisionErr, renderErr)
					}
					return
				}
				var invalid *render.InvalidObjectError
				if !errors.As(renderErr, &invalid) {
					t.Errorf("a %d-character revision name rendered without the API server's refusal: %v", n, renderErr)
				}
				if revisionErr == nil {
					t.Errorf("Revision accepted a %d-character revision name", n)
				}
			})
		}
	}
}

func TestCRDChartIsTheNewestVersionInUse(t *testing.T) {
	req, ok := testEnv().ForCRDs(running("v1.25.0-snapshot.be4b14ad", "v1.31.0-snapshot.eed52ebb", "v1.99.0", "v1.27.0-snapshot.b9159ca3"))
	if !ok {
		t.Fatal("no CRD chart for three known versions")
	}
	if req.Version != "v1.31.0-snapshot.eed52ebb" || req.Chart != render.ChartBase {
		t.Errorf("CRDs come from %s's %s chart, want the newest version's base chart", req.Version, req.Chart)
	}
	for _, versions := range [][]string{nil, {"v1.99.0"}} {
		if req, ok := testEnv().ForCRDs(running(versions...)); ok {
			t.Errorf("versions %q gave the CRDs of %s, want none", versions, req.Version)
		}
	}
}

func TestCRDsOfAnOlderVersionNeedNoApply(t *testing.T) {
	e := testEnv()
	cases := []struct {
		version, applied string
		upToDate         bool
	}{
		{v127, "", false},
		{v127, v125, false},
		{v127, v127, true},
		{v125, v127, true},
		{v125, v131, true},
		{"v1.99.0", v127, false},
	}
	for _, c := range cases {
		if got := e.CRDsUpToDate(c.version, c.applied); got != c.upToDate {
			t.Errorf("CRDs of %s once those of %q were applied: up to date %v, want %v", c.version, c.applied, got, c.upToDate)
		}
	}
}

func TestCheckSkew(t *testing.T) {
	v := func(s string) catalog.Version { return catalog.Version{Name: "v" + s, Semver: semver.MustParse(s)} }
	cases := []struct {
		component, controlPlane string
		ok                      bool
	}{
		{"1.27.0", "1.27.3", true},
		{"1.26.2", "1.27.0", true},
		{"1.25.0", "1.27.0", false},
		{"1.28.0", "1.27.0", false}, // a data plane never runs ahead of its control plane
		{"2.0.0", "1.27.0", false},
	}
	for _, tc := range cases {
		err := CheckSkew("ZTunnel", v(tc.component), v(tc.controlPlane))
		if (err == nil) != tc.ok {
			t.Errorf("ZTunnel %s with control plane %s: %v", tc.component, tc.controlPlane, err)
		}
	}
	err := CheckSkew("ZTunnel", v("1.25.0"), v("1.27.0"))
	const want = "ZTunnel runs Istio 1.25, which must be the control plane's minor version (1.27) or one behind; set its spec.version to v1.27-latest or v1.26-latest"
	if err == nil || err.Error() != want {
		t.Errorf("message %v, want %q", err, want)
	}
}

func TestZTunnelFollowsItsTarget(t *testing.T) {
	target := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.IstioRevisionSpec{Version: "v1.31.0-snapshot.eed52ebb", Namespace: "istio-system"}}
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.ZTunnelSpec{Version: "v1.25-latest",
		TargetRef: &v1.TargetReference{Kind: v1.KindIstioRevision, Name: "default"}}}
	var skew *SkewError
	plan := testEnv().ForZTunnel(zt, &Facts{Revisions: map[string]*v1.IstioRevision{"default": target}})
	if !errors.As(errOf(plan.Refusal), &skew) || plan.Refusal.Reason != v1.ReasonVersionSkew {
		t.Errorf("a 1.25 ZTunnel on a 1.31 control plane gave %v, want a VersionSkew refusal", plan.Refusal)
	}
}

// pinnedEnv has a vendor catalog: one version, pinned images, and a default the built-in catalog does
// not have.
func pinnedEnv(t *testing.T) Env {
	t.Helper()
	c, err := catalog.Parse([]byte(`
default: v1.29-latest
versions:
  - name: v1.29.6
    module: istio.io/istio
    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5
    images:
      istiod: registry.example.com/istio/pilot:1.29.6
      proxy: registry.example.com/istio/proxyv2:1.29.6
      cni: registry.example.com/istio/install-cni:1.29.6
      ztunnel: registry.example.com/istio/ztunnel:1.29.6
aliases:
  - name: v1.29-latest
    ref: v1.29.6
`))
	if err != nil {
		t.Fatal(err)
	}
	resources := fstest.MapFS{
		"v1.29.6/profiles/default.yaml": &fstest.MapFile{Data: []byte("spec:\n  values:\n    global:\n      configValidation: true\n")},
		"v1.29.6/profiles/ambient.yaml": &fstest.MapFile{Data: []byte("spec:\n  values:\n    profile: ambient\n")},
	}
	return Env{Catalog: c, Platform: values.Kubernetes, Resources: resources}
}

// TestEmptyVersionIsTheCatalogsDefault checks every place that resolves spec.version: where no
// admission policy set the default (the operator has not installed it yet), an empty version means the
// default of the catalog bosun runs with.
func TestEmptyVersionIsTheCatalogsDefault(t *testing.T) {
	for _, env := range []Env{testEnv(), pinnedEnv(t)} {
		want, err := env.Catalog.Resolve(env.Catalog.Default())
		if err != nil {
			t.Fatal(err)
		}
		rev, refusal := env.RevisionOf(istio("default", "", ""))
		if refusal != nil {
			t.Fatal(refusal)
		}
		if string(rev.Spec.Version) != want.Name {
			t.Errorf("an Istio without a version gets revision version %s, want %s", rev.Spec.Version, want.Name)
		}
		cniPlan := env.ForCNI(&v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, &Facts{})
		ztPlan := env.ForZTunnel(&v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, &Facts{})
		if cniPlan.Refusal != nil || ztPlan.Refusal != nil {
			t.Fatal(cniPlan.Refusal, ztPlan.Refusal)
		}
		cni, zt := cniPlan.Charts, ztPlan.Charts
		if cni[0].Version != want.Name || zt[0].Version != want.Name {
			t.Errorf("IstioCNI renders %s and ZTunnel %s, want %s", cni[0].Version, zt[0].Version, want.Name)
		}
	}
}

// TestPinnedImagesReachEveryChart checks that a version's image pins are in the values of each of its
// charts, and that an IstioRevision stores istiod's and the proxy's, so the revision's charts render
// them without the catalog.
func TestPinnedImagesReachEveryChart(t *testing.T) {
	env := pinnedEnv(t)
	rev, refusal := env.RevisionOf(istio("default", "", "v1.29-latest"))
	if refusal != nil {
		t.Fatal(refusal)
	}
	if p := rev.Spec.Values.Pilot; p == nil || p.Image == nil || *p.Image != "registry.example.com/istio/pilot:1.29.6" {
		t.Errorf("the revision's pilot.image = %+v, want the pin", p)
	}
	if g := rev.Spec.Values.Global; g == nil || g.Proxy == nil || g.Proxy.Image == nil || *g.Proxy.Image != "registry.example.com/istio/proxyv2:1.29.6" ||
		g.ProxyInit == nil || g.ProxyInit.Image == nil || *g.ProxyInit.Image != "registry.example.com/istio/proxyv2:1.29.6" {
		t.Errorf("the revision's global.proxy and proxy_init images are not the pin: %+v", g)
	}
	cni := env.ForCNI(&v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, &Facts{})
	if cni.Refusal != nil {
		t.Fatal(cni.Refusal)
	}
	if got, _ := values.Get(cni.Charts[0].Values, "cni", "image"); got != "registry.example.com/istio/install-cni:1.29.6" {
		t.Errorf("IstioCNI cni.image = %v, want the pin", got)
	}
	rev.Name = "default"
	zt := env.ForZTunnel(&v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.ZTunnelSpec{
		TargetRef: &v1.TargetReference{Kind: v1.KindIstioRevision, Name: "default"}}}, &Facts{Revisions: map[string]*v1.IstioRevision{"default": rev}})
	if zt.Refusal != nil {
		t.Fatal(zt.Refusal)
	}
	if got, _ := values.Get(zt.Charts[0].Values, "image"); got != "registry.example.com/istio/ztunnel:1.29.6" {
		t.Errorf("ZTunnel image = %v, want the pin", got)
	}

	hub := "mirror.example.com/istio"
	in := istio("default", "", "v1.29-latest")
	in.Spec.Values = &v1.Values{Global: &v1.GlobalConfig{Hub: &hub}}
	mirrored, refusal := env.RevisionOf(in)
	if refusal != nil {
		t.Fatal(refusal)
	}
	if p := mirrored.Spec.Values.Pilot; p != nil && p.Image != nil {
		t.Errorf("with the user's global.hub, pilot.image = %s; the pin must give way", *p.Image)
	}
}

// TestSkewWith: a node agent's version, an alias or concrete, is checked against each control plane in
// turn; the refusal names the first revision it does not fit, and an unknown version is an error of
// its own.
func TestSkewWith(t *testing.T) {
	rev := func(name, version string) *v1.IstioRevision {
		return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version)}}
	}
	old, mid, newest := rev("old", "v1.25.0-snapshot.be4b14ad"), rev("mid", "v1.27.0-snapshot.b9159ca3"), rev("new", "v1.31.0-snapshot.eed52ebb")
	cases := []struct {
		name, version string
		revs          []*v1.IstioRevision
		skewedWith    string
	}{
		{"no control plane", "v1.25-latest", nil, ""},
		{"same minor, by alias", "v1.27-latest", []*v1.IstioRevision{mid}, ""},
		{"two minors behind", "v1.25-latest", []*v1.IstioRevision{mid}, "mid"},
		{"ahead of an old revision beside a new one", "v1.27-latest", []*v1.IstioRevision{mid, old}, "old"},
		{"behind the newest", "v1.27-latest", []*v1.IstioRevision{mid, newest}, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := testEnv().skewWith("IstioCNI default", tc.version, tc.revs)
			var skew *SkewError
			switch {
			case tc.skewedWith == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.skewedWith != "" && !errors.As(err, &skew):
				t.Errorf("got %v, want a SkewError", err)
			case tc.skewedWith != "" && (skew.Revision != tc.skewedWith || !strings.Contains(err.Error(), "IstioRevision "+tc.skewedWith)):
				t.Errorf("the refusal %q names revision %q, want %q", err, skew.Revision, tc.skewedWith)
			}
		})
	}
	var skew *SkewError
	if err := testEnv().skewWith("IstioCNI default", "v1.19.0", []*v1.IstioRevision{mid}); err == nil || errors.As(err, &skew) {
		t.Errorf("an unknown version gave %v, want an error that is not a SkewError", err)
	}
}

// TestTagHoldsName: a revision and a tag of one name cannot both act (§2.2 step 2). The tag keeps the
// name only when it was created in an earlier second than the revision, or the revision is not created
// yet; within one second the revision keeps it, whatever the UIDs, so the answer is the one render
// gives; a tag not created yet (a manifest) holds nothing.
func TestTagHoldsName(t *testing.T) {
	at := func(sec int64, uid string) metav1.ObjectMeta {
		m := metav1.ObjectMeta{UID: types.UID(uid)}
		if sec > 0 {
			m.CreationTimestamp = metav1.Unix(sec, 0)
		}
		return m
	}
	cases := []struct {
		name     string
		tag, rev metav1.ObjectMeta
		want     bool
	}{
		{"the tag is older", at(10, "b"), at(20, "a"), true},
		{"the revision is older", at(20, "a"), at(10, "b"), false},
		{"the same second, the tag's UID smaller", at(10, "a"), at(10, "b"), false},
		{"the same second, the revision's UID smaller", at(10, "b"), at(10, "a"), false},
		{"the revision not created yet", at(10, "a"), at(0, ""), true},
		{"the tag not created yet", at(0, ""), at(10, "a"), false},
		{"neither created", at(0, ""), at(0, ""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tag, rev := &v1.IstioRevisionTag{ObjectMeta: tc.tag}, &v1.IstioRevision{ObjectMeta: tc.rev}
			if got := TagHoldsName(tag, rev); got != tc.want {
				t.Errorf("TagHoldsName = %t, want %t", got, tc.want)
			}
		})
	}
}

// errOf turns a refusal into an error for errors.As: nil stays nil.
func errOf(r *Refusal) error {
	if r == nil {
		return nil
	}
	return r
}

// running are the facts of a cluster whose revisions run the given versions.
func running(versions ...string) *Facts {
	f := &Facts{Revisions: map[string]*v1.IstioRevision{}}
	for i, v := range versions {
		name := fmt.Sprintf("rev-%d", i)
		f.Revisions[name] = &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(v)}}
	}
	return f
}
