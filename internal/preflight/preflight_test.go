package preflight

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
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

// TestCheck: each finding a user is told of before a version change, each on its own.
func TestCheck(t *testing.T) {
	env := desired.Env{Catalog: catalog.Embedded(), Platform: values.Kubernetes}
	moving := &v1.Istio{Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{UpdateWorkloads: true}}}
	plain := &v1.Istio{}
	target := revision("default", v127)
	ambient := revision("default", v131)
	ambient.Spec.Values = &v1.Values{Profile: ptr.To("ambient")}
	facts := func() *desired.Facts {
		return &desired.Facts{Revisions: map[string]*v1.IstioRevision{"default": target}, Tags: map[string]*v1.IstioRevisionTag{"stable": {}}}
	}
	pod := func(name, proxy string) inuse.Pod {
		return inuse.Pod{Namespace: "shop", Name: name, Annotations: map[string]string{inuse.AnnotationRev: "default", values.AnnotationProxyVersion: proxy}}
	}
	for _, c := range []struct {
		name  string
		istio *v1.Istio
		ch    Change
		snap  func(*Snapshot)
		want  string
	}{
		{"nothing to say", plain, Change{From: v125, To: v127, Target: target, InPlace: true}, func(s *Snapshot) {
			s.Pods = []inuse.Pod{pod("cart", "v1.26.1")}
			s.Namespaces = []inuse.Namespace{{Name: "shop", Labels: map[string]string{inuse.LabelRev: "default"}}, {Name: "web", Labels: map[string]string{inuse.LabelRev: "stable"}}}
		}, ""},
		{"proxies outside the skew under InPlace", plain, Change{From: v125, To: v127, Target: target, InPlace: true}, func(s *Snapshot) {
			s.Pods = []inuse.Pod{pod("cart", v125), pod("web", "v1.26.1")}
		}, "1 pod runs a proxy outside the skew Istio supports beside " + v127 + " (its minor version or one behind) and keeps it until it restarts: shop/cart (" + v125 + ")"},
		{"RevisionBased leaves old proxies with the old control plane", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Pods = []inuse.Pod{pod("cart", v125)}
		}, ""},
		{"a node agent the new version does not support", plain, Change{From: v127, To: v131, Target: ambient, InPlace: true}, func(s *Snapshot) {
			s.Facts.ZTunnel = &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.ZTunnelSpec{Version: v127}}
		}, "ZTunnel default runs Istio 1.27, which must be the control plane's minor version (1.31"},
		{"a budget that will hold the move", moving, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Budgets = []Budget{{Namespace: "shop", Name: "cart"}}
		}, "PodDisruptionBudget shop/cart allows no disruption: bosun will skip the workloads it covers"},
		{"budgets do not matter when bosun does not move the workloads", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Budgets = []Budget{{Namespace: "shop", Name: "cart"}}
		}, ""},
		{"a namespace labelled for nothing", plain, Change{From: v125, To: v127, Target: target}, func(s *Snapshot) {
			s.Namespaces = []inuse.Namespace{{Name: "legacy", Labels: map[string]string{inuse.LabelRev: "canary"}}}
		}, "namespaces labelled for a revision or tag that does not exist: legacy (canary); their pods lose their sidecar when they restart: label them for default or create the tag"},
	} {
		s := Snapshot{Facts: facts()}
		c.snap(&s)
		got := strings.Join(Check(env, c.istio, c.ch, s), "; ")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: findings %q, want %q", c.name, got, c.want)
		}
		cond := Condition(c.ch, Check(env, c.istio, c.ch, s))
		wantStatus := metav1.ConditionFalse
		if c.want == "" {
			wantStatus = metav1.ConditionTrue
		}
		if cond.Type != v1.ConditionUpdatePreflight || cond.Status != wantStatus || !strings.Contains(cond.Message, "the change from "+c.ch.From+" to "+c.ch.To) {
			t.Errorf("%s: condition %+v", c.name, cond)
		}
	}
}
