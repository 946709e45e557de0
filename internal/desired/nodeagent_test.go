package desired

import (
	"strings"
	"testing"
	"testing/fstest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
)

// cniRevision is a revision that needs the CNI.
func cniRevision(name, version string) *v1.IstioRevision {
	yes := true
	rev := revision(name, version, 1)
	rev.Spec.Values = &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}
	return rev
}

// ambientRevision is a revision in ambient mode: it needs ztunnel.
func ambientRevision(name, version string) *v1.IstioRevision {
	ambient := "ambient"
	rev := revision(name, version, 1)
	rev.Spec.Values = &v1.Values{Profile: &ambient}
	return rev
}

// TestForCNI: the CNI renders the cni chart into its namespace, unless the namespace is missing or
// its version does not fit a control plane that needs it: its minor or one behind, never ahead. A
// retiring revision does not count, and neither does a revision that does not need the CNI of bosun.
func TestForCNI(t *testing.T) {
	cni := func(version string) *v1.IstioCNI {
		return &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: v1.IstioVersion(version)}}
	}
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v131)
	prod.UID = "uid-prod"
	retiring := ownedBy(cniRevision("prod-v1-25-0-snapshot-be4b14ad", v125), prod)
	ns := []string{DefaultCNINamespace}
	cases := []struct {
		name     string
		cni      *v1.IstioCNI
		facts    *Facts
		external bool
		reason   string
	}{
		{"no control plane", cni("v1.27-latest"), facts(ns), false, ""},
		{"its namespace does not exist", cni("v1.27-latest"), facts([]string{}), false, v1.ReasonNamespaceNotFound},
		{"the control plane's minor", cni("v1.27-latest"), facts(ns, cniRevision("a", v127)), false, ""},
		{"ahead of a control plane", cni("v1.31-latest"), facts(ns, cniRevision("a", v127)), false, v1.ReasonVersionSkew},
		{"two minors behind", cni("v1.25-latest"), facts(ns, cniRevision("a", v127)), false, v1.ReasonVersionSkew},
		{"a control plane that does not need the CNI", cni("v1.25-latest"), facts(ns, revision("a", v127, 1)), false, ""},
		{"a retiring revision does not hold it back", cni("v1.31-latest"), facts(ns, prod, retiring, cniRevision("prod-v1-31-0-snapshot-eed52ebb", v131)), false, ""},
		{"another tool manages the CNI", cni("v1.31-latest"), facts(ns, cniRevision("a", v127)), true, ""},
		{"a version bosun does not know", cni("v1.19.0"), facts(ns), false, v1.ReasonReconcileError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv()
			if tc.external {
				env.External = inuse.Needs{CNI: true}
			}
			plan := env.ForCNI(tc.cni, tc.facts)
			if got := reasonOf(plan.Refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, plan.Refusal, tc.reason)
			}
			if plan.Refusal == nil && (len(plan.Charts) != 1 || plan.Charts[0].Chart != render.ChartCNI || plan.Charts[0].Namespace != DefaultCNINamespace) {
				t.Errorf("charts %+v, want the cni chart in %s", plan.Charts, DefaultCNINamespace)
			}
		})
	}
	plan := testEnv().ForCNI(cni("v1.31-latest"), facts(ns, cniRevision("a", v127)))
	if want := "IstioCNI default runs Istio 1.31, which must be the control plane's minor version (1.27, IstioRevision a) or one behind"; plan.Refusal == nil || !strings.Contains(plan.Refusal.Error(), want) {
		t.Errorf("the refusal %v does not say %q", plan.Refusal, want)
	}
}

