package desired

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// mesh is an InPlace Istio in its own namespace whose discovery selectors are the given label sets,
// one selector each (none: it discovers every namespace), with its revision, as the Istio controller
// made it.
func mesh(name string, selectors ...labels.Set) (*v1.Istio, *v1.IstioRevision) {
	i := istio(name, v1.UpdateStrategyInPlace, v127)
	i.UID = types.UID("uid-" + name)
	i.Spec.Namespace = "istio-" + name
	if len(selectors) > 0 {
		i.Spec.Values = &v1.Values{MeshConfig: &v1.MeshConfig{}}
		for _, s := range selectors {
			i.Spec.Values.MeshConfig.DiscoverySelectors = append(i.Spec.Values.MeshConfig.DiscoverySelectors, v1.LabelSelector{MatchLabels: labelValues(s)})
		}
	}
	return i, ownedBy(revision(name, v127, 1), i)
}

// withNamespaces adds every namespace's labels to the facts.
func withNamespaces(f *Facts, ns map[string]labels.Set) *Facts {
	f.AllNamespaces = ns
	return f
}

// TestScope: two meshes that claim one namespace, by their discovery selectors or by the namespace's
// injection labels, both see the conflict, naming the namespace and how each claims it; meshes kept
// apart see none, and neither do Istios that run no istiod here.
func TestScope(t *testing.T) {
	mesh1, rev1 := mesh("mesh1", labels.Set{"mesh": "mesh1"})
	mesh2, rev2 := mesh("mesh2", labels.Set{"mesh": "mesh2"})
	wide2, wideRev2 := mesh("mesh2", labels.Set{"mesh": "mesh2"}, labels.Set{"team": "shop"})
	everything2, everythingRev2 := mesh("mesh2")
	alone1, aloneRev1 := mesh("mesh1")
	remote2, remoteRev2 := mesh("mesh2")
	remote2.Spec.Profile = "remote"
	valuesRemote2, valuesRemoteRev2 := mesh("mesh2")
	yes := true
	valuesRemote2.Spec.Values = &v1.Values{IstiodRemote: &v1.IstiodRemoteConfig{Enabled: &yes}}
	gone2, goneRev2 := mesh("mesh2")
	deleting(gone2)
	apart := map[string]labels.Set{
		"istio-mesh1": {"mesh": "mesh1"},
		"istio-mesh2": {"mesh": "mesh2"},
		"shop":        {"mesh": "mesh1", "team": "shop", "istio.io/rev": "mesh1"},
		"billing":     {"mesh": "mesh2", "istio.io/rev": "mesh2"},
		"kube-system": {},
	}
	with := func(extra map[string]labels.Set) map[string]labels.Set {
		out := map[string]labels.Set{}
		for k, v := range apart {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name  string
		facts *Facts
		// want are "namespace/other Istio" for mesh1; mesh2 must see the same namespaces with mesh1.
		want []string
		// why, when set, is what the first conflict must say.
		why string
	}{
		{name: "two meshes kept apart", facts: withNamespaces(facts(nil, mesh1, rev1, mesh2, rev2), apart)},
		{name: "one mesh alone, with no selectors", facts: withNamespaces(facts(nil, alone1, aloneRev1), apart)},
		{name: "namespaces not known (render)", facts: facts(nil, mesh1, rev1, everything2, everythingRev2)},
		{name: "both selectors select a namespace", facts: withNamespaces(facts(nil, mesh1, rev1, wide2, wideRev2), apart),
			want: []string{"shop/mesh2"}, why: "Istio mesh1: the namespace's injection labels name mesh1; Istio mesh2: its discovery selectors select it"},
		{name: "a mesh without selectors claims every namespace the other claims", facts: withNamespaces(facts(nil, mesh1, rev1, everything2, everythingRev2), apart),
			want: []string{"istio-mesh1/mesh2", "shop/mesh2"}, why: "Istio mesh1: its discovery selectors select it; Istio mesh2: has no discovery selectors, so it discovers every namespace"},
		{name: "a namespace labelled for one mesh that only the other selects",
			facts: withNamespaces(facts(nil, mesh1, rev1, mesh2, rev2), with(map[string]labels.Set{"orders": {"mesh": "mesh2", "istio.io/rev": "mesh1"}})),
			want:  []string{"orders/mesh2"}, why: "Istio mesh1: the namespace's injection labels name mesh1; Istio mesh2: its discovery selectors select it"},
		{name: "istio-injection=enabled is the mesh of the default tag",
			facts: withNamespaces(facts(nil, mesh1, rev1, mesh2, rev2, tagOf("default", v1.KindIstio, "mesh1", 2)), with(map[string]labels.Set{"orders": {"mesh": "mesh2", "istio-injection": "enabled"}})),
			want:  []string{"orders/mesh2"}, why: "Istio mesh1: the namespace's injection labels name default; Istio mesh2: its discovery selectors select it"},
		{name: "a tag's name on a namespace is the mesh it resolves to",
			facts: withNamespaces(facts(nil, mesh1, rev1, mesh2, rev2, tagOf("prod", v1.KindIstioRevision, "mesh1", 2)), with(map[string]labels.Set{"orders": {"mesh": "mesh2", "istio.io/rev": "prod"}})),
			want:  []string{"orders/mesh2"}},
		{name: "istio-injection=disabled claims nothing", facts: withNamespaces(facts(nil, mesh1, rev1, mesh2, rev2), with(map[string]labels.Set{"orders": {"mesh": "mesh2", "istio-injection": "disabled", "istio.io/rev": "mesh1"}}))},
		{name: "a remote-profile Istio runs no istiod here", facts: withNamespaces(facts(nil, mesh1, rev1, remote2, remoteRev2), apart)},
		{name: "an Istio remote by its values runs no istiod here", facts: withNamespaces(facts(nil, mesh1, rev1, valuesRemote2, valuesRemoteRev2), apart)},
		{name: "a tag on an Istio counts for it while the revision its spec asks for is not created yet",
			facts: withNamespaces(facts(nil, mesh1, mesh2, rev2, tagOf("prod", v1.KindIstio, "mesh1", 2)), with(map[string]labels.Set{"orders": {"mesh": "mesh2", "istio.io/rev": "prod"}})),
			want:  []string{"orders/mesh2"}, why: "Istio mesh1: the namespace's injection labels name prod; Istio mesh2: its discovery selectors select it"},
		{name: "an Istio being deleted is leaving", facts: withNamespaces(facts(nil, mesh1, rev1, gone2, goneRev2), apart)},
	}
	env := testEnv()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := env.Scope(tc.facts.Istios["mesh1"], tc.facts)
			if fmt.Sprint(keys(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("mesh1's conflicts %v, want %v", keys(got), tc.want)
			}
			if tc.why != "" && got[0].Why != tc.why {
				t.Errorf("why %q, want %q", got[0].Why, tc.why)
			}
			if other := tc.facts.Istios["mesh2"]; other != nil {
				back := keys(env.Scope(other, tc.facts))
				want := strings.ReplaceAll(fmt.Sprint(tc.want), "/mesh2", "/mesh1")
				if RunsIstiodHere(other) && fmt.Sprint(back) != want {
					t.Errorf("mesh2's conflicts %v, want %s: both meshes must see a conflict", back, want)
				}
			}
		})
	}
}

