package operator

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// cacheOf is the operator's cache holding objs.
func cacheOf(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).Build()
}

// gather registers c alone in a registry that checks every metric against what the collector describes,
// scrapes it, and returns the gauges as name{label=value,...}: value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("scraping: %v", err)
	}
	return gauges(families, "")
}

// gauges returns the gauges of families, those of the name prefix only when it is set.
func gauges(families []*dto.MetricFamily, prefix string) map[string]float64 {
	out := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestResourcesByKindAndState: bosun_resources counts each kind's resources by status.state, with the
// empty state for those not yet reconciled; a kind with no resource has no series, and a kind the cache
// cannot list is left out of that scrape rather than reported as none, while the others are reported.
func TestResourcesByKindAndState(t *testing.T) {
	istio := func(name, state string) *v1.Istio {
		i := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}}
		i.Status.State = state
		return i
	}
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
	rev.Status.State = v1.ReasonIstiodNotReady
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}
	cni.Status.State = v1.ReasonVersionSkew
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}
	zt.Status.State = v1.StateHealthy
	reader := interceptor.NewClient(cacheOf(t, istio("a", v1.StateHealthy), istio("b", v1.StateHealthy), istio("new", ""), rev, cni, zt), interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*v1.ZTunnelList); ok {
				return errors.New("the cache is not synced")
			}
			return c.List(ctx, list, opts...)
		},
	})
	got := gather(t, stateCollector{reader: reader})
	want := map[string]float64{
		"bosun_resources{kind=Istio,state=Healthy}":                2,
		"bosun_resources{kind=Istio,state=}":                       1,
		"bosun_resources{kind=IstioRevision,state=IstiodNotReady}": 1,
		"bosun_resources{kind=IstioCNI,state=VersionSkew}":         1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("scraped %v, want %v", got, want)
	}
}

// TestRegisterReplacesTheEarlierCollector: a second operator started in the same process (the end to
// end tests restart it) registers its collectors over the first one's, and a scrape reads the new
// operator's cache, not the stopped one's.
func TestRegisterReplacesTheEarlierCollector(t *testing.T) {
	first, second := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "first"}}, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "second"}}
	first.Status.State, second.Status.State = "FromTheFirst", "FromTheSecond"
	t.Cleanup(func() { crmetrics.Registry.Unregister(stateCollector{}) })
	for _, c := range []stateCollector{{reader: cacheOf(t, first)}, {reader: cacheOf(t, second)}} {
		if err := register(c); err != nil {
			t.Fatalf("registering a second time: %v", err)
		}
	}
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := gauges(families, "bosun_resources")
	if want := map[string]float64{"bosun_resources{kind=Istio,state=FromTheSecond}": 1}; !maps.Equal(got, want) {
		t.Errorf("scraped %v, want %v", got, want)
	}
}

// TestUsageCollectorScrape: the usage gauges come from the revisions the cache holds and their last
// evaluation, described as what they are; a cache that cannot list revisions gives no series at all,
// rather than zeros a dashboard would read as unused.
func TestUsageCollectorScrape(t *testing.T) {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: types.UID("uid-prod")}}
	usage := &controller.Usage{Clock: clock.RealClock{}}
	usage.Evaluate(rev, func() (inuse.Usage, error) { return inuse.Usage{Namespaces: []string{"shop"}, Pods: 7}, nil })

	got := gather(t, usageCollector{reader: cacheOf(t, rev), usage: usage})
	want := map[string]float64{"bosun_revision_namespaces_in_use{revision=prod}": 1, "bosun_revision_pods_in_use{revision=prod}": 7}
	if !maps.Equal(got, want) {
		t.Errorf("scraped %v, want %v", got, want)
	}

	failing := interceptor.NewClient(cacheOf(t, rev), interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("the cache is not synced")
		},
	})
	if got := gather(t, usageCollector{reader: failing, usage: usage}); len(got) != 0 {
		t.Errorf("with the revisions unreadable, scraped %v, want nothing", slices.Sorted(maps.Keys(got)))
	}
}
