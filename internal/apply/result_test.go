package apply_test

import (
	"errors"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

var (
	configMap  = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	deployment = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	validating = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"}
)

func refs(n int) []apply.Ref {
	out := make([]apply.Ref, n)
	for i := range out {
		out[i] = apply.Ref{GVK: configMap, Namespace: "istio-system", Name: "cm" + string(rune('a'+i))}
	}
	return out
}

// TestResultSaysWhatWasWritten: the summary an Applied Event carries names a single object, counts
// several, lists the actions in a fixed order, and says "no change" when nothing was written; objects
// that needed nothing never count as a change.
func TestResultSaysWhatWasWritten(t *testing.T) {
	for _, tc := range []struct {
		name    string
		res     apply.Result
		want    string
		changed bool
	}{
		{"nothing", apply.Result{}, "no change", false},
		{"only unchanged objects", apply.Result{Unchanged: 18}, "no change", false},
		{"one namespaced object created", apply.Result{Created: refs(1)}, "created ConfigMap istio-system/cma", true},
		{"one cluster-scoped object updated", apply.Result{Updated: []apply.Ref{{GVK: validating, Name: "istio-validator"}}}, "updated ValidatingWebhookConfiguration istio-validator", true},
		{"many created", apply.Result{Created: refs(18)}, "created 18 objects", true},
		{"drift", apply.Result{Corrected: []apply.Ref{{GVK: deployment, Namespace: "istio-system", Name: "istiod"}}, Unchanged: 3}, "corrected drift of Deployment istio-system/istiod", true},
		{"adopted", apply.Result{Adopted: refs(2)}, "took over 2 objects", true},
		{"pruned", apply.Result{Pruned: refs(1)}, "pruned ConfigMap istio-system/cma", true},
		{
			"every action, in order",
			apply.Result{Pruned: refs(1), Adopted: refs(3), Corrected: refs(1), Updated: refs(2), Created: refs(1)},
			"created ConfigMap istio-system/cma, updated 2 objects, corrected drift of ConfigMap istio-system/cma, took over 3 objects, pruned ConfigMap istio-system/cma",
			true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := tc.res.Changed(); got != tc.changed {
				t.Errorf("Changed() = %t, want %t", got, tc.changed)
			}
		})
	}
}

// TestManagedKindsAreExactlyTheInventorysKinds: bosun applies (and so prunes) only the kinds it lists,
// each at the version it lists; a Secret, a CRD or another version of a listed kind is not one.
func TestManagedKindsAreExactlyTheInventorysKinds(t *testing.T) {
	for _, tc := range []struct {
		gvk  schema.GroupVersionKind
		want bool
	}{
		{configMap, true},
		{deployment, true},
		{validating, true},
		{schema.GroupVersionKind{Group: "k8s.cni.cncf.io", Version: "v1", Kind: "NetworkAttachmentDefinition"}, true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, false},
		{schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, false},
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}, false},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, false},
		{schema.GroupVersionKind{}, false},
	} {
		if got := apply.Managed(tc.gvk); got != tc.want {
			t.Errorf("Managed(%s) = %t, want %t", tc.gvk, got, tc.want)
		}
	}
}

// TestServedKindsLeavesOutWhatTheClusterLacks: a kind the cluster does not serve (Multus's
// NetworkAttachmentDefinition where Multus is not installed) is left out rather than failing the
// operator; any other failure to look a kind up is an error that names the kind.
func TestServedKindsLeavesOutWhatTheClusterLacks(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range apply.Kinds {
		if gvk.Kind != "NetworkAttachmentDefinition" {
			mapper.Add(gvk, meta.RESTScopeNamespace)
		}
	}
	served, err := apply.ServedKinds(mapper)
	if err != nil {
		t.Fatal(err)
	}
	if len(served) != len(apply.Kinds)-1 {
		t.Errorf("served %d kinds, want every kind but NetworkAttachmentDefinition (%d)", len(served), len(apply.Kinds)-1)
	}
	for _, gvk := range served {
		if gvk.Kind == "NetworkAttachmentDefinition" {
			t.Error("NetworkAttachmentDefinition is served by a cluster without it")
		}
	}

	broken := errors.New("the discovery document could not be read")
	_, err = apply.ServedKinds(failingMapper{mapper, broken})
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "ServiceAccount") {
		t.Errorf("ServedKinds over a failing mapper returned %v, want its error, naming the kind", err)
	}
}

