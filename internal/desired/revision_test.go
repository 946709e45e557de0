package desired

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestForRevision: a revision renders istiod (and base when it is named default) into its namespace,
// unless an older tag holds its name, its namespace is missing or being deleted, or its version cannot
// be rendered. Offline (render), which namespaces exist is not known, and none is refused.
func TestForRevision(t *testing.T) {
	ns := []string{DefaultIstioNamespace}
	terminating := facts(ns)
	terminating.Namespaces[DefaultIstioNamespace] = Namespace{Terminating: true}
	cases := []struct {
		name   string
		rev    *v1.IstioRevision
		facts  *Facts
		reason string
		charts []string
	}{
		{"a revision", revision("prod", v127, 10), facts(ns), "", []string{render.ChartIstiod}},
		{"the revision named default also renders base", revision("default", v127, 10), facts(ns), "", []string{render.ChartIstiod, render.ChartBase}},
		{"offline, namespaces are not known", revision("prod", v127, 0), facts(nil), "", []string{render.ChartIstiod}},
		{"its namespace does not exist", revision("prod", v127, 10), facts([]string{"other"}), v1.ReasonNamespaceNotFound, nil},
		{"its namespace is being deleted", revision("prod", v127, 10), terminating, v1.ReasonNamespaceNotFound, nil},
		{"an older tag has its name", revision("prod", v127, 10), facts(ns, tagOf("prod", v1.KindIstio, "x", 5)), v1.ReasonNameAlreadyExists, nil},
		{"a newer tag of its name", revision("prod", v127, 5), facts(ns, tagOf("prod", v1.KindIstio, "x", 10)), "", []string{render.ChartIstiod}},
		{"a version bosun does not know", revision("prod", "v1.19.0", 10), facts(ns), v1.ReasonReconcileError, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := testEnv().ForRevision(tc.rev, tc.facts)
			if got := reasonOf(plan.Refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, plan.Refusal, tc.reason)
			}
			var charts []string
			for _, req := range plan.Charts {
				charts = append(charts, req.Chart)
				if req.Namespace != tc.rev.Spec.Namespace || req.Owner != (render.Owner{Kind: v1.KindIstioRevision, Name: tc.rev.Name}) ||
					req.ReleaseName != tc.rev.Name+"-"+req.Chart || req.Version != string(tc.rev.Spec.Version) {
					t.Errorf("request %+v", req)
				}
			}
			if strings.Join(charts, ",") != strings.Join(tc.charts, ",") {
				t.Errorf("charts %v, want %v", charts, tc.charts)
			}
		})
	}
	plan := testEnv().ForRevision(revision("prod", v127, 10), facts([]string{"other"}))
	if want := "namespace istio-system does not exist: create it (kubectl create namespace istio-system)"; plan.Refusal == nil || !strings.Contains(plan.Refusal.Error(), want) {
		t.Errorf("the refusal %v does not say %q", plan.Refusal, want)
	}
}

// TestDependencies: DependenciesHealthy checks each node agent the revision needs of bosun: it must
// exist, fit the revision's version (unless the revision is retiring) and be ready. The CNI comes
// first; an agent another tool manages is not checked.
func TestDependencies(t *testing.T) {
	ambient := "ambient"
	yes := true
	needsCNI := func(rev *v1.IstioRevision) *v1.IstioRevision {
		rev.Spec.Values = &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}
		return rev
	}
	needsBoth := func(rev *v1.IstioRevision) *v1.IstioRevision {
		rev.Spec.Values = &v1.Values{Profile: &ambient, Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}
		return rev
	}
	readyCond := []metav1.Condition{{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady}}
	cni := func(version string, isReady bool) *v1.IstioCNI {
		c := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: v1.IstioVersion(version)}}
		if isReady {
			c.Status.Conditions = readyCond
		}
		return c
	}
	zt := func(version string, isReady bool) *v1.ZTunnel {
		z := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.ZTunnelSpec{Version: v1.AmbientVersion(version)}}
		if isReady {
			z.Status.Conditions = readyCond
		}
		return z
	}
	prod := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "u1"}, Spec: v1.IstioSpec{Version: v131,
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased}}}
	retiring := ownedBy(needsCNI(revision("prod-v1-27-0-snapshot-b9159ca3", v127, 10)), prod)
	cases := []struct {
		name     string
		env      Env
		rev      *v1.IstioRevision
		objs     []any
		status   metav1.ConditionStatus
		reason   string
		external bool
	}{
		{"nothing needed", testEnv(), revision("prod", v127, 10), nil, metav1.ConditionTrue, v1.ReasonDependenciesHealthy, false},
		{"the CNI is missing", testEnv(), needsCNI(revision("prod", v127, 10)), nil, metav1.ConditionFalse, v1.ReasonIstioCNINotFound, false},
		{"the CNI is two minors behind", testEnv(), needsCNI(revision("prod", v127, 10)), []any{cni("v1.25-latest", true)}, metav1.ConditionFalse, v1.ReasonIstioCNIVersionSkew, false},
		{"the CNI's version is unknown", testEnv(), needsCNI(revision("prod", v127, 10)), []any{cni("v1.19.0", true)}, metav1.ConditionFalse, v1.ReasonIstioCNINotHealthy, false},
		{"the CNI is not ready", testEnv(), needsCNI(revision("prod", v127, 10)), []any{cni("v1.27-latest", false)}, metav1.ConditionFalse, v1.ReasonIstioCNINotHealthy, false},
		{"the CNI is ready", testEnv(), needsCNI(revision("prod", v127, 10)), []any{cni("v1.27-latest", true)}, metav1.ConditionTrue, v1.ReasonDependenciesHealthy, false},
		{"a retiring revision does not hold the CNI back", testEnv(), retiring, []any{prod, cni("v1.31-latest", true)}, metav1.ConditionTrue, v1.ReasonDependenciesHealthy, false},
		{"ambient: the CNI first", testEnv(), needsBoth(revision("prod", v127, 10)), nil, metav1.ConditionFalse, v1.ReasonIstioCNINotFound, false},
		{"ambient: then ztunnel", testEnv(), needsBoth(revision("prod", v127, 10)), []any{cni("v1.27-latest", true)}, metav1.ConditionFalse, v1.ReasonZTunnelNotFound, false},
		{"ambient: ztunnel ahead", testEnv(), needsBoth(revision("prod", v127, 10)), []any{cni("v1.27-latest", true), zt("v1.31-latest", true)}, metav1.ConditionFalse, v1.ReasonZTunnelVersionSkew, false},
		{"ambient: ztunnel not ready", testEnv(), needsBoth(revision("prod", v127, 10)), []any{cni("v1.27-latest", true), zt("v1.27-latest", false)}, metav1.ConditionFalse, v1.ReasonZTunnelNotHealthy, false},
		{"ambient: all ready", testEnv(), needsBoth(revision("prod", v127, 10)), []any{cni("v1.27-latest", true), zt("v1.27-latest", true)}, metav1.ConditionTrue, v1.ReasonDependenciesHealthy, false},
		{"another tool manages the CNI", testEnv(), needsCNI(revision("prod", v127, 10)), nil, metav1.ConditionTrue, v1.ReasonDependenciesHealthy, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if tc.external {
				env.External = inuse.Needs{CNI: true}
			}
			c := env.Dependencies(tc.rev, facts(nil, append(tc.objs, tc.rev)...))
			if c.Type != v1.ConditionDependenciesHealthy || c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("%s %s/%s (%s), want %s/%s", c.Type, c.Status, c.Reason, c.Message, tc.status, tc.reason)
			}
		})
	}
}

