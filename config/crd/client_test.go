//go:build integration

package crd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// plurals maps each kind to its resource name; every kind is cluster-scoped.
var plurals = map[string]string{
	"Istio":            "istios",
	"IstioRevision":    "istiorevisions",
	"IstioRevisionTag": "istiorevisiontags",
	"IstioCNI":         "istiocnis",
	"ZTunnel":          "ztunnels",
}

func resourceOf(t testing.TB, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		t.Fatal(err)
	}
	plural, ok := plurals[obj.GetKind()]
	if !ok {
		t.Fatalf("unknown kind %q", obj.GetKind())
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client.Resource(gv.WithResource(plural))
}

// parseManifests splits a multi-document YAML text into objects.
func parseManifests(t testing.TB, text string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("parsing manifest: %v\n%s", err, doc)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	return objs
}

func parseManifest(t testing.TB, text string) *unstructured.Unstructured {
	t.Helper()
	objs := parseManifests(t, text)
	if len(objs) != 1 {
		t.Fatalf("want one manifest, got %d", len(objs))
	}
	return objs[0]
}

func readManifests(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseManifests(t, string(data))
}

// create sends obj as `kubectl create` does, with strict field validation, so an unknown field is an error.
func create(ctx context.Context, t testing.TB, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	t.Helper()
	return resourceOf(t, obj).Create(ctx, obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
}

// mustCreate creates obj and deletes it when the test ends.
func mustCreate(ctx context.Context, t testing.TB, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := create(ctx, t, obj)
	if err != nil {
		t.Fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj) })
	return got
}

// mergePatch applies a JSON merge patch as `kubectl patch --type=merge` does.
func mergePatch(ctx context.Context, t testing.TB, obj *unstructured.Unstructured, patch string) (*unstructured.Unstructured, error) {
	t.Helper()
	return resourceOf(t, obj).Patch(ctx, obj.GetName(), types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldValidation: metav1.FieldValidationStrict})
}

func get(ctx context.Context, t testing.TB, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := resourceOf(t, obj).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return got
}

// deleteAndWait removes obj and waits until the API server no longer has it, so the next test can reuse
// the name (IstioCNI and ZTunnel can only be named default).
func deleteAndWait(t testing.TB, obj *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	res := resourceOf(t, obj)
	if err := res.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s %s: %v", obj.GetKind(), obj.GetName(), err)
		return
	}
	w, err := res.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + obj.GetName()})
	if err != nil {
		t.Errorf("watching %s %s: %v", obj.GetKind(), obj.GetName(), err)
		return
	}
	defer w.Stop()
	if _, err := res.Get(ctx, obj.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return
	}
	for ev := range w.ResultChan() {
		if ev.Type == "DELETED" {
			return
		}
	}
}

func docManifestPaths(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob("testdata/ossm-docs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in testdata/ossm-docs: %v", err)
	}
	return paths
}
