//go:build integration

package apply_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/render"
)

// crd is a CRD of group as the chart of Istio version renders it, with a printer column that names the
// version, so that two versions differ as Istio's do.
func (e *env) crd(group, version string) *unstructured.Unstructured {
	e.t.Helper()
	obj := &unstructured.Unstructured{}
	doc := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns: [{name: VERSION, type: string, jsonPath: .spec.VERSION}]`
	column := "unversioned"
	if version != "" {
		column = strings.ReplaceAll(version, ".", "-")
	}
	doc = strings.ReplaceAll(strings.ReplaceAll(doc, "GROUP", group), "VERSION", column)
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		e.t.Fatal(err)
	}
	if version != "" {
		obj.SetAnnotations(map[string]string{render.AnnotationIstioVersion: version})
	}
	render.Prepare(obj, render.Owner{Kind: "IstioRevision", Name: "default"})
	e.t.Cleanup(func() { _ = e.c.Delete(e.t.Context(), obj.DeepCopy()) })
	return obj
}

// crdVersion reads the Istio version a live CRD says, and its owner references.
func (e *env) crdVersion(name string) (string, []metav1.OwnerReference) {
	e.t.Helper()
	live := e.getCluster("CustomResourceDefinition", "apiextensions.k8s.io/v1", name)
	return live.GetAnnotations()[render.AnnotationIstioVersion], live.GetOwnerReferences()
}

func (e *env) getCluster(kind, apiVersion, name string) *unstructured.Unstructured {
	e.t.Helper()
	obj := e.get0(kind, apiVersion)
	if err := e.c.Get(e.t.Context(), client.ObjectKey{Name: name}, obj); err != nil {
		e.t.Fatalf("get %s %s: %v", kind, name, err)
	}
	return obj
}

// TestApplyCRDsMovesForwardOnly: a missing CRD is created, without an owner reference; the same one
// again writes nothing; an older version's leaves it as it is; a newer version's updates it; and
// removing the owner's inventory never deletes it (docs/architecture.md#lesson-crds-move-forward).
func TestApplyCRDsMovesForwardOnly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	group := e.ns + ".forward.bosun.test"
	name := "widgets." + group

	rendered := e.crd(group, "v1.27.0-snapshot.b9159ca3")
	res, err := e.applier.ApplyCRDs(ctx, []*unstructured.Unstructured{rendered})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 1 || res.Sent[res.Created[0]].GetUID() == "" || e.writes.take() != 1 {
		t.Fatalf("first ApplyCRDs: %s; want the CRD created with one write and the API server's answer kept", res.Result)
	}
	// Rendered CRDs are shared by the render cache: the answer must not be written into them.
	if rendered.GetUID() != "" || rendered.GetResourceVersion() != "" {
		t.Errorf("ApplyCRDs changed the rendered CRD: %v", rendered.Object["metadata"])
	}
	if version, owners := e.crdVersion(name); version != "v1.27.0-snapshot.b9159ca3" || len(owners) != 0 {
		t.Errorf("the created CRD says version %q with owners %v; want 1.27 and no owner, so no garbage collection takes it", version, owners)
	}

	res, err = e.applier.ApplyCRDs(ctx, []*unstructured.Unstructured{e.crd(group, "v1.27.0-snapshot.b9159ca3")})
	if err != nil || res.Changed() || res.Unchanged != 1 || e.writes.take() != 0 {
		t.Errorf("the same CRD again: %s (%d unchanged), %v; want nothing written", res.Result, res.Unchanged, err)
	}

	res, err = e.applier.ApplyCRDs(ctx, []*unstructured.Unstructured{e.crd(group, "v1.25.0-snapshot.be4b14ad")})
	if err != nil || len(res.Newer) != 1 || res.Changed() || e.writes.take() != 0 {
		t.Errorf("an older version's CRD: %s, newer %v, %v; want it left alone with no write", res.Result, res.Newer, err)
	}
	if version, _ := e.crdVersion(name); version != "v1.27.0-snapshot.b9159ca3" {
		t.Errorf("after an older version's apply the CRD says %q, want it still at 1.27", version)
	}

	res, err = e.applier.ApplyCRDs(ctx, []*unstructured.Unstructured{e.crd(group, "v1.31.0-snapshot.eed52ebb")})
	if err != nil || len(res.Updated) != 1 || e.writes.take() != 1 {
		t.Errorf("a newer version's CRD: %s, %v; want it updated with one write", res.Result, err)
	}
	if version, _ := e.crdVersion(name); version != "v1.31.0-snapshot.eed52ebb" {
		t.Errorf("after a newer version's apply the CRD says %q, want 1.31", version)
	}

	if _, err := e.applier.Delete(ctx, e.owner); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Get(ctx, client.ObjectKey{Name: name}, e.get0("CustomResourceDefinition", "apiextensions.k8s.io/v1")); err != nil {
		t.Errorf("the CRD is gone after its owner's inventory was removed: %v", err)
	}
}

// TestApplyCRDsTakesOverOnlyOlderForeignCRDs: a CRD another tool installed says its version, if at
// all, in Istio's app.kubernetes.io/version label; bosun takes over one of an older version and leaves
// one of a newer version untouched (docs/architecture.md#lesson-crds-move-forward).
func TestApplyCRDsTakesOverOnlyOlderForeignCRDs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name, label string
		adopted     bool
	}{
		{"an older release's CRD", "1.26.2", true},
		{"a CRD without a version", "", true},
		{"a newer release's CRD", "1.99.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			group = strings.Trim(strings.ReplaceAll(group, "'", ""), "-") + "." + e.ns + ".bosun.test"
			foreign := e.crd(group, "")
			foreign.SetAnnotations(nil)
			labels := map[string]string{}
			if tc.label != "" {
				labels["app.kubernetes.io/version"] = tc.label
			}
			foreign.SetLabels(labels)
			if err := e.c.Create(ctx, foreign.DeepCopy(), client.FieldOwner("helm")); err != nil {
				t.Fatal(err)
			}
			e.writes.take()
			res, err := e.applier.ApplyCRDs(ctx, []*unstructured.Unstructured{e.crd(group, "v1.27.0-snapshot.b9159ca3")})
			if err != nil {
				t.Fatal(err)
			}
			version, _ := e.crdVersion(foreign.GetName())
			if tc.adopted {
				if len(res.Adopted) != 1 || version != "v1.27.0-snapshot.b9159ca3" {
					t.Errorf("ApplyCRDs: %s, the CRD says %q; want it taken over at 1.27", res.Result, version)
				}
				return
			}
			if len(res.Newer) != 1 || res.Changed() || e.writes.take() != 0 || version != "" {
				t.Errorf("ApplyCRDs: %s, newer %v, the CRD says %q; want the newer CRD untouched", res.Result, res.Newer, version)
			}
		})
	}
}

// TestApplyCRDsRefusesACRDWithoutItsVersion: a CRD that does not say which Istio version rendered it
// could move the CRDs backwards, so it is refused, naming it, and nothing is written.
func TestApplyCRDsRefusesACRDWithoutItsVersion(t *testing.T) {
	e := newEnv(t)
	group := e.ns + ".unversioned.bosun.test"
	res, err := e.applier.ApplyCRDs(t.Context(), []*unstructured.Unstructured{e.crd(group, "")})
	if err == nil || !strings.Contains(err.Error(), "widgets."+group+" has no Istio version") {
		t.Fatalf("ApplyCRDs of a CRD without its version returned %v, want a refusal naming it", err)
	}
	if res.Changed() || e.writes.take() != 0 {
		t.Errorf("ApplyCRDs wrote %s before refusing", res.Result)
	}
	if err := e.c.Get(t.Context(), client.ObjectKey{Name: "widgets." + group}, e.get0("CustomResourceDefinition", "apiextensions.k8s.io/v1")); !apierrors.IsNotFound(err) {
		t.Errorf("the refused CRD exists: %v", err)
	}
}
