package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func webhookConfig(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

const validator = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: istio-validator-default-istio-system}
webhooks:
- name: rev.validation.istio.io
  failurePolicy: Ignore
  clientConfig: {caBundle: "", service: {name: istiod, namespace: istio-system}}
- name: other.validation.istio.io
  failurePolicy: Ignore
  clientConfig: {caBundle: "Q0E=", service: {name: istiod, namespace: istio-system}}
`

// TestPrepareNeverSendsAnEmptyCABundle: istiod writes its CA into every webhook's caBundle; an empty
// one rendered by the charts is never sent, so bosun never takes the field back
// (docs/architecture.md#lesson-istiod-webhook-fields). A caBundle the user gave stays.
func TestPrepareNeverSendsAnEmptyCABundle(t *testing.T) {
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		obj := webhookConfig(t, strings.Replace(validator, "ValidatingWebhookConfiguration", kind, 1))
		Prepare(obj, Owner{Kind: "IstioRevision", Name: "default"})
		hooks := obj.Object["webhooks"].([]any)
		first := hooks[0].(map[string]any)["clientConfig"].(map[string]any)
		second := hooks[1].(map[string]any)["clientConfig"].(map[string]any)
		if _, ok := first["caBundle"]; ok {
			t.Errorf("%s: an empty caBundle is sent: %v", kind, first)
		}
		if second["caBundle"] != "Q0E=" {
			t.Errorf("%s: the user's caBundle was dropped: %v", kind, second)
		}
		if first["service"] == nil {
			t.Errorf("%s: the rest of clientConfig went with the caBundle: %v", kind, first)
		}
	}
}

// TestForUpdateLeavesFailurePolicyToIstiod: a validating webhook configuration is created with the
// chart's failurePolicy and updated without it, since istiod flips it to Fail once it serves; the
// rendered object is not changed, and other kinds are sent as rendered.
func TestForUpdateLeavesFailurePolicyToIstiod(t *testing.T) {
	obj := webhookConfig(t, validator)
	if !HasCreateOnlyFields(obj) {
		t.Fatal("a ValidatingWebhookConfiguration has no create-only fields")
	}
	update := ForUpdate(obj)
	for i, h := range update.Object["webhooks"].([]any) {
		if _, ok := h.(map[string]any)["failurePolicy"]; ok {
			t.Errorf("webhook %d of the update carries failurePolicy", i)
		}
	}
	for i, h := range obj.Object["webhooks"].([]any) {
		if h.(map[string]any)["failurePolicy"] != "Ignore" {
			t.Errorf("ForUpdate changed webhook %d of the rendered object", i)
		}
	}
	mutating := webhookConfig(t, strings.Replace(validator, "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", 1))
	if HasCreateOnlyFields(mutating) || ForUpdate(mutating) != mutating {
		t.Error("a mutating webhook configuration is sent differently on update: its failurePolicy is the chart's (Fail) from the start")
	}
	noHooks := webhookConfig(t, "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: empty}\n")
	if got := ForUpdate(noHooks); got.Object["webhooks"] != nil {
		t.Errorf("a configuration without webhooks gained some: %v", got.Object)
	}
}

// TestSetHashFollowsTheObject: the hash annotation changes with any change of the object and is the
// same for equal objects, however their maps were built; a hash already there is not part of the hash,
// so preparing an object twice gives the same annotation.
func TestSetHashFollowsTheObject(t *testing.T) {
	hash := func(obj *unstructured.Unstructured) string {
		SetHash(obj)
		return obj.GetAnnotations()[AnnotationHash]
	}
	a := webhookConfig(t, validator)
	b := webhookConfig(t, validator)
	if hash(a) != hash(b) {
		t.Error("equal objects hash differently")
	}
	if first, again := hash(a), hash(a); first != again {
		t.Errorf("hashing an object twice gives %s, then %s: the old hash went into the new one", first, again)
	}
	if len(hash(a)) != 16 {
		t.Errorf("hash %q, want 16 hex digits", hash(a))
	}
	c := webhookConfig(t, strings.Replace(validator, "other.validation", "another.validation", 1))
	if hash(c) == hash(a) {
		t.Error("a changed webhook name left the hash as it was: the change would never be applied")
	}
	d := webhookConfig(t, validator)
	d.SetAnnotations(map[string]string{"team": "mesh"})
	if hash(d) == hash(a) || d.GetAnnotations()["team"] != "mesh" {
		t.Errorf("an annotation changed nothing, or was lost: %v", d.GetAnnotations())
	}
}

// TestPrepareLabelsTheObject: every prepared object is labelled as bosun's and its owner's, next to
// the labels the chart gave it.
func TestPrepareLabelsTheObject(t *testing.T) {
	obj := webhookConfig(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n, labels: {app: istiod}}\n")
	Prepare(obj, Owner{Kind: "IstioRevisionTag", Name: "stable"})
	labels := obj.GetLabels()
	if labels[LabelManagedBy] != ManagedByValue || labels[LabelOwner] != "IstioRevisionTag.stable" || labels["app"] != "istiod" {
		t.Errorf("labels %v", labels)
	}
	if obj.GetAnnotations()[AnnotationHash] == "" {
		t.Error("no hash annotation")
	}
}
