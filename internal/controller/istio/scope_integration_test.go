//go:build integration

package istio_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/render"
)

// scopedIstio is an InPlace Istio in namespace whose discovery selectors are the label sets given.
func scopedIstio(name, namespace string, selectors ...map[string]string) *v1.Istio {
	istio := newIstio(name, namespace, v1.UpdateStrategyInPlace, v127)
	istio.Spec.Values = &v1.Values{MeshConfig: &v1.MeshConfig{}}
	for _, s := range selectors {
		istio.Spec.Values.MeshConfig.DiscoverySelectors = append(istio.Spec.Values.MeshConfig.DiscoverySelectors, v1.LabelSelector{MatchLabels: labelValues(s)})
	}
	return istio
}

// scopeConflict checks an Istio's ScopeConflict condition: absent when want is "", else True and
// naming want.
func scopeConflict(want string) func(*v1.Istio) error {
	return func(istio *v1.Istio) error {
		c := operatortest.HasCondition(istio.Status.Conditions, v1.ConditionScopeConflict, metav1.ConditionTrue, v1.ReasonNamespacesShared)
		switch cond, _ := operatortest.Condition(istio.Status.Conditions, v1.ConditionScopeConflict); {
		case want == "" && cond.Type != "":
			return fmt.Errorf("ScopeConflict %+v, want none", cond)
		case want != "" && c != nil:
			return c
		case want != "" && !strings.Contains(cond.Message, want):
			return fmt.Errorf("ScopeConflict says %q, want it to name %q", cond.Message, want)
		}
		return nil
	}
}

