package crds

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
)

// withoutCharts is a Reconciler over a cache holding revs, whose renderer has no chart: every render
// fails, and each attempt shows as a Warning Event on a revision of the version it tried.
func withoutCharts(t *testing.T, revs ...*v1.IstioRevision) (*Reconciler, client.Client, *recorder) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme)
	for _, rev := range revs {
		b = b.WithObjects(rev)
	}
	renderer, err := render.New(fstest.MapFS{}, render.Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c := b.Build()
	return &Reconciler{Client: c, Env: desired.Env{Catalog: catalog.Embedded()}, Renderer: renderer, Recorder: rec}, c, rec
}

// renders counts the renders of Istio's CRDs so far (bosun_renders_total of this controller).
func renders(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.Renders.WithLabelValues(crdKind).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func revisionOn(name, version string) *v1.IstioRevision {
	return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version), Namespace: "istio-system"}}
}

// TestNoRevisionLeavesTheCRDsAlone: with no revision, or only revisions of versions the catalog does not
// know, there is nothing to bring the CRDs to: nothing is rendered and whatever CRDs exist stay.
func TestNoRevisionLeavesTheCRDsAlone(t *testing.T) {
	for name, revs := range map[string][]*v1.IstioRevision{
		"no revision":          nil,
		"an unknown version":   {revisionOn("future", "v1.99.0")},
		"a version of no form": {revisionOn("nightly", "nightly")},
	} {
		t.Run(name, func(t *testing.T) {
			r, _, rec := withoutCharts(t, revs...)
			before := renders(t)
			if res, err := r.Reconcile(t.Context(), request); err != nil || !res.IsZero() {
				t.Errorf("Reconcile returned %v, %+v; want nothing to do", err, res)
			}
			if n := renders(t) - before; n != 0 || len(rec.events) != 0 {
				t.Errorf("%v renders, Events %q; want nothing rendered", n, rec.events)
			}
		})
	}
}

// TestCRDsAreBroughtToEachVersionOnce: once the CRDs of the newest version in use were dealt with, a
// reconcile with the same newest version renders nothing again; a newer revision makes the controller
// go on to its version, and the Event is recorded on a revision that runs it. A revision of a version
// the catalog does not know does not hold the others back.
func TestCRDsAreBroughtToEachVersionOnce(t *testing.T) {
	const v127, v131 = "v1.27.0-snapshot.b9159ca3", "v1.31.0-snapshot.eed52ebb"
	r, c, rec := withoutCharts(t, revisionOn("blue", v127), revisionOn("future", "v1.99.0"))
	before := renders(t)
	for range 2 {
		if _, err := r.Reconcile(t.Context(), request); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"IstioRevision/blue Warning " + v1.ReasonReconcileError}
	if n := renders(t) - before; n != 1 || len(rec.events) != 1 || rec.events[0] != want[0] {
		t.Fatalf("after two reconciles of one version: %v renders, Events %q; want one render and %q", n, rec.events, want)
	}
	if err := c.Create(t.Context(), revisionOn("green", v131)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(t.Context(), request); err != nil {
		t.Fatal(err)
	}
	want = append(want, "IstioRevision/green Warning "+v1.ReasonReconcileError)
	if len(rec.events) != 2 || rec.events[1] != want[1] {
		t.Errorf("after a newer revision came: Events %q, want %q", rec.events, want)
	}
}

// TestFailureToReadTheRevisionsIsRetried: a cache that cannot be read is an error, retried, and decides
// nothing: no render, no Event.
func TestFailureToReadTheRevisionsIsRetried(t *testing.T) {
	r, c, rec := withoutCharts(t, revisionOn("blue", "v1.27.0-snapshot.b9159ca3"))
	r.Client = interceptor.NewClient(c.(client.WithWatch), interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("the cache is not synced")
		},
	})
	if _, err := r.Reconcile(t.Context(), request); err == nil {
		t.Error("Reconcile returned no error for a cache it could not read")
	}
	if len(rec.events) != 0 {
		t.Errorf("Events %q for a reconcile that read nothing", rec.events)
	}
}
