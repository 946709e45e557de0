package render

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/values"
)

func controlPlaneValues(t testing.TB, version string) values.Map {
	t.Helper()
	return controlPlaneValuesFor(t, version, "prod")
}

// controlPlaneValuesFor are the values of a revision of the given name in istio-system.
func controlPlaneValuesFor(t testing.TB, version, revision string) values.Map {
	t.Helper()
	profiles := values.Profiles{FS: os.DirFS(filepath.Join(resourcesDir(t), version)), Version: version}
	m, err := values.ControlPlane(values.ControlPlaneInput{Profiles: profiles, Platform: values.Kubernetes, Revision: revision, Namespace: "istio-system"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRenderIsRepeatable renders the same request twice from one Renderer: Istio's charts rewrite
// .Values while rendering, so a renderer that reused values would lose the chart defaults the second
// time.
func TestRenderIsRepeatable(t *testing.T) {
	r := newTestRenderer(t)
	version := catalog.Embedded().Versions()[0].Name
	req := Request{Version: version, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "prod-istiod",
		Values: controlPlaneValues(t, version), Owner: Owner{"IstioRevision", "prod"}}
	first, err := r.Render(req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Render(req)
	if err != nil {
		t.Fatal(err)
	}
	if string(goldenText(first)) != string(goldenText(second)) {
		t.Fatal("the second render differs from the first")
	}
	if !slices.Contains(names(first.Objects), "Deployment/istiod-prod") {
		t.Errorf("istiod-prod Deployment missing from %v", names(first.Objects))
	}
}

func TestRenderLabelsAndOrder(t *testing.T) {
	r := newTestRenderer(t)
	version := catalog.Embedded().Versions()[0].Name
	res, err := r.Render(Request{Version: version, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "prod-istiod",
		Values: controlPlaneValues(t, version), Owner: Owner{"IstioRevision", "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		if o.GetLabels()[LabelManagedBy] != "bosun" || o.GetLabels()[LabelOwner] != "IstioRevision.prod" {
			t.Errorf("%s %s has labels %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
	kinds := []string{}
	for _, o := range res.Objects {
		if len(kinds) == 0 || kinds[len(kinds)-1] != o.GetKind() {
			kinds = append(kinds, o.GetKind())
		}
	}
	pos := func(kind string) int { return slices.Index(kinds, kind) }
	if !(pos("ServiceAccount") < pos("Deployment") && pos("Service") < pos("Deployment") && pos("Deployment") < pos("MutatingWebhookConfiguration")) {
		t.Errorf("objects are not in apply order: %v", kinds)
	}
}

func TestRenderWithTemplatesKeepsOnlyThose(t *testing.T) {
	r := newTestRenderer(t)
	version := catalog.Embedded().Versions()[0].Name
	vals := controlPlaneValues(t, version)
	vals["revisionTags"] = []any{"canary"}
	res, err := r.Render(Request{Version: version, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "canary-revisiontags",
		Values: vals, Owner: Owner{"IstioRevisionTag", "canary"}, Templates: []string{"revision-tags.yaml", "revision-tags-mwc.yaml", "revision-tags-svc.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	got := names(res.Objects)
	if !slices.Contains(got, "MutatingWebhookConfiguration/istio-revision-tag-canary") || slices.Contains(got, "Deployment/istiod-prod") {
		t.Errorf("a tag render gave %v", got)
	}
}

func TestMissingChartSaysToFetch(t *testing.T) {
	_, err := newTestRenderer(t).Render(Request{Version: "v9.9.9", Chart: ChartIstiod})
	if !errors.Is(err, ErrChartNotFound) {
		t.Fatalf("error = %v, want ErrChartNotFound", err)
	}
}

func TestOwnerLabelValueFitsALabel(t *testing.T) {
	long := OwnerLabelValue(Owner{"IstioRevision", "a-very-long-istio-name-that-a-platform-team-might-choose-v1-27-0-snapshot-b9159ca3"})
	if len(long) > 63 {
		t.Errorf("%q is %d characters, more than a label value may hold", long, len(long))
	}
	other := OwnerLabelValue(Owner{"IstioRevision", "a-very-long-istio-name-that-a-platform-team-might-choose-v1-25-0-snapshot-be4b14ad"})
	if long == other {
		t.Errorf("two long owners share the label value %q", long)
	}
}

// BenchmarkRenderIstiod measures one render of the istiod chart, reading and parsing the chart
// included: the cost bosun pays when a revision's digest changes.
func BenchmarkRenderIstiod(b *testing.B) {
	r := newTestRenderer(b)
	for _, v := range catalog.Embedded().Versions() {
		b.Run(v.Name, func(b *testing.B) {
			req := Request{Version: v.Name, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "prod-istiod",
				Values: controlPlaneValues(b, v.Name), Owner: Owner{"IstioRevision", "prod"}}
			if _, err := r.Render(req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderBaseObjects measures the base chart of the revision named default as the operator
// renders it: without Istio's CRDs (values.WithoutCRDs, RenderObjects), which their own controller
// applies. With them, the chart's templates parse 800 KB of CRDs twice: 0.65 s of one core and 110 MB
// allocated per render on the machine of docs/performance.md, against 8 ms and 7.6 MB.
func BenchmarkRenderBaseObjects(b *testing.B) {
	r := newTestRenderer(b)
	for _, v := range catalog.Embedded().Versions() {
		b.Run(v.Name, func(b *testing.B) {
			req := Request{Version: v.Name, Chart: ChartBase, Namespace: "istio-system", ReleaseName: "default-base",
				Values: values.WithoutCRDs(controlPlaneValuesFor(b, v.Name, "default")), Owner: Owner{"IstioRevision", "default"}}
			b.ReportAllocs()
			for b.Loop() {
				res, err := r.RenderObjects(req)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.CRDs) > 0 {
					b.Fatalf("%d CRDs rendered", len(res.CRDs))
				}
			}
		})
	}
}
