//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestRenderPrintsWhatTheOperatorApplies: for each Istio of the documents' examples, the objects the
// operator applied in the cluster are exactly those `bosun render` prints for the same manifest, catalog
// and cluster: the same set, each with the hash of the same rendered object, and every field render
// prints owned by bosun's apply in the live object (so it was sent as printed). The generated
// IstioRevision's spec is the one render prints. Istio's CRDs, which render lists apart, are compared
// once bosun applies them.
func TestRenderPrintsWhatTheOperatorApplies(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	bosun := buildBosun(t)
	catalogFile := filepath.Join(t.TempDir(), "versions.yaml")
	if err := os.WriteFile(catalogFile, []byte(catalogYAML(v1244)), 0o644); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeVersion, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob(filepath.Join(root, "config", "crd", "testdata", "ossm-docs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, c, "istio-system")
	for _, example := range examples {
		istio, istioName := firstIstio(t, example)
		if istio == "" {
			continue // an example of another kind, which the operator does not reconcile yet
		}
		t.Run(filepath.Base(example), func(t *testing.T) {
			out, err := exec.Command(bosun, "render", "-f", istio, "--versions-file", catalogFile,
				"--resources-dir", resources, "--platform", "kubernetes", "--kube-version", kubeVersion.GitVersion).CombinedOutput()
			if err != nil {
				t.Fatalf("bosun render: %v\n%s", err, out)
			}
			printed := decodeAll(t, out)

			data, err := os.ReadFile(istio)
			if err != nil {
				t.Fatal(err)
			}
			applyYAML(t, c, string(data))
			name := printedRevision(t, printed).GetName()
			var owner string
			t.Cleanup(func() { deleteIstio(t, c, istioName) })
			waitFor(t, "the operator to apply revision "+name, func(ctx context.Context) error {
				rev := &v1.IstioRevision{}
				if err := c.Get(ctx, client.ObjectKey{Name: name}, rev); err != nil {
					return err
				}
				cond, err := condition(rev.Status.Conditions, v1.ConditionReconciled)
				if err != nil || rev.Status.ObservedGeneration != rev.Generation {
					return fmt.Errorf("not reconciled yet: %+v %v", cond, err)
				}
				owner = render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: name})
				return nil
			})
			compareRevision(t, c, printedRevision(t, printed))
			// The box's istiod is real: it patches its webhooks once it serves. Compare the steady
			// state, after that.
			waitFor(t, "istiod to patch its webhooks", func(ctx context.Context) error {
				mwcs, vwcs, err := istiodWebhooks(ctx, c, client.MatchingLabels{render.LabelOwner: owner})
				if err != nil {
					return err
				}
				return patchedByIstiod(mwcs, vwcs)
			})
			var want []*unstructured.Unstructured
			for _, obj := range printed {
				if obj.GetKind() != v1.KindIstioRevision && obj.GetKind() != "CustomResourceDefinition" {
					want = append(want, obj)
				}
			}
			compareApplied(t, c, want, owner)
		})
	}
}