func keys(cs []ScopeConflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Namespace+"/"+strings.Join(c.Others, "+"))
	}
	return out
}

// TestScopeMessage: the message counts the namespaces, names a few with how each is claimed, and says
// what to change.
func TestScopeMessage(t *testing.T) {
	one := ScopeMessage([]ScopeConflict{{Namespace: "shop", Others: []string{"mesh2"}, Why: "both select it"}})
	for _, want := range []string{"1 namespace is claimed by more than one mesh", "namespace shop (both select it)", "spec.values.meshConfig.discoverySelectors"} {
		if !strings.Contains(one, want) {
			t.Errorf("%q lacks %q", one, want)
		}
	}
	var many []ScopeConflict
	for i := range 8 {
		many = append(many, ScopeConflict{Namespace: fmt.Sprintf("ns%d", i), Others: []string{"mesh2"}, Why: "x"})
	}
	msg := ScopeMessage(many)
	if !strings.Contains(msg, "8 namespaces are claimed") || !strings.Contains(msg, "ns4 (x); and 3 more") || strings.Contains(msg, "ns5") {
		t.Errorf("message %q: want 8 counted, the first five named and 3 more", msg)
	}
}

// TestScopeOfThreeMeshes: a namespace three meshes claim is one conflict, naming both others and how
// each claims it; a remote Istio's own scope is empty.
func TestScopeOfThreeMeshes(t *testing.T) {
	a, revA := mesh("a")
	b, revB := mesh("b")
	c, revC := mesh("c")
	f := withNamespaces(facts(nil, a, revA, b, revB, c, revC), map[string]labels.Set{"shop": {}})
	got := testEnv().Scope(a, f)
	if len(got) != 1 || got[0].Namespace != "shop" || strings.Join(got[0].Others, ",") != "b,c" ||
		got[0].Why != "Istio a: "+byAllNamespaces+"; Istio b: "+byAllNamespaces+"; Istio c: "+byAllNamespaces {
		t.Errorf("conflicts %+v, want one for shop naming b and c", got)
	}
	if msg := ScopeMessage(got); !strings.HasPrefix(msg, "1 namespace is claimed") {
		t.Errorf("message %q counts the namespace more than once", msg)
	}
	r, revR := mesh("r")
	r.Spec.Profile = "remote"
	if got := testEnv().Scope(r, withNamespaces(facts(nil, a, revA, r, revR), map[string]labels.Set{"shop": {}})); got != nil {
		t.Errorf("a remote Istio's scope %+v, want none", got)
	}
}

// labelValues is a label set as a selector's matchLabels.
func labelValues(set labels.Set) map[string]v1.LabelValue {
	out := map[string]v1.LabelValue{}
	for k, v := range set {
		out[k] = v1.LabelValue(v)
	}
	return out
}

// TestDiscovers: an Istio without discovery selectors discovers every namespace; with them, only those
// a selector selects.
func TestDiscovers(t *testing.T) {
	all := &v1.Istio{}
	some := &v1.Istio{Spec: v1.IstioSpec{Values: &v1.Values{MeshConfig: &v1.MeshConfig{DiscoverySelectors: []v1.LabelSelector{
		{MatchLabels: map[string]v1.LabelValue{"mesh": "blue"}},
		{MatchLabels: map[string]v1.LabelValue{"team": "web"}},
	}}}}}
	for _, c := range []struct {
		istio  *v1.Istio
		labels labels.Set
		want   bool
	}{
		{all, labels.Set{}, true},
		{some, labels.Set{"mesh": "blue"}, true},
		{some, labels.Set{"team": "web"}, true},
		{some, labels.Set{"mesh": "green"}, false},
		{some, labels.Set{"istio.io/rev": "blue-v1-27-0"}, false},
	} {
		if got := Discovers(c.istio, c.labels); got != c.want {
			t.Errorf("%v: discovered %v, want %v", c.labels, got, c.want)
		}
	}
}
