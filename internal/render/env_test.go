package render

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestAnEnvVariableTheChartSetsTooIsSentOnce: values.pilot.env.CLUSTER_ID, which istiod's chart also
// sets (from global.multiCluster.clusterName), reaches istiod's container once, with the value the
// container would have got from both entries, the last; server-side apply refuses a container with a
// name twice (docs/architecture.md#lesson-duplicate-env). The external control plane guide sets both,
// to the same cluster.
func TestAnEnvVariableTheChartSetsTooIsSentOnce(t *testing.T) {
	r := newTestRenderer(t)
	for _, v := range catalog.Embedded().Versions() {
		vals := controlPlaneValues(t, v.Name)
		values.Set(vals, map[string]any{"CLUSTER_ID": "cluster2", "EXTERNAL_ISTIOD": "true"}, "pilot", "env")
		values.Set(vals, "cluster2", "global", "multiCluster", "clusterName")
		res, err := r.Render(Request{Version: v.Name, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "prod-istiod",
			Values: vals, Owner: Owner{"IstioRevision", "prod"}})
		if err != nil {
			t.Fatal(err)
		}
		var deploy *unstructured.Unstructured
		for _, o := range res.Objects {
			if o.GetKind() == "Deployment" {
				deploy = o
			}
		}
		if deploy == nil {
			t.Fatalf("%s: no Deployment rendered", v.Name)
		}
		containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
		env, _ := containers[0].(map[string]any)["env"].([]any)
		var clusterIDs []any
		seen := map[string]bool{}
		for _, e := range env {
			name := e.(map[string]any)["name"].(string)
			if seen[name] {
				t.Errorf("%s: env %s sent twice", v.Name, name)
			}
			seen[name] = true
			if name == "CLUSTER_ID" {
				clusterIDs = append(clusterIDs, e.(map[string]any)["value"])
			}
		}
		if len(clusterIDs) != 1 || clusterIDs[0] != "cluster2" {
			t.Errorf("%s: CLUSTER_ID %v, want cluster2 once", v.Name, clusterIDs)
		}
	}
}

// TestLastOfEachName keeps the last entry of each name where it stood, and entries without a name.
func TestLastOfEachName(t *testing.T) {
	e := func(name, value string) any { return map[string]any{"name": name, "value": value} }
	kept, dropped := lastOfEachName([]any{e("A", "1"), e("B", "1"), e("A", "2"), e("C", "1")})
	if !dropped || len(kept) != 3 || kept[0].(map[string]any)["name"] != "B" || kept[1].(map[string]any)["value"] != "2" {
		t.Errorf("kept %v, dropped %t", kept, dropped)
	}
	if _, dropped := lastOfEachName([]any{e("A", "1"), e("B", "1")}); dropped {
		t.Error("dropped an entry of a list without duplicates")
	}
}
