//go:build integration

package apply_test

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/render"
)

// kinds lists the kinds of refs, in order.
func kinds(refs []apply.Ref) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.GVK.Kind)
	}
	return out
}

// TestServedKindsOfAClusterWithoutMultus: a cluster without Multus serves every kind bosun applies
// but NetworkAttachmentDefinition, and the operator starts with those.
func TestServedKindsOfAClusterWithoutMultus(t *testing.T) {
	e := newEnv(t)
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	var want []schema.GroupVersionKind
	for _, gvk := range apply.Kinds {
		if gvk.Kind != "NetworkAttachmentDefinition" {
			want = append(want, gvk)
		}
	}
	if !slices.Equal(served, want) {
		t.Errorf("ServedKinds = %v, want %v", served, want)
	}
}

// TestDeleteRemovesWebhooksFirst: removing an inventory deletes in the reverse of the apply order, so
// the webhook configuration goes before the istiod Deployment and Service it calls, and no request is
// sent to a webhook whose backend is already gone.
func TestDeleteRemovesWebhooksFirst(t *testing.T) {
	e := newEnv(t)
	e.apply(e.objects(1, "a"))
	var order []string
	writer := interceptor.NewClient(e.c.(client.WithWatch), interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			order = append(order, obj.GetObjectKind().GroupVersionKind().Kind)
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := apply.New(writer, e.c, e.c, served).Delete(t.Context(), e.owner)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ValidatingWebhookConfiguration", "Deployment", "Service", "ConfigMap"}
	if !slices.Equal(order, want) || !slices.Equal(kinds(deleted), want) {
		t.Errorf("deleted %v, reported %v; want %v", order, kinds(deleted), want)
	}
	inventory, err := e.applier.Inventory(t.Context(), e.owner)
	if err != nil || len(inventory) != 0 {
		t.Errorf("after Delete the inventory holds %d objects (%v), want none", len(inventory), err)
	}
}

// TestPruneNeverDeletesAnObjectRecreatedMeanwhile: an object someone deleted and created again after
// bosun read its inventory is not deleted (the delete is bound to the UID bosun saw); the error says
// so and is retried, and the retry leaves the new object alone, since bosun did not apply it
// (docs/architecture.md#lesson-prune-only-own-objects).
func TestPruneNeverDeletesAnObjectRecreatedMeanwhile(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.apply(e.objects(1, "a"))
	var recreated *corev1.ConfigMap
	writer := interceptor.NewClient(e.c.(client.WithWatch), interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if obj.GetName() == "mesh" && recreated == nil {
				if err := c.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: "mesh"}}); err != nil {
					return err
				}
				recreated = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: "mesh", Labels: obj.GetLabels()}, Data: map[string]string{"mesh": "someone else's"}}
				if err := c.Create(ctx, recreated, client.FieldOwner("kubectl-create")); err != nil {
					return err
				}
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	applier := apply.New(writer, e.c, e.c, served)
	deleted, err := applier.Delete(ctx, e.owner)
	if err == nil {
		t.Fatalf("Delete succeeded (deleted %v) though the ConfigMap it read was replaced", deleted)
	}
	if slices.Contains(kinds(deleted), "ConfigMap") {
		t.Errorf("Delete reports %v, with the ConfigMap it did not delete", deleted)
	}
	if _, err := applier.Delete(ctx, e.owner); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	live := &corev1.ConfigMap{}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(recreated), live); err != nil || live.UID != recreated.UID {
		t.Errorf("the ConfigMap someone created again is gone or replaced (%v)", err)
	}
}

