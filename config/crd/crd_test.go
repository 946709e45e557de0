//go:build integration

package crd_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
)

func TestCRDsAreEstablished(t *testing.T) {
	client := apiextensionsclient.NewForConfigOrDie(cfg)
	want, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 {
		t.Fatalf("want 5 CRDs, have %d", len(want))
	}
	for _, w := range want {
		got, err := client.CustomResourceDefinitions().Get(context.Background(), w.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !crd.Established(got) {
			t.Errorf("%s is not Established: %+v", w.Name, got.Status.Conditions)
		}
		if got.Spec.Scope != apiextensionsv1.ClusterScoped {
			t.Errorf("%s scope = %s, want Cluster", w.Name, got.Spec.Scope)
		}
	}
}

// TestDiscovery checks what `kubectl get istio-io`, `kubectl get istiorev` and `kubectl get istiorevtag`
// rely on: the category and short names the API server publishes.
func TestDiscovery(t *testing.T) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	list, err := dc.ServerResourcesForGroupVersion("sailoperator.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"istios":            nil,
		"istiorevisions":    {"istiorev"},
		"istiorevisiontags": {"istiorevtag"},
		"istiocnis":         nil,
		"ztunnels":          nil,
	}
	seen := map[string]bool{}
	for _, r := range list.APIResources {
		short, ok := want[r.Name]
		if !ok {
			continue
		}
		seen[r.Name] = true
		if r.Namespaced {
			t.Errorf("%s is namespaced, want cluster-scoped", r.Name)
		}
		if !slices.Equal(r.ShortNames, short) {
			t.Errorf("%s short names = %v, want %v", r.Name, r.ShortNames, short)
		}
		if !slices.Equal(r.Categories, []string{"istio-io"}) {
			t.Errorf("%s categories = %v, want [istio-io]", r.Name, r.Categories)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("served resources %v, want all of %v", seen, want)
	}

	old, err := dc.ServerResourcesForGroupVersion("sailoperator.io/v1alpha1")
	if err != nil {
		t.Fatalf("sailoperator.io/v1alpha1 must still be served for ZTunnel: %v", err)
	}
	if len(old.APIResources) == 0 || old.APIResources[0].Name != "ztunnels" {
		t.Errorf("v1alpha1 serves %v, want ztunnels", old.APIResources)
	}
}

// TestDocManifestsAreAccepted applies every sailoperator.io manifest of the OpenShift Service Mesh 3
// documents exactly as written, then runs the documents' `oc patch` commands against them.
func TestDocManifestsAreAccepted(t *testing.T) {
	ctx := context.Background()
	for _, path := range docManifestPaths(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, obj := range readManifests(t, path) {
				mustCreate(ctx, t, obj)
			}
		})
	}

	t.Run("oc patch istio default --type=merge version v1.24.4", func(t *testing.T) {
		istio := mustCreate(ctx, t, readManifests(t, "testdata/ossm-docs/03-inplace-istio.yaml")[0])
		got, err := mergePatch(ctx, t, istio, `{"spec":{"version":"v1.24.4"}}`)
		if err != nil {
			t.Fatal(err)
		}
		if v, _, _ := unstructured.NestedString(got.Object, "spec", "version"); v != "v1.24.4" {
			t.Errorf("spec.version = %q after the patch, want v1.24.4", v)
		}
	})
	t.Run("oc patch istiocni default --type=merge version v1.28.5", func(t *testing.T) {
		cni := mustCreate(ctx, t, readManifests(t, "testdata/ossm-docs/03-istiocni.yaml")[0])
		if _, err := mergePatch(ctx, t, cni, `{"spec":{"version":"v1.28.5"}}`); err != nil {
			t.Fatal(err)
		}
	})
}

// defaultVersion is what a manifest without spec.version gets: the catalog's default.
var defaultVersion = catalog.Embedded().Default()

// TestDefaults checks the defaults a user relies on when a manifest leaves fields out.
func TestDefaults(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		manifest string
		want     map[string]any // field path (dot-separated) → value
	}{
		{
			name:     "an Istio with no spec",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: bare",
			want: map[string]any{
				"spec.version":             defaultVersion,
				"spec.namespace":           "istio-system",
				"spec.updateStrategy.type": "InPlace",
			},
		},
		{
			name:     "the OSSM 3 migration Istio without a version",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: ossm3\nspec:\n  namespace: istio-system\n  updateStrategy:\n    type: RevisionBased",
			want: map[string]any{
				"spec.version":             defaultVersion,
				"spec.updateStrategy.type": "RevisionBased",
			},
		},
		{
			name:     "an IstioCNI with no spec",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default",
			want:     map[string]any{"spec.version": defaultVersion, "spec.namespace": "istio-cni"},
		},
		{
			name:     "a ZTunnel with no spec",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default",
			want:     map[string]any{"spec.version": defaultVersion, "spec.namespace": "ztunnel"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustCreate(ctx, t, parseManifest(t, tc.manifest))
			for path, want := range tc.want {
				v, _, _ := unstructured.NestedFieldNoCopy(got.Object, strings.Split(path, ".")...)
				if v != want {
					t.Errorf("%s = %v, want %v", path, v, want)
				}
			}
		})
	}
}

// TestZTunnelIsServedByBothVersions checks that a ZTunnel written as the deprecated v1alpha1 is the same
// object as v1, stored as v1, and that v1alpha1's spec.profile is accepted but not kept: ztunnel always
// takes the ambient profile, so the field has no effect in either version.
func TestZTunnelIsServedByBothVersions(t *testing.T) {
	ctx := context.Background()
	warnings := &recordedWarnings{}
	warned := rest.CopyConfig(cfg)
	warned.WarningHandler = warnings
	obj := parseManifest(t, "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: v1.27.0\n  profile: ambient")
	old, err := dynamic.NewForConfigOrDie(warned).Resource(obj.GroupVersionKind().GroupVersion().WithResource("ztunnels")).
		Create(ctx, obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj) })
	if !slices.ContainsFunc(warnings.texts, func(w string) bool { return strings.Contains(w, "v1alpha1 ZTunnel is deprecated") }) {
		t.Errorf("creating a v1alpha1 ZTunnel printed warnings %q, want the deprecation warning", warnings.texts)
	}
	asV1 := old.DeepCopy()
	asV1.SetAPIVersion("sailoperator.io/v1")
	got := get(ctx, t, asV1)
	if got.GetUID() != old.GetUID() {
		t.Fatalf("v1 serves a different object")
	}
	if v, _, _ := unstructured.NestedString(got.Object, "spec", "version"); v != "v1.27.0" {
		t.Errorf("v1 spec.version = %q, want v1.27.0", v)
	}
	if v, _, _ := unstructured.NestedString(got.Object, "spec", "namespace"); v != "ztunnel" {
		t.Errorf("v1 spec.namespace = %q, want the default ztunnel", v)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "profile"); found {
		t.Errorf("v1 shows spec.profile, which only v1alpha1 has")
	}
}

// recordedWarnings keeps the warnings the API server sends, as kubectl would print them.
type recordedWarnings struct{ texts []string }

func (r *recordedWarnings) HandleWarningHeader(_ int, _ string, text string) {
	r.texts = append(r.texts, text)
}
