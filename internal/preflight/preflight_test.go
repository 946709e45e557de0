package preflight

import (
	"errors"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
	v131 = "v1.31.0-snapshot.eed52ebb"
)

func revision(name, version string) *v1.IstioRevision {
	return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version)}}
}

// TestChangeOf: a version change is an InPlace revision updated to another version, or a RevisionBased
// revision created beside the Istio's others, from the active one; a new Istio's first revision, a
// change of values alone and a refused spec are none.
func TestChangeOf(t *testing.T) {
	istio := &v1.Istio{Status: v1.IstioStatus{ActiveRevisionName: "default-v1-25-0"}}
	old, older := revision("default-v1-25-0", v125), revision("default-v1-24-0", "v1.24.0")
	for _, c := range []struct {
		name    string
		plan    desired.IstioPlan
		owned   []*v1.IstioRevision
		want    bool
		from    string
		inPlace bool
	}{
		{"InPlace version change", desired.IstioPlan{Revision: revision("default", v127), Existing: revision("default", v125)}, nil, true, v125, true},
		{"InPlace values change", desired.IstioPlan{Revision: revision("default", v125), Existing: revision("default", v125)}, nil, false, "", false},
		{"RevisionBased version change", desired.IstioPlan{Revision: revision("default-v1-27-0", v127)}, []*v1.IstioRevision{older, old}, true, v125, false},
		{"a new Istio", desired.IstioPlan{Revision: revision("default-v1-27-0", v127)}, nil, false, "", false},
		{"refused", desired.IstioPlan{Revision: revision("default", v131), Existing: revision("default", v125), Refusal: &desired.Refusal{Reason: v1.ReasonVersionChangeNotAllowed}}, nil, false, "", false},
	} {
		ch, ok := ChangeOf(istio, c.plan, c.owned)
		if ok != c.want || (ok && (ch.From != c.from || ch.InPlace != c.inPlace)) {
			t.Errorf("%s: change %+v %v, want %v from %s (InPlace %v)", c.name, ch, ok, c.want, c.from, c.inPlace)
		}
	}
}

// TestCheck: each finding a user is told of before a version change, each on its own, and whether it
// refuses the change (hard) or warns (soft).
func TestCheck(t *testing.T) {
	env := desired.Env{Catalog: catalog.Embedded(), Platform: values.Kubernetes}
	moving := &v1.Istio{Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{UpdateWorkloads: true}}}
	plain := &v1.Istio{}
	allowed := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{desired.AnnotationAllowMinorSkip: "true"}}}
	target := revision("default", v127)
	ambient := revision("default", v131)
	ambient.Spec.Values = &v1.Values{Profile: ptr.To("ambient")}
	facts := func() *desired.Facts {
		return &desired.Facts{Revisions: map[string]*v1.IstioRevision{"default": target}, Tags: map[string]*v1.IstioRevisionTag{"stable": {}}}
	}
	pod := func(name, proxy string) inuse.Pod {
		return inuse.Pod{Namespace: "shop", Name: name, Annotations: map[string]string{inuse.AnnotationRev: "default", values.AnnotationProxyVersion: proxy}}
	}
	outsideSkew := func(s *Snapshot) { s.Pods = []inuse.Pod{pod("cart", v125), pod("web", "v1.26.1")} }
	const skewed = "1 pod runs a proxy outside the skew Istio supports beside " + v127 + " (its minor version or one behind) and keeps it until it restarts: shop/cart (" + v125 + ")"
	for _, c := range []struct {
		name          string
		istio         *v1.Istio
		ch            Change
		snap          func(*Snapshot)
		want          string
		hard, recheck bool
	}{
		{"nothing to say", plain, Change{From: v125, To: v127, Target: target, InPlace: true}, func(s *Snapshot) {
			s.Pods = []inuse.Pod{pod("cart", "v1.26.1")}
			s.Namespaces = []inuse.Namespace{{Name: "shop", Labels: map[string]string{inuse.LabelRev: "default"}}, {Name: "web", Labels: map[string]string{inuse.LabelRev: "stable"}}}
		}, "", false, false},
		{"proxies outside the skew under InPlace, nothing to restart them", plain, Change{From: v125, To: v127, Target: target, InPlace: true}, outsideSkew,
			skewed + "; restart them first (kubectl rollout restart), set spec.updateStrategy.updateWorkloads: true", true, true},
		{"proxies outside the skew that updateWorkloads restarts", moving, Change{From: v125, To: v127, Target: target, InPlace: true}, outsideSkew,
			skewed + "; bosun restarts them right after the update (updateWorkloads)", false, false},
		{"proxies outside the skew the owner allowed", allowed, Change{From: v125, To: v127, Target: target, InPlace: true}, outsideSkew,
			skewed + "; the annotation " + desired.AnnotationAllowMinorSkip + " lets the update go ahead", false, false},
		{"RevisionBased leaves old proxies with the old control plane", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Pods = []inuse.Pod{pod("cart", v125)}
		}, "", false, false},
		{"a node agent the new version does not support", plain, Change{From: v127, To: v131, Target: ambient, InPlace: true}, func(s *Snapshot) {
			s.Facts.ZTunnel = &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.ZTunnelSpec{Version: v127}}
		}, "ZTunnel default runs Istio 1.27, which must be the control plane's minor version (1.31", true, false},
		{"values the new version's charts refuse", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Render = errors.New("unknown compatibility version 1.23")
		}, "the charts of " + v127 + " refuse the Istio's values: unknown compatibility version 1.23; change spec.values so that " + v127 + " accepts them, or keep spec.version at " + v125, true, false},
		{"a budget that will hold the move", moving, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Budgets = []Budget{{Namespace: "shop", Name: "cart"}}
		}, "PodDisruptionBudget shop/cart allows no disruption: bosun will skip the workloads it covers", false, false},
		{"budgets do not matter when bosun does not move the workloads", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Budgets = []Budget{{Namespace: "shop", Name: "cart"}}
		}, "", false, false},
		{"a namespace labelled for nothing", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Namespaces = []inuse.Namespace{{Name: "legacy", Labels: map[string]string{inuse.LabelRev: "canary"}}}
		}, "namespaces labelled for a revision or tag that does not exist: legacy (canary); their pods lose their sidecar when they restart: label them for default or create the tag", false, false},
	} {
		s := Snapshot{Facts: facts()}
		c.snap(&s)
		c.ch.Running = revision("default-v1-25-0", c.ch.From)
		findings := Check(env, c.istio, c.ch, s)
		got := strings.Join(messages(findings), "; ")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: findings %q, want %q", c.name, got, c.want)
		}
		if len(findings) > 1 {
			t.Errorf("%s: %d findings, want one: %q", c.name, len(findings), got)
		}
		cond, refusal := Condition(c.ch, findings), Refusal(c.ch, findings)
		wantStatus, wantReason := metav1.ConditionFalse, v1.ReasonPreflightWarnings
		switch {
		case c.want == "":
			wantStatus, wantReason = metav1.ConditionTrue, v1.ReasonPreflightPassed
		case c.hard:
			wantReason = v1.ReasonPreflightFailed
		}
		if cond.Type != v1.ConditionUpdatePreflight || cond.Status != wantStatus || cond.Reason != wantReason || !strings.Contains(cond.Message, "the change from "+c.ch.From+" to "+c.ch.To) {
			t.Errorf("%s: condition %+v, want %s %s", c.name, cond, wantStatus, wantReason)
		}
		switch {
		case !c.hard && refusal != nil:
			t.Errorf("%s: refused (%v), want the change to go ahead", c.name, refusal)
		case c.hard && refusal == nil:
			t.Errorf("%s: not refused, want a refusal", c.name)
		case c.hard:
			wantMsg := "the change from " + c.ch.From + " to " + c.ch.To + " is refused until its pre-flight checks pass; nothing of it was applied and IstioRevision default-v1-25-0 keeps serving " + c.ch.From + ": " + c.want
			if refusal.Reason != v1.ReasonPreflightFailed || !strings.HasPrefix(refusal.Error(), wantMsg) || refusal.Recheck != c.recheck || refusal.Waiting {
				t.Errorf("%s: refusal %s %q (recheck %v), want %s %q (recheck %v)", c.name, refusal.Reason, refusal.Error(), refusal.Recheck, v1.ReasonPreflightFailed, wantMsg, c.recheck)
			}
		}
	}
}

