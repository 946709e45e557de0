package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Fields that istiod writes into the objects bosun applies. Sending them would start a fight that never
// ends: istiod patches them, bosun puts its value back, istiod patches again (docs/architecture.md#lesson-istiod-webhook-fields).
// The decision lives here, where objects are rendered, so `bosun render` and the golden files show
// exactly what bosun sends.
//
//   - webhooks[].clientConfig.caBundle of every webhook configuration: istiod injects its CA. The
//     charts render it empty unless the user gives one (istiodRemote.injectionCABundle,
//     base.validationCABundle); an empty one is never sent.
//   - webhooks[].failurePolicy of a ValidatingWebhookConfiguration: the charts render Ignore and istiod
//     flips it to Fail once it serves. It is sent when bosun creates the object and never afterwards
//     (ForUpdate).
var webhookKinds = map[string]bool{"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true}

// dropIstiodFields removes the fields istiod owns from the first time on.
func dropIstiodFields(obj *unstructured.Unstructured) {
	if webhookKinds[obj.GetKind()] {
		editWebhooks(obj, func(w map[string]any) {
			if cc, ok := w["clientConfig"].(map[string]any); ok {
				if ca, _ := cc["caBundle"].(string); ca == "" {
					delete(cc, "caBundle")
				}
			}
		})
	}
}

// HasCreateOnlyFields reports whether bosun sends obj differently when it updates it than when it
// creates it (see ForUpdate).
func HasCreateOnlyFields(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "ValidatingWebhookConfiguration"
}

// ForUpdate returns the object as bosun sends it to update an existing one: a ValidatingWebhookConfiguration
// without its webhooks' failurePolicy, which istiod owns once the object exists. Other objects are
// returned as they are.
func ForUpdate(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if !HasCreateOnlyFields(obj) {
		return obj
	}
	out := obj.DeepCopy()
	editWebhooks(out, func(w map[string]any) { delete(w, "failurePolicy") })
	return out
}

// editWebhooks calls edit with each entry of obj's webhooks list.
func editWebhooks(obj *unstructured.Unstructured, edit func(map[string]any)) {
	hooks, ok := obj.Object["webhooks"].([]any)
	if !ok {
		return
	}
	for _, h := range hooks {
		if w, ok := h.(map[string]any); ok {
			edit(w)
		}
	}
}

// SetHash records a hash of the object as rendered in its AnnotationHash annotation. JSON encoding
// sorts map keys, so equal objects hash equally.
func SetHash(obj *unstructured.Unstructured) {
	annotations := obj.GetAnnotations()
	delete(annotations, AnnotationHash)
	obj.SetAnnotations(annotations)
	data, err := json.Marshal(obj.Object)
	if err != nil {
		// Rendered objects come from YAML and always encode; a failure here is a bug.
		panic(err)
	}
	sum := sha256.Sum256(data)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationHash] = hex.EncodeToString(sum[:])[:16]
	obj.SetAnnotations(annotations)
}
