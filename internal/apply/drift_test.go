package apply_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestApplyCorrectsDriftInsideKeyedLists: a value changed inside a list item keyed by name (an env
// variable of a container) is drift, though the item itself is still bosun's.
func TestApplyCorrectsDriftInsideKeyedLists(t *testing.T) {
	e := newEnv(t)
	e.apply(e.objects(1, "a"))
	deploy := e.get("Deployment", "apps/v1", "istiod")
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	env := containers[0].(map[string]any)["env"].([]any)
	env[0].(map[string]any)["value"] = "edited"
	if err := unstructured.SetNestedSlice(deploy.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Update(t.Context(), deploy, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	e.writes.take()
	res := e.apply(e.objects(1, "a"))
	if len(res.Corrected) != 1 || e.writes.take() != 1 {
		t.Fatalf("apply after an env value was edited: %s; want the Deployment corrected with one write", res)
	}
	containers, _, _ = unstructured.NestedSlice(e.get("Deployment", "apps/v1", "istiod").Object, "spec", "template", "spec", "containers")
	if v := containers[0].(map[string]any)["env"].([]any)[0].(map[string]any)["value"]; v != "default" {
		t.Errorf("env value %v after the correction, want default", v)
	}
	if res := e.apply(e.objects(1, "a")); res.Changed() {
		t.Errorf("apply after the correction: %s, want no change", res)
	}
}