// TestRefusalTellsOnlyTheHardFindings: a change with a hard and a soft finding is refused for the hard
// one, and its condition lists both.
func TestRefusalTellsOnlyTheHardFindings(t *testing.T) {
	ch := Change{From: v125, To: v127, Target: revision("default-v1-27-0", v127), Running: revision("default-v1-25-0", v125)}
	findings := []Finding{{Message: "soft one"}, {Message: "hard one", Hard: true}}
	r := Refusal(ch, findings)
	if r == nil || !strings.HasSuffix(r.Error(), ": hard one") {
		t.Fatalf("refusal %v, want one that tells the hard finding only", r)
	}
	if c := Condition(ch, findings); c.Reason != v1.ReasonPreflightFailed || !strings.HasSuffix(c.Message, "was checked and refused: soft one; hard one") {
		t.Errorf("condition %+v, want PreflightFailed listing both", c)
	}
}

// TestRenderTargetFindsValuesTheNewChartsRefuse: a compatibilityVersion Istio 1.25's charts know and
// 1.27's dropped renders with the first and is a hard finding against the second, with the chart's own
// words.
func TestRenderTargetFindsValuesTheNewChartsRefuse(t *testing.T) {
	dir := chartstest.Dir(t)
	env := desired.Env{Catalog: catalog.Embedded(), Platform: values.Kubernetes, Resources: os.DirFS(dir)}
	renderer, err := render.New(os.DirFS(dir), render.Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Env: env, Renderer: renderer}
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.IstioSpec{Namespace: "istio-system", Values: &v1.Values{CompatibilityVersion: ptr.To("1.23")}}}
	for _, c2 := range []struct {
		version string
		want    string
	}{{v125, ""}, {v127, "unknown compatibility version 1.23"}} {
		istio.Spec.Version = v1.IstioVersion(c2.version)
		rev, refusal := env.RevisionOf(istio)
		if refusal != nil {
			t.Fatalf("%s: %v", c2.version, refusal)
		}
		err := c.renderTarget(Change{Target: rev})
		if (err == nil) != (c2.want == "") || (err != nil && !strings.Contains(err.Error(), c2.want)) {
			t.Errorf("%s: render %v, want %q", c2.version, err, c2.want)
		}
	}
}