// TestApplyOfOneOwnerLeavesAnothersObjects: applying or removing one resource's component never prunes
// the objects of another, even of the same names.
func TestApplyOfOneOwnerLeavesAnothersObjects(t *testing.T) {
	first, second := newEnv(t), newEnv(t)
	first.apply(first.objects(1, "a"))
	if res := second.apply(nil); res.Changed() {
		t.Errorf("an empty component of another owner: %s, want no change", res)
	}
	if _, err := second.applier.Delete(t.Context(), second.owner); err != nil {
		t.Fatal(err)
	}
	inventory, err := first.applier.Inventory(t.Context(), first.owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(inventory) != 4 {
		t.Errorf("the first owner's inventory holds %d objects after another owner's apply and removal, want its 4", len(inventory))
	}
	for _, obj := range inventory {
		if obj.GetNamespace() != "" && obj.GetNamespace() != first.ns {
			t.Errorf("the first owner's inventory holds %s/%s", obj.GetNamespace(), obj.GetName())
		}
	}
}

// TestApplyPointsRestoredObjectsAtTheNewOwner: after a backup and restore the owner has a new UID
// while its objects still point at the old one, which the garbage collector would take for a deleted
// owner; bosun sees drift and points every object at the owner as it is, once
// (docs/architecture.md#lesson-restored-revisions).
func TestApplyPointsRestoredObjectsAtTheNewOwner(t *testing.T) {
	e := newEnv(t)
	e.apply(e.objects(1, "a"))
	restored := e.owner.DeepCopy()
	restored.UID = "uid-after-restore"
	res, err := e.applier.Apply(t.Context(), apply.Component{Owner: restored, Objects: e.objects(1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Corrected) != 4 {
		t.Fatalf("apply for the restored owner: %s; want all 4 objects corrected", res)
	}
	refs := e.get("Deployment", "apps/v1", "istiod").GetOwnerReferences()
	if len(refs) != 1 || refs[0].UID != restored.UID {
		t.Errorf("owner references after the restore: %+v; want only the owner's new UID", refs)
	}
	res, err = e.applier.Apply(t.Context(), apply.Component{Owner: restored, Objects: e.objects(1, "a")})
	if err != nil || res.Changed() {
		t.Errorf("the next apply: %s, %v; want no change", res, err)
	}
}

// TestApplyReturnsTheObjectsAsStored: Sent holds each object written as the API server answered, with
// the generation a rollout is judged by, and nothing for objects that needed no write.
func TestApplyReturnsTheObjectsAsStored(t *testing.T) {
	e := newEnv(t)
	deployment := apply.Ref{GVK: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespace: e.ns, Name: "istiod"}
	generation := func(res apply.Result) int64 {
		t.Helper()
		sent, ok := res.Sent[deployment]
		if !ok {
			t.Fatalf("Sent holds %d objects and not the Deployment", len(res.Sent))
		}
		if sent.GetUID() == "" {
			t.Error("the Deployment in Sent has no UID: it is what was sent, not what was stored")
		}
		return sent.GetGeneration()
	}
	res := e.apply(e.objects(1, "a"))
	if len(res.Sent) != 4 || generation(res) != 1 {
		t.Errorf("created: %d objects sent, Deployment generation %d; want 4 and 1", len(res.Sent), generation(res))
	}
	// The render cache shares rendered objects between reconciles: the answer must not be written into
	// them.
	rendered := e.objects(2, "a")
	res = e.apply(rendered)
	if len(res.Sent) != 1 || generation(res) != 2 {
		t.Errorf("replicas changed: %d objects sent, Deployment generation %d; want 1 and 2", len(res.Sent), generation(res))
	}
	if rendered[2].GetUID() != "" || rendered[2].GetResourceVersion() != "" || len(rendered[2].GetOwnerReferences()) != 0 {
		t.Errorf("the rendered Deployment was changed by the apply: %v", rendered[2].Object["metadata"])
	}
	if res = e.apply(rendered); len(res.Sent) != 0 {
		t.Errorf("converged: Sent holds %d objects, want none", len(res.Sent))
	}
}

// TestApplyKeepsFailurePolicyUntilIstiodTakesIt: while istiod has not written a validating webhook's
// failurePolicy, an update still sends the chart's Ignore; leaving it out would let the API server
// default it to Fail and make every Istio config write fail before istiod serves
// (docs/architecture.md#lesson-istiod-webhook-fields).
func TestApplyKeepsFailurePolicyUntilIstiodTakesIt(t *testing.T) {
	e := newEnv(t)
	e.apply(e.objects(1, "a"))
	objs := e.objects(1, "a")
	objs[3].SetLabels(map[string]string{"chart": "changed"})
	render.Prepare(objs[3], render.Owner{Kind: "Namespace", Name: e.ns})
	e.writes.take()
	res := e.apply(objs)
	if len(res.Updated) != 1 || res.Updated[0].GVK.Kind != "ValidatingWebhookConfiguration" {
		t.Fatalf("apply of a changed webhook configuration: %s; want it updated", res)
	}
	hooks, _, _ := unstructured.NestedSlice(e.getCluster("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "validator-"+e.ns).Object, "webhooks")
	if fp := hooks[0].(map[string]any)["failurePolicy"]; fp != "Ignore" {
		t.Errorf("failurePolicy after the update = %v, want the chart's Ignore until istiod takes it", fp)
	}
}