// TestIsRemote: a revision whose istiod runs elsewhere is one of the remote profile or with
// istiodRemote enabled.
func TestIsRemote(t *testing.T) {
	remote, yes, no := "remote", true, false
	for _, tc := range []struct {
		values *v1.Values
		want   bool
	}{
		{nil, false},
		{&v1.Values{Profile: &remote}, true},
		{&v1.Values{IstiodRemote: &v1.IstiodRemoteConfig{Enabled: &yes}}, true},
		{&v1.Values{IstiodRemote: &v1.IstiodRemoteConfig{Enabled: &no}}, false},
	} {
		if got := IsRemote(&v1.IstioRevision{Spec: v1.IstioRevisionSpec{Values: tc.values}}); got != tc.want {
			t.Errorf("IsRemote(%+v) = %t, want %t", tc.values, got, tc.want)
		}
	}
}

// TestIstiodName: the revision named default runs istiod; any other runs istiod-<revision>, from the
// values.revision the Istio controller computes.
func TestIstiodName(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct{ istio, want string }{{"default", "istiod"}, {"prod", "istiod-prod"}} {
		rev, refusal := env.RevisionOf(istio(tc.istio, v1.UpdateStrategyInPlace, v127))
		if refusal != nil {
			t.Fatal(refusal)
		}
		if got := IstiodName(rev); got != tc.want {
			t.Errorf("the revision %s runs %s, want %s", rev.Name, got, tc.want)
		}
	}
}

// TestReady: a revision is ready only when its Ready condition is True for its latest spec.
func TestReady(t *testing.T) {
	stale := ready(revision("r", v127, 1), true)
	stale.Generation = 2
	for _, tc := range []struct {
		rev  *v1.IstioRevision
		want bool
	}{
		{ready(revision("r", v127, 1), true), true},
		{ready(revision("r", v127, 1), false), false},
		{stale, false},
		{revision("r", v127, 1), false},
	} {
		if got := Ready(tc.rev); got != tc.want {
			t.Errorf("Ready(%+v) = %t, want %t", tc.rev.Status, got, tc.want)
		}
	}
}

// TestNeeds: what a revision needs of bosun is what its values use, less what another tool manages.
func TestNeeds(t *testing.T) {
	yes := true
	rev := revision("prod", v127, 1)
	rev.Spec.Values = &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}
	env := testEnv()
	if got := env.Needs(rev); got != (inuse.Needs{CNI: true}) {
		t.Errorf("Needs = %+v, want the CNI", got)
	}
	env.External = inuse.Needs{CNI: true}
	if got := env.Needs(rev); got != (inuse.Needs{}) {
		t.Errorf("with the CNI managed elsewhere, Needs = %+v, want nothing", got)
	}
	env.Platform = values.OpenShift
	env.External = inuse.Needs{}
	if got := env.Needs(revision("prod", v127, 1)); got != (inuse.Needs{CNI: true}) {
		t.Errorf("on OpenShift, Needs = %+v, want the CNI", got)
	}
}
