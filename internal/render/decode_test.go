package render

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bosun-mesh/bosun/internal/values"
)

// TestDecodeTakesManifestsOnly: only .yaml and .yml templates become objects, in the order of their
// file names; empty documents, comments and files such as NOTES.txt are passed over; with a list of
// templates, the others are left out.
func TestDecodeTakesManifestsOnly(t *testing.T) {
	files := map[string]string{
		"tiny/templates/b.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n# a comment only\n---\n",
		"tiny/templates/a.yml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"tiny/templates/NOTES.txt": "Thank you for installing",
		"tiny/templates/c.yaml":    "",
	}
	got, err := decode(files, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got {
		names = append(names, d.template+"="+d.obj.GetName())
	}
	if want := "tiny/templates/a.yml=a tiny/templates/b.yaml=b"; strings.Join(names, " ") != want {
		t.Errorf("decoded %v, want %s", names, want)
	}
	only, err := decode(files, []string{"b.yaml"}, true)
	if err != nil || len(only) != 1 || only[0].obj.GetName() != "b" {
		t.Errorf("with templates [b.yaml]: %v, %v", only, err)
	}
}

// TestDecodeRefusesWhatIsNoObject: a template that renders a document without kind or apiVersion, or
// text that is no YAML, is an error naming the template.
func TestDecodeRefusesWhatIsNoObject(t *testing.T) {
	for name, text := range map[string]string{
		"no kind":       "apiVersion: v1\nmetadata: {name: x}\n",
		"no apiVersion": "kind: ConfigMap\nmetadata: {name: x}\n",
		"not YAML":      "kind: [ConfigMap\n",
	} {
		_, err := decode(map[string]string{"tiny/templates/bad.yaml": text}, nil, true)
		if err == nil || !strings.Contains(err.Error(), "tiny/templates/bad.yaml") {
			t.Errorf("%s: error %v, want one naming the template", name, err)
		}
	}
}

// TestRenderSaysWhichChartIsMissing: a chart that was never fetched is ErrChartNotFound, with the
// chart, the version and what to run.
func TestRenderSaysWhichChartIsMissing(t *testing.T) {
	r, err := New(tinyChart("v1"), Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Render(Request{Version: "v1", Chart: "istiod", ReleaseName: "x", Namespace: "n", Values: values.Map{}})
	if !errors.Is(err, ErrChartNotFound) || !strings.Contains(err.Error(), "no istiod chart for Istio v1 (run make charts)") {
		t.Errorf("error %v", err)
	}
}

// TestRenderSeesTheCluster: the charts read the cluster's version through .Capabilities, as Helm gives
// it, so a chart that branches on it renders for the cluster bosun runs in.
func TestRenderSeesTheCluster(t *testing.T) {
	for _, kube := range []string{"v1.36.3", "v1.30.0"} {
		r, err := New(tinyChart("v1"), Cluster{KubeVersion: kube})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Render(tinyRequest("v1", values.Map{}))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Objects[0].Object["data"].(map[string]any)["kube"]; got != kube {
			t.Errorf("the chart saw Kubernetes %v, want %s", got, kube)
		}
	}
}

// TestRenderDoesNotChangeItsValues: the charts rewrite .Values while rendering (Istio's profile
// template does); the request's values are copied first, so rendering twice from one map gives the
// same objects and the caller's map is unchanged.
func TestRenderDoesNotChangeItsValues(t *testing.T) {
	res := tinyChart("v1")
	res["v1/charts/tiny/templates/zz.yaml"] = &fstest.MapFile{Data: []byte(`{{- $_ := set .Values "color" "rewritten" }}`)}
	r, err := New(res, Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	vals := values.Map{"color": "red"}
	for range 2 {
		if _, err := r.Render(tinyRequest("v1", vals)); err != nil {
			t.Fatal(err)
		}
	}
	if vals["color"] != "red" {
		t.Errorf("the caller's values became %v", vals)
	}
}

// TestCRDsCarryTheirIstioVersion: every CRD a chart renders names the Istio version of the chart, which
// internal/apply reads to never replace a newer version's CRD with an older one; CRDs come apart from
// the other objects.
func TestCRDsCarryTheirIstioVersion(t *testing.T) {
	res := tinyChart("v1.27.0")
	res["v1.27.0/charts/tiny/templates/crd.yaml"] = &fstest.MapFile{Data: []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`)}
	r, err := New(res, Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render(tinyRequest("v1.27.0", values.Map{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CRDs) != 1 || len(out.Objects) != 2 {
		t.Fatalf("%d CRDs and %d objects, want 1 and 2", len(out.CRDs), len(out.Objects))
	}
	if got := out.CRDs[0].GetAnnotations()[AnnotationIstioVersion]; got != "v1.27.0" {
		t.Errorf("the CRD names version %q, want v1.27.0", got)
	}
	objects, err := r.RenderObjects(tinyRequest("v1.27.0", values.Map{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(objects.CRDs) != 0 || len(objects.Objects) != 2 {
		t.Errorf("RenderObjects: %d CRDs and %d objects, want the 2 objects alone", len(objects.CRDs), len(objects.Objects))
	}
}

// TestDecodeWithoutCRDsSkipsOnlyCRDs: without CRDs, a document whose top-level kind is
// CustomResourceDefinition is passed over unparsed (it may be anything: here it is not even YAML),
// while an object that merely mentions the kind further down is kept.
func TestDecodeWithoutCRDsSkipsOnlyCRDs(t *testing.T) {
	files := map[string]string{"base/templates/crds.yaml": "kind: CustomResourceDefinition\nspec: [unparsed\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mentions}\ndata:\n  text: |\n    kind: CustomResourceDefinition\n"}
	got, err := decode(files, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].obj.GetName() != "mentions" {
		t.Errorf("decoded %v, want the ConfigMap alone", got)
	}
	if _, err := decode(files, nil, true); err == nil {
		t.Error("with CRDs, the CRD document was not parsed")
	}
}
