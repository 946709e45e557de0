package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func object(kind, namespace, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetKind(kind)
	o.SetNamespace(namespace)
	o.SetName(name)
	return o
}

// TestSortPutsWhatOthersNeedFirst: objects are applied so that what others depend on exists first:
// identities and configuration before the workloads that mount them, workloads before the webhooks
// that send requests to them (a webhook pointing at a service not yet running would block what comes
// after it); kinds bosun does not know go after the workloads and before the webhooks; within a kind,
// by namespace and name, so the order is the same on every render.
func TestSortPutsWhatOthersNeedFirst(t *testing.T) {
	objs := []*unstructured.Unstructured{
		object("ValidatingWebhookConfiguration", "", "validator"),
		object("MutatingWebhookConfiguration", "", "injector"),
		object("Deployment", "istio-system", "istiod"),
		object("Gadget", "istio-system", "g"),
		object("ConfigMap", "istio-system", "mesh"),
		object("ConfigMap", "a-ns", "zeta"),
		object("ServiceAccount", "istio-system", "istiod"),
		object("Service", "istio-system", "istiod"),
		object("ClusterRole", "", "istiod"),
		object("PodDisruptionBudget", "istio-system", "istiod"),
		object("HorizontalPodAutoscaler", "istio-system", "istiod"),
	}
	Sort(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	want := []string{
		"PodDisruptionBudget istio-system/istiod",
		"ServiceAccount istio-system/istiod",
		"ConfigMap a-ns/zeta",
		"ConfigMap istio-system/mesh",
		"ClusterRole /istiod",
		"Service istio-system/istiod",
		"Deployment istio-system/istiod",
		"HorizontalPodAutoscaler istio-system/istiod",
		"Gadget istio-system/g",
		"MutatingWebhookConfiguration /injector",
		"ValidatingWebhookConfiguration /validator",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("order:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestSortIsStableForUnknownKinds: two kinds bosun does not rank are ordered by kind name, not by the
// order the chart happened to render them in.
func TestSortIsStableForUnknownKinds(t *testing.T) {
	a := []*unstructured.Unstructured{object("Zebra", "", "z"), object("Antelope", "", "a")}
	b := []*unstructured.Unstructured{object("Antelope", "", "a"), object("Zebra", "", "z")}
	Sort(a)
	Sort(b)
	if a[0].GetKind() != "Antelope" || b[0].GetKind() != "Antelope" {
		t.Errorf("unknown kinds in the order they came: %s, %s", a[0].GetKind(), b[0].GetKind())
	}
}