// compareApplied checks that the objects bosun applied for owner (an owner label value) are exactly the
// printed ones: the same set, each with the hash of the same rendered object, every printed field
// owned by bosun's apply, and a dry-run apply of the printed object changing nothing.
func compareApplied(t *testing.T, c client.Client, printed []*unstructured.Unstructured, owner string) {
	t.Helper()
	live := liveObjects(t, c, owner)
	var want, got []string
	byKey := map[string]*unstructured.Unstructured{}
	for _, obj := range printed {
		want = append(want, key(obj))
		byKey[key(obj)] = obj
	}
	for k := range live {
		got = append(got, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Fatalf("bosun render prints\n  %v\nthe operator applied\n  %v", want, got)
	}
	for k, obj := range byKey {
		l := live[k]
		if l.GetAnnotations()[render.AnnotationHash] != obj.GetAnnotations()[render.AnnotationHash] {
			t.Errorf("%s: the operator applied another rendering than bosun render prints", k)
		}
		update := apply.ForUpdate(obj, l)
		if drift := apply.Drift(l, update); len(drift) > 0 {
			t.Errorf("%s: fields render prints that bosun's apply does not own: %v", k, drift)
		}
		// Values too: applying what render prints, as bosun would to the existing object (a dry run, in
		// the form bosun sends an update: without the validator's failurePolicy once istiod owns it),
		// changes nothing.
		printedApply := update.DeepCopy()
		printedApply.SetOwnerReferences(l.GetOwnerReferences())
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(printedApply), client.FieldOwner(apply.FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Fatalf("%s: dry-run apply of what render prints: %v", k, err)
		}
		if diff := withoutServerFields(printedApply, l); diff != "" {
			t.Errorf("%s: applying what render prints would change the object bosun applied: %s", k, diff)
		}
	}
}

// buildBosun returns the bosun binary TestMain built from this tree.
func buildBosun(t *testing.T) string {
	t.Helper()
	return bosunBinary
}

// firstIstio writes the example's Istio manifest to a file of its own, and returns the file and the
// Istio's name; an example without an Istio gives empty strings.
func firstIstio(t *testing.T, path string) (string, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range decodeAll(t, data) {
		if obj.GetKind() == v1.KindIstio {
			out, err := obj.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "istio.yaml")
			if err := os.WriteFile(file, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return file, obj.GetName()
		}
	}
	return "", ""
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

func printedRevision(t *testing.T, printed []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range printed {
		if obj.GetKind() == v1.KindIstioRevision {
			return obj
		}
	}
	t.Fatal("bosun render printed no IstioRevision")
	return nil
}

// compareRevision checks that the live IstioRevision has the spec render prints.
func compareRevision(t *testing.T, c client.Client, printed *unstructured.Unstructured) {
	t.Helper()
	want := &v1.IstioRevision{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(printed.Object, want); err != nil {
		t.Fatal(err)
	}
	got := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: want.Name}, got); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(want.Spec, got.Spec) {
		t.Errorf("IstioRevision %s: the operator wrote spec\n%+v\nbosun render prints\n%+v", want.Name, got.Spec, want.Spec)
	}
}

// liveObjects lists, across the kinds bosun applies, the objects of an owner that bosun applied, by key.
func liveObjects(t *testing.T, c client.Client, owner string) map[string]*unstructured.Unstructured {
	t.Helper()
	return liveObjectsCtx(t, t.Context(), c, owner)
}

// liveObjectsCtx is liveObjects with a context, for cleanups, which run after the test's context ends.
func liveObjectsCtx(t *testing.T, ctx context.Context, c client.Client, owner string) map[string]*unstructured.Unstructured {
	t.Helper()
	served, err := apply.ServedKinds(c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, gvk := range served {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.MatchingLabels{render.LabelOwner: owner}); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if !apply.AppliedByBosun(obj) {
				continue // the EndpointSlices Kubernetes makes for a Service of bosun's carry its labels
			}
			obj.SetGroupVersionKind(gvk)
			out[key(obj)] = obj
		}
	}
	return out
}

func key(obj *unstructured.Unstructured) string {
	return obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// withoutServerFields compares two versions of an object, managedFields, resourceVersion, generation and status
// aside (status moves on its own between two reads), and describes the first difference, or returns "".
func withoutServerFields(a, b *unstructured.Unstructured) string {
	strip := func(o *unstructured.Unstructured) map[string]any {
		c := o.DeepCopy()
		c.SetManagedFields(nil)
		c.SetResourceVersion("")
		c.SetGeneration(0)
		delete(c.Object, "status")
		// Written by the Deployment controller, at a moment of its own between the two reads.
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
		return c.Object
	}
	x, y := strip(a), strip(b)
	if equality.Semantic.DeepEqual(x, y) {
		return ""
	}
	for k := range x {
		if !equality.Semantic.DeepEqual(x[k], y[k]) {
			return fmt.Sprintf("%s: %v, applied %v", k, x[k], y[k])
		}
	}
	return "the objects differ"
}
