//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/render"
)

// istioCRDs renders Istio's CRDs from a version's base chart, as bosun applies them.
func istioCRDs(t *testing.T, version string) []*unstructured.Unstructured {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := render.DiscoverCluster(dc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(os.DirFS(resources), cluster)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Render(render.Request{Version: version, Chart: render.ChartBase, Namespace: "istio-system", ReleaseName: "crds", Owner: desired.CRDOwner})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CRDs) < 10 {
		t.Fatalf("the base chart of %s renders %d CRDs", version, len(res.CRDs))
	}
	return res.CRDs
}

// crdVersions maps each of Istio's CRDs to the Istio version bosun last applied it from ("" when bosun
// did not), or to "missing".
func crdVersions(ctx context.Context, c client.Client, names []string) map[string]string {
	out := map[string]string{}
	for _, name := range names {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		err := c.Get(ctx, client.ObjectKey{Name: name}, crd)
		switch {
		case apierrors.IsNotFound(err):
			out[name] = "missing"
		case err != nil:
			out[name] = err.Error()
		default:
			out[name] = crd.Annotations[render.AnnotationIstioVersion]
		}
	}
	return out
}

// deleteCRD deletes a CRD, if it exists, and waits until it is gone.
func deleteCRD(t *testing.T, c client.Client, name string) {
	t.Helper()
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	crd.SetName(name)
	if err := c.Delete(t.Context(), crd); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitFor(t, name+" to be gone", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

// allAt returns an error unless every CRD is at version.
func allAt(versions map[string]string, version string) error {
	var off []string
	for name, v := range versions {
		if v != version {
			off = append(off, name+"="+v)
		}
	}
	slices.Sort(off)
	if len(off) > 0 {
		return fmt.Errorf("CRDs not at %s: %s", version, strings.Join(off, ", "))
	}
	return nil
}

// TestIstioCRDsMoveForwardOnly follows DESIGN decision 7: bosun installs Istio's CRDs from the base
// chart of the newest version in use, takes over CRDs another installer created without losing their
// objects, never downgrades them (docs/architecture.md#lesson-crds-move-forward, also across an operator restart), and never deletes
// them: a user's VirtualService survives the removal of every bosun resource.
func TestIstioCRDsMoveForwardOnly(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	crds := istioCRDs(t, v1243)
	var names []string
	for _, crd := range crds {
		names = append(names, crd.GetName())
	}

	// Another installer's VirtualService CRD, as Helm leaves it, with a VirtualService stored.
	vsCRD := "virtualservices.networking.istio.io"
	var helmCRD *unstructured.Unstructured
	for _, crd := range crds {
		if crd.GetName() == vsCRD {
			helmCRD = crd.DeepCopy()
		}
	}
	// Operators of earlier tests installed Istio's CRDs; this one starts from a cluster without them.
	for _, name := range names {
		deleteCRD(t, c, name)
	}
	for _, key := range []string{render.AnnotationHash, render.AnnotationIstioVersion} {
		unstructured.RemoveNestedField(helmCRD.Object, "metadata", "annotations", key)
	}
	for _, key := range []string{render.LabelManagedBy, render.LabelOwner} {
		unstructured.RemoveNestedField(helmCRD.Object, "metadata", "labels", key)
	}
	if err := c.Create(ctx, helmCRD, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, c, "reviews")
	vs := &unstructured.Unstructured{}
	vs.SetAPIVersion("networking.istio.io/v1")
	vs.SetKind("VirtualService")
	vs.SetNamespace("reviews")
	vs.SetName("reviews")
	vs.Object["spec"] = map[string]any{"hosts": []any{"reviews"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}}
	waitFor(t, "the VirtualService kind to be served", func(ctx context.Context) error {
		return c.Create(ctx, vs.DeepCopy(), client.FieldOwner("kubectl"))
	})
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(vs.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(vs), stored); err != nil {
		t.Fatal(err)
	}

	stop := startOperator(t, v1243)
	installIstio(t, c, "crds-old", "istio-crds-old", v1243)
	waitFor(t, "Istio's CRDs at "+v1243, func(ctx context.Context) error { return allAt(crdVersions(ctx, c, names), v1243) })
	after := &unstructured.Unstructured{}
	after.SetGroupVersionKind(vs.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(vs), after); err != nil || after.GetUID() != stored.GetUID() {
		t.Fatalf("after bosun took the CRD over, the VirtualService is %v (UID %s, was %s)", err, after.GetUID(), stored.GetUID())
	}

	// A newer control plane brings newer CRDs; removing it or installing an older one does not take
	// them back, nor does an operator that starts afresh.
	installIstio(t, c, "crds-new", "istio-crds-new", v127)
	waitFor(t, "Istio's CRDs at "+v127, func(ctx context.Context) error { return allAt(crdVersions(ctx, c, names), v127) })
	deleteIstio(t, c, "crds-new")
	stop()
	written := counter(t, "bosun_api_writes_total", map[string]string{"resource": "customresourcedefinitions"})
	startOperator(t, v1243)
	installIstio(t, c, "crds-older", "istio-crds-older", v1244)
	if err := allAt(crdVersions(ctx, c, names), v127); err != nil {
		t.Errorf("after the newest control plane left and an older one came: %v", err)
	}
	if n := counter(t, "bosun_api_writes_total", map[string]string{"resource": "customresourcedefinitions"}) - written; n != 0 {
		t.Errorf("the restarted operator wrote %v times to CRDs that are newer than it would apply", n)
	}

	// Deleting every bosun resource leaves the CRDs and the user's VirtualService.
	deleteIstio(t, c, "crds-old")
	deleteIstio(t, c, "crds-older")
	if err := allAt(crdVersions(ctx, c, names), v127); err != nil {
		t.Errorf("after every Istio was deleted: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(vs), after); err != nil || after.GetUID() != stored.GetUID() {
		t.Errorf("after every Istio was deleted, the VirtualService is %v (UID %s, was %s)", err, after.GetUID(), stored.GetUID())
	}
}

// TestIstioCRDsLeftToAnotherTool: with --manage-istio-crds=false (docs/architecture.md#lesson-crds-left-to-another-tool), bosun writes no
// CRD, even one that is missing.
func TestIstioCRDsLeftToAnotherTool(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	missing := "wasmplugins.extensions.istio.io"
	deleteCRD(t, c, missing)
	written := counter(t, "bosun_api_writes_total", map[string]string{"resource": "customresourcedefinitions"})
	startOperatorWith(t, v1243, func(o *operator.Options) { o.LeaveIstioCRDs = true })
	installIstio(t, c, "crds-elsewhere", "istio-crds-elsewhere", v127)
	if n := counter(t, "bosun_api_writes_total", map[string]string{"resource": "customresourcedefinitions"}) - written; n != 0 {
		t.Errorf("the operator wrote %v times to CRDs although another tool owns them", n)
	}
	if v := crdVersions(ctx, c, []string{missing})[missing]; v != "missing" {
		t.Errorf("%s was created (version %q)", missing, v)
	}
}
