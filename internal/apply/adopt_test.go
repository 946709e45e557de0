//go:build integration

package apply_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/bosun-mesh/bosun/internal/apply"
)

// adopting is an applier that may take over the objects of the managers adopt, and counts its writes
// (applies, patches and deletes) in w.
func (e *env) adopting(w *writes, adopt ...string) *apply.Applier {
	e.t.Helper()
	writer := interceptor.NewClient(e.c.(client.WithWatch), interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.add()
			return c.Apply(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.add()
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.add()
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		e.t.Fatal(err)
	}
	return apply.New(writer, e.c, e.c, served, adopt...)
}

func managers(obj *unstructured.Unstructured) []string {
	var out []string
	for _, m := range obj.GetManagedFields() {
		out = append(out, m.Manager)
	}
	return out
}

// TestTakeOverLeavesIstiodsFields: taking over a webhook configuration Helm installed and istiod has
// since written to makes Helm's fields bosun's and leaves istiod's caBundle and failurePolicy as istiod
// wrote them, owned by istiod (docs/architecture.md#lesson-istiod-webhook-fields).
func TestTakeOverLeavesIstiodsFields(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	objs := e.objects(1, "a")
	helmVWC := objs[3].DeepCopy()
	helmVWC.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "Helm"})
	helmVWC.SetAnnotations(map[string]string{"meta.helm.sh/release-name": "istiod"})
	if err := e.c.Create(ctx, helmVWC, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	hooks, _, _ := unstructured.NestedSlice(helmVWC.Object, "webhooks")
	hooks[0].(map[string]any)["failurePolicy"] = "Fail"
	hooks[0].(map[string]any)["clientConfig"].(map[string]any)["caBundle"] = "Y2E="
	if err := unstructured.SetNestedSlice(helmVWC.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Update(ctx, helmVWC, client.FieldOwner("pilot-discovery")); err != nil {
		t.Fatal(err)
	}

	w := &writes{}
	applier := e.adopting(w, "helm")
	res, err := applier.Apply(ctx, apply.Component{Owner: e.owner, Objects: objs[3:]})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Adopted) != 1 || res.Sent[res.Adopted[0]] == nil {
		t.Fatalf("apply over Helm's webhook configuration: %s; want it taken over", res)
	}
	live := e.getCluster("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", helmVWC.GetName())
	hooks, _, _ = unstructured.NestedSlice(live.Object, "webhooks")
	hook := hooks[0].(map[string]any)
	if hook["failurePolicy"] != "Fail" || hook["clientConfig"].(map[string]any)["caBundle"] != "Y2E=" {
		t.Errorf("after the takeover: failurePolicy %v, caBundle %v; want istiod's Fail and Y2E=", hook["failurePolicy"], hook["clientConfig"].(map[string]any)["caBundle"])
	}
	if live.GetLabels()["app.kubernetes.io/managed-by"] != "bosun" || live.GetAnnotations()["meta.helm.sh/release-name"] != "" {
		t.Errorf("after the takeover: labels %v, annotations %v; want bosun's label and no Helm annotation", live.GetLabels(), live.GetAnnotations())
	}
	if m := managers(live); slices.Contains(m, "helm") || !slices.Contains(m, "pilot-discovery") || !slices.Contains(m, apply.FieldManager) {
		t.Errorf("managers after the takeover: %q; want bosun and pilot-discovery, not helm", m)
	}
	w.take()
	if res, err := applier.Apply(ctx, apply.Component{Owner: e.owner, Objects: objs[3:]}); err != nil || res.Changed() || w.take() != 0 {
		t.Errorf("apply after the takeover: %s, %v; want nothing written", res, err)
	}
}

// TestApplyRefusesTheWholeComponentForOneForeignObject: one object of a manager bosun may not take
// over refuses the component before anything is written, even objects it may take over, and the
// refusal names that object and its manager.
func TestApplyRefusesTheWholeComponentForOneForeignObject(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	helmCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: e.ns}, Data: map[string]string{"mesh": "helm's"}}
	if err := e.c.Create(ctx, helmCM, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "istiod"}
	handMade := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: e.ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "pilot:0"}}}},
		},
	}
	if err := e.c.Create(ctx, handMade, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatal(err)
	}
	w := &writes{}
	_, err := e.adopting(w, "helm").Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")})
	var notOurs *apply.NotOursError
	if !errors.As(err, &notOurs) || notOurs.Ref.GVK.Kind != "Deployment" || !slices.Equal(notOurs.Managers, []string{"kubectl-create"}) {
		t.Fatalf("Apply returned %v, want a refusal of the Deployment naming kubectl-create", err)
	}
	if n := w.take(); n != 0 {
		t.Errorf("%d writes before the refusal, want none", n)
	}
	if data, _, _ := unstructured.NestedString(e.get("ConfigMap", "v1", "mesh").Object, "data", "mesh"); data != "helm's" {
		t.Errorf("Helm's ConfigMap holds %q after the refusal, want it untouched", data)
	}
}