// TestZTunnelStaysDuringARevisionBasedUpdate: during a RevisionBased update from one minor to the
// next, ztunnel, still on the old minor, keeps following the old revision until the new one is ready,
// and then moves to it, with no version refused on the way (updating §4: control plane, then ztunnel).
func TestZTunnelStaysDuringARevisionBasedUpdate(t *testing.T) {
	cat, err := catalog.Parse([]byte(`default: v1.27.2
versions:
  - {name: v1.27.2, module: m, moduleVersion: v0}
  - {name: v1.26.1, module: m, moduleVersion: v0}
aliases:
  - {name: v1.26-latest, ref: v1.26.1}
  - {name: v1.27-latest, ref: v1.27.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	env.Catalog = cat
	env.Resources = fstest.MapFS{}
	for _, v := range []string{"v1.26.1", "v1.27.2"} {
		env.Resources.(fstest.MapFS)[v+"/profiles/ambient.yaml"] = &fstest.MapFile{Data: []byte("spec:\n  values:\n    profile: ambient\n")}
		env.Resources.(fstest.MapFS)[v+"/profiles/default.yaml"] = &fstest.MapFile{Data: []byte("spec:\n  values: {}\n")}
	}
	prod := istio("prod", v1.UpdateStrategyRevisionBased, "v1.27.2")
	prod.UID = "uid-prod"
	const old, cur = "prod-v1-26-1", "prod-v1-27-2"
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.ZTunnelSpec{Version: "v1.26-latest",
		TargetRef: &v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}}}
	zt.Status.IstioRevision = old
	oldRev := ownedBy(ready(ambientRevision(old, "v1.26.1"), true), prod)
	for _, tc := range []struct {
		name   string
		newRev *v1.IstioRevision
		target string
	}{
		{"the new revision is not created yet", nil, old},
		{"the new revision is not ready", ownedBy(ready(ambientRevision(cur, "v1.27.2"), false), prod), old},
		{"the new revision is ready", ownedBy(ready(ambientRevision(cur, "v1.27.2"), true), prod), cur},
	} {
		objs := []any{prod, oldRev}
		if tc.newRev != nil {
			objs = append(objs, tc.newRev)
		}
		plan := env.ForZTunnel(zt, facts([]string{DefaultZTunnelNamespace}, objs...))
		if plan.Refusal != nil || name(plan.Target) != tc.target {
			t.Errorf("%s: follows %q (refusal %v), want %q", tc.name, name(plan.Target), plan.Refusal, tc.target)
		}
	}
}

// TestForZTunnel: ztunnel follows the revision its targetRef resolves to, keeps following the one it
// follows while the new one is not decided or not created, and fits the version of its target and of
// every ambient control plane.
func TestForZTunnel(t *testing.T) {
	zt := func(version, targetKind, target, current string) *v1.ZTunnel {
		z := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.ZTunnelSpec{Version: v1.AmbientVersion(version)}}
		if target != "" {
			z.Spec.TargetRef = &v1.TargetReference{Kind: targetKind, Name: target}
		}
		z.Status.IstioRevision = current
		return z
	}
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v127)
	prod.UID = "uid-prod"
	const old, cur = "prod-v1-25-0-snapshot-be4b14ad", "prod-v1-27-0-snapshot-b9159ca3"
	oldRev := ownedBy(ready(ambientRevision(old, v125), true), prod)
	ns := []string{DefaultZTunnelNamespace}
	cases := []struct {
		name   string
		zt     *v1.ZTunnel
		facts  *Facts
		reason string
		target string
	}{
		{"no targetRef", zt("v1.27-latest", "", "", ""), facts(ns), "", ""},
		{"its namespace does not exist", zt("v1.27-latest", "", "", ""), facts(nil), "", ""},
		{"an Istio's revision", zt("v1.27-latest", v1.KindIstio, "prod", ""), facts(ns, prod, ready(ambientRevision(cur, v127), true)), "", cur},
		{"the Istio's new revision is not created yet: it keeps its target", zt("v1.25-latest", v1.KindIstio, "prod", old), facts(ns, prod, oldRev), "", old},
		{"nothing to keep: it waits", zt("v1.27-latest", v1.KindIstio, "prod", ""), facts(ns, prod), "waiting:" + v1.ReasonRefNotFound, ""},
		{"an Istio that does not exist", zt("v1.27-latest", v1.KindIstio, "gone", old), facts(ns, oldRev), v1.ReasonRefNotFound, ""},
		{"a revision that does not exist", zt("v1.27-latest", v1.KindIstioRevision, "gone", ""), facts(ns), v1.ReasonRefNotFound, ""},
		{"behind its target by two minors", zt("v1.25-latest", v1.KindIstioRevision, "a", ""), facts(ns, ambientRevision("a", v127)), v1.ReasonVersionSkew, ""},
		{"ahead of an ambient control plane it does not follow", zt("v1.31-latest", "", "", ""), facts(ns, ambientRevision("a", v127)), v1.ReasonVersionSkew, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.facts.Namespaces == nil && tc.name == "its namespace does not exist" {
				tc.facts = facts([]string{})
				tc.reason = v1.ReasonNamespaceNotFound
			}
			plan := testEnv().ForZTunnel(tc.zt, tc.facts)
			if got := reasonOf(plan.Refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, plan.Refusal, tc.reason)
			}
			if name(plan.Target) != tc.target {
				t.Errorf("follows %q, want %q", name(plan.Target), tc.target)
			}
			if plan.Refusal == nil && (len(plan.Charts) != 1 || plan.Charts[0].Chart != render.ChartZTunnel || plan.Charts[0].Namespace != DefaultZTunnelNamespace) {
				t.Errorf("charts %+v, want the ztunnel chart in %s", plan.Charts, DefaultZTunnelNamespace)
			}
		})
	}
}
