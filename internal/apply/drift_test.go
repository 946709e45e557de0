//go:build integration

package apply_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-mesh/bosun/internal/apply"

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

// TestApplyTakesOverOnlyWhenAllowed: an object another installer created (here by Helm, with its
// release annotation and a key bosun's chart no longer has) is refused, untouched, until bosun may take
// over that manager's objects; then it is bosun's alone, without the fields bosun does not render.
func TestApplyTakesOverOnlyWhenAllowed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	helmCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "mesh", Namespace: e.ns,
		Annotations: map[string]string{"meta.helm.sh/release-name": "istiod"},
	}, Data: map[string]string{"mesh": "old", "removed-from-chart": "x"}}
	if err := e.c.Create(ctx, helmCM, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	_, err := e.applier.Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")})
	var notOurs *apply.NotOursError
	if !errors.As(err, &notOurs) || !strings.Contains(err.Error(), "--adopt-from=helm") {
		t.Fatalf("applying over Helm's ConfigMap gave %v, want a refusal naming helm", err)
	}
	if n := e.writes.take(); n != 0 {
		t.Errorf("the refusal came after %d writes, want none", n)
	}

	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	adopting := apply.New(e.c, e.c, e.c, served, "helm")
	res, err := adopting.Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Adopted) != 1 || res.Adopted[0].Name != "mesh" {
		t.Fatalf("apply allowed to adopt Helm's objects: %s; want ConfigMap mesh taken over", res)
	}
	cm := e.get("ConfigMap", "v1", "mesh")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if data["mesh"] != "a" || data["removed-from-chart"] != "" || cm.GetAnnotations()["meta.helm.sh/release-name"] != "" {
		t.Errorf("after the takeover: data %v, annotations %v; want only what bosun renders", data, cm.GetAnnotations())
	}
	for _, m := range cm.GetManagedFields() {
		if m.Manager == "helm" {
			t.Errorf("Helm still manages fields: %s", m.FieldsV1.Raw)
		}
	}
	if res, err := adopting.Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")}); err != nil || res.Changed() {
		t.Errorf("apply after the takeover: %s, %v; want no change", res, err)
	}
}