// TestSeveralMeshesInOneCluster: two meshes, each in its own namespace with its own discovery
// selectors, install side by side without a cluster-scoped object in common. When a namespace comes to
// be claimed by both (here: relabelled so that the second mesh's selectors select a namespace the first
// one injects), both Istios say so in a ScopeConflict condition naming it, with a Warning Event and the
// bosun_scope_conflicts gauge, and nothing else changes; once the label goes, so does the conflict.
// Deleting one mesh leaves the other's objects where they are.
func TestSeveralMeshesInOneCluster(t *testing.T) {
	c := operatortest.Client(t)
	ctx := t.Context()
	operatortest.Namespace(t, c, "istio-scope1", map[string]string{"mesh": "scope1"})
	operatortest.Namespace(t, c, "istio-scope2", map[string]string{"mesh": "scope2"})
	operatortest.Namespace(t, c, "shop", map[string]string{"mesh": "scope1", "istio.io/rev": "scope1"})
	one := scopedIstio("scope1", "istio-scope1", map[string]string{"mesh": "scope1"})
	two := scopedIstio("scope2", "istio-scope2", map[string]string{"mesh": "scope2"}, map[string]string{"tenant": "scope2"})
	operatortest.Create(t, c, one)
	operatortest.Create(t, c, two)
	for _, name := range []string{"scope1", "scope2"} {
		istioStatus(t, c, name, "installed, in no conflict", func(istio *v1.Istio) error {
			if istio.Status.ActiveRevisionName != name {
				return fmt.Errorf("active revision %q", istio.Status.ActiveRevisionName)
			}
			return scopeConflict("")(istio)
		})
	}
	clusterScoped := func(rev string) []string {
		var names []string
		owner := client.MatchingLabels{render.LabelOwner: render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: rev})}
		for _, list := range []client.ObjectList{&admissionv1.MutatingWebhookConfigurationList{}, &admissionv1.ValidatingWebhookConfigurationList{},
			&rbacv1.ClusterRoleList{}, &rbacv1.ClusterRoleBindingList{}} {
			if err := c.List(ctx, list, owner); err != nil {
				t.Fatal(err)
			}
			if err := meta.EachListItem(list, func(o runtime.Object) error {
				names = append(names, fmt.Sprintf("%T %s", o, o.(client.Object).GetName()))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return names
	}
	var first, second []string
	operatortest.WaitFor(t, "each mesh's cluster-scoped objects", func(context.Context) error {
		if first, second = clusterScoped("scope1"), clusterScoped("scope2"); len(first) == 0 || len(second) == 0 {
			return fmt.Errorf("scope1 %v, scope2 %v", first, second)
		}
		return nil
	})
	for _, name := range first {
		if slices.Contains(second, name) {
			t.Errorf("both meshes render the cluster-scoped %s", name)
		}
	}

	// The namespace the first mesh injects gets the label the second mesh's selectors select.
	shop := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "shop"}, shop); err != nil {
		t.Fatal(err)
	}
	operatortest.Update(t, c, shop, func(ns *corev1.Namespace) { ns.Labels["tenant"] = "scope2" })
	istioStatus(t, c, "scope1", "in conflict over shop", scopeConflict("1 namespace is claimed by more than one mesh: namespace shop (Istio scope1: the namespace's injection labels name scope1; Istio scope2: its discovery selectors select it)"))
	istioStatus(t, c, "scope2", "in conflict over shop", scopeConflict("namespace shop (Istio scope2: its discovery selectors select it; Istio scope1: the namespace's injection labels name scope1)"))
	// A second namespace joins the conflict: the condition follows, the Warning is not repeated.
	operatortest.Namespace(t, c, "shop-two", map[string]string{"mesh": "scope1", "tenant": "scope2"})
	for _, name := range []string{"scope1", "scope2"} {
		istioStatus(t, c, name, "in conflict over two namespaces", scopeConflict("2 namespaces are claimed"))
		if got := scopeGauge(t, name); got != 2 {
			t.Errorf("bosun_scope_conflicts{istio=%q} = %v, want 2", name, got)
		}
		operatortest.WaitFor(t, "a ScopeConflict Warning on Istio "+name, func(ctx context.Context) error {
			events, err := operatortest.Events(ctx, c, v1.KindIstio, name)
			if n := count(events, "Warning ScopeConflict"); err != nil || n != 1 {
				return fmt.Errorf("%d ScopeConflict Warnings in %v (%v), want exactly one", n, events, err)
			}
			return nil
		})
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "shop"}, shop); err != nil || !maps.Equal(shop.Labels, map[string]string{
		"mesh": "scope1", "istio.io/rev": "scope1", "tenant": "scope2", corev1.LabelMetadataName: "shop"}) {
		t.Errorf("the namespace's labels are now %v (%v): bosun must change nothing", shop.Labels, err)
	}

	operatortest.Update(t, c, shop, func(ns *corev1.Namespace) { delete(ns.Labels, "tenant") })
	shopTwo := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "shop-two"}, shopTwo); err != nil {
		t.Fatal(err)
	}
	operatortest.Update(t, c, shopTwo, func(ns *corev1.Namespace) { delete(ns.Labels, "tenant") })
	for _, name := range []string{"scope1", "scope2"} {
		istioStatus(t, c, name, "out of conflict", scopeConflict(""))
		operatortest.WaitFor(t, "a ScopeConflictResolved Event on Istio "+name, func(ctx context.Context) error {
			events, err := operatortest.Events(ctx, c, v1.KindIstio, name)
			if err != nil || !slices.Contains(events, "Normal ScopeConflictResolved") {
				return fmt.Errorf("events %v (%v)", events, err)
			}
			return nil
		})
		if got := scopeGauge(t, name); got != 0 {
			t.Errorf("bosun_scope_conflicts{istio=%q} = %v, want 0", name, got)
		}
	}

	// The second mesh's selectors widen to the first mesh's namespaces: a change of another Istio wakes
	// the first one too.
	fresh := &v1.Istio{}
	if err := c.Get(ctx, client.ObjectKey{Name: "scope2"}, fresh); err != nil {
		t.Fatal(err)
	}
	operatortest.Update(t, c, fresh, func(istio *v1.Istio) {
		istio.Spec.Values.MeshConfig.DiscoverySelectors = append(istio.Spec.Values.MeshConfig.DiscoverySelectors, v1.LabelSelector{MatchLabels: map[string]v1.LabelValue{"mesh": "scope1"}})
	})
	istioStatus(t, c, "scope1", "in conflict with the widened mesh", scopeConflict("namespace istio-scope1 (Istio scope1: its discovery selectors select it; Istio scope2: its discovery selectors select it)"))

	// Deleting the second mesh while in conflict clears the first one's conflict, and the deleted
	// Istio's gauge goes with it; the first mesh's objects stay.
	operatortest.Delete(t, c, two)
	istioStatus(t, c, "scope1", "out of conflict once the other mesh is gone", scopeConflict(""))
	if seriesOf(t, "scope2") {
		t.Error("bosun_scope_conflicts still has a series for the deleted Istio scope2")
	}
	if left := clusterScoped("scope1"); !slices.Equal(left, first) {
		t.Errorf("after deleting scope2, scope1's cluster-scoped objects are %v, want %v", left, first)
	}
	istioStatus(t, c, "scope1", "still installed", func(istio *v1.Istio) error {
		if istio.Status.ActiveRevisionName != "scope1" {
			return fmt.Errorf("active revision %q", istio.Status.ActiveRevisionName)
		}
		return nil
	})
}

// count counts the occurrences of s.
func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// seriesOf reports whether bosun_scope_conflicts has a series for the Istio.
func seriesOf(t *testing.T, istio string) bool {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "bosun_scope_conflicts" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "istio" && l.GetValue() == istio {
					return true
				}
			}
		}
	}
	return false
}

// scopeGauge reads bosun_scope_conflicts for an Istio.
func scopeGauge(t *testing.T, istio string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := metrics.ScopeConflicts.WithLabelValues(istio).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// labelValues is a label set as a selector's matchLabels.
func labelValues(set map[string]string) map[string]v1.LabelValue {
	out := map[string]v1.LabelValue{}
	for k, v := range set {
		out[k] = v1.LabelValue(v)
	}
	return out
}
