//go:build integration

package versionpolicy_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestTheDefaultStaysWithTheObject: the default is written once, when the object is created, and
// belongs to no field manager: applying the manifest again keeps it, also under a catalog with another
// default, and only clearing spec.version moves the object to the new default.
func TestTheDefaultStaysWithTheObject(t *testing.T) {
	install(t, catalog.Embedded())
	manifest := []byte(`{"apiVersion":"sailoperator.io/v1","kind":"Istio","metadata":{"name":"defaulted"},"spec":{"namespace":"istio-system"}}`)
	obj := parse(t, string(manifest))
	serverSideApply := func() string {
		t.Helper()
		got, err := resource(t, obj).Patch(context.Background(), obj.GetName(), types.ApplyPatchType, manifest,
			metav1.PatchOptions{FieldManager: "kubectl", FieldValidation: metav1.FieldValidationStrict})
		if err != nil {
			t.Fatalf("kubectl apply --server-side: %v", err)
		}
		return versionOf(got)
	}
	if v := serverSideApply(); v != "v1.27-latest" {
		t.Fatalf("created without a version, the Istio has %q, want the default v1.27-latest", v)
	}
	t.Cleanup(func() { _ = resource(t, obj).Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
	if v := serverSideApply(); v != "v1.27-latest" {
		t.Errorf("applied again, the Istio has %q, want v1.27-latest kept", v)
	}

	install(t, vendorCatalog(t))
	t.Cleanup(func() { install(t, catalog.Embedded()) })
	if v := serverSideApply(); v != "v1.27-latest" {
		t.Errorf("applied again under a catalog with another default, the Istio has %q, want v1.27-latest kept", v)
	}
	got, err := resource(t, obj).Patch(context.Background(), obj.GetName(), types.MergePatchType, []byte(`{"spec":{"version":""}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("clearing spec.version: %v", err)
	}
	if v := versionOf(got); v != "v1.29-latest" {
		t.Errorf("after clearing spec.version, the Istio has %q, want the vendor's default v1.29-latest", v)
	}
}