// failingMapper fails every look-up with err.
type failingMapper struct {
	meta.RESTMapper
	err error
}

func (m failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, m.err
}

// TestApplyRefusesBeforeReadingAnything: a component whose owner lacks its kind or UID, or that holds
// an object of a kind bosun does not track or the cluster does not serve, is refused before anything is
// read or written (the applier here has no client at all), with a message that names the object.
func TestApplyRefusesBeforeReadingAnything(t *testing.T) {
	owner := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "uid-1"}}
	owner.SetGroupVersionKind(schema.GroupVersionKind{Group: "sailoperator.io", Version: "v1", Kind: "IstioRevision"})
	noUID := owner.DeepCopy()
	noUID.UID = ""
	noKind := owner.DeepCopy()
	noKind.SetGroupVersionKind(schema.GroupVersionKind{})
	obj := func(gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetName(name)
		u.SetNamespace("istio-system")
		return u
	}
	nad := schema.GroupVersionKind{Group: "k8s.cni.cncf.io", Version: "v1", Kind: "NetworkAttachmentDefinition"}
	served := []schema.GroupVersionKind{configMap, deployment}
	for _, tc := range []struct {
		name  string
		owner *metav1.PartialObjectMetadata
		objs  []*unstructured.Unstructured
		want  string
	}{
		{"an owner without a UID", noUID, []*unstructured.Unstructured{obj(configMap, "mesh")}, "the owner needs its kind and UID"},
		{"an owner without a kind", noKind, []*unstructured.Unstructured{obj(configMap, "mesh")}, "the owner needs its kind and UID"},
		{"a Secret after a ConfigMap", owner, []*unstructured.Unstructured{obj(configMap, "mesh"), obj(schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "cacerts")}, "Secret cacerts: bosun does not apply objects of kind /v1, Kind=Secret"},
		{"a kind the cluster does not serve", owner, []*unstructured.Unstructured{obj(nad, "istio-cni")}, "NetworkAttachmentDefinition istio-cni: the cluster does not serve k8s.cni.cncf.io/v1, Kind=NetworkAttachmentDefinition, which the chart needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := apply.New(nil, nil, nil, served)
			res, err := a.Apply(t.Context(), apply.Component{Owner: tc.owner, Objects: tc.objs})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Apply returned %v, want %q", err, tc.want)
			}
			if res.Changed() {
				t.Errorf("a refused component reports %s", res)
			}
		})
	}
}

// TestCountAppliedCountsEachActionByItsObjects: bosun_applied_objects_total grows by the number of
// objects of each action, under the owning resource's kind, and not at all for objects left unchanged;
// objects removed with a deleted resource count as removed.
func TestCountAppliedCountsEachActionByItsObjects(t *testing.T) {
	const kind = "CountAppliedTest"
	actions := []string{"created", "updated", "corrected", "adopted", "pruned", "removed"}
	read := func() map[string]float64 {
		out := map[string]float64{}
		for _, a := range actions {
			m := &dto.Metric{}
			if err := metrics.Applies.WithLabelValues(kind, a).Write(m); err != nil {
				t.Fatal(err)
			}
			out[a] = m.GetCounter().GetValue()
		}
		return out
	}
	before := read()
	apply.CountApplied(kind, apply.Result{Created: refs(3), Corrected: refs(1), Pruned: refs(2), Unchanged: 9})
	apply.CountApplied(kind, apply.Result{Unchanged: 14})
	apply.CountRemoved(kind, refs(4))
	apply.CountRemoved(kind, nil)
	after := read()
	want := map[string]float64{"created": 3, "updated": 0, "corrected": 1, "adopted": 0, "pruned": 2, "removed": 4}
	for _, a := range actions {
		if got := after[a] - before[a]; got != want[a] {
			t.Errorf("bosun_applied_objects_total{kind=%s,action=%s} grew by %v, want %v", kind, a, got, want[a])
		}
	}
}
