package operator

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// resourcesDesc describes bosun_resources: how many of bosun's resources of each kind are in each state.
var resourcesDesc = prometheus.NewDesc("bosun_resources",
	"bosun's resources by kind and status.state: Healthy, else the reason of the first condition that is not True (empty until first reconciled).",
	[]string{"kind", "state"}, nil)

// stateCollector counts bosun's resources by state from the operator's cache, when Prometheus scrapes,
// so the figure needs no bookkeeping and is never stale.
type stateCollector struct{ reader client.Reader }

func (stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- resourcesDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	// The cache answers from memory once synced; before that, report nothing rather than block a scrape.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	collectStates(ctx, c.reader, ch, v1.KindIstio, &v1.IstioList{}, func(o *v1.Istio) string { return o.Status.State })
	collectStates(ctx, c.reader, ch, v1.KindIstioRevision, &v1.IstioRevisionList{}, func(o *v1.IstioRevision) string { return o.Status.State })
	collectStates(ctx, c.reader, ch, v1.KindIstioRevisionTag, &v1.IstioRevisionTagList{}, func(o *v1.IstioRevisionTag) string { return o.Status.State })
	collectStates(ctx, c.reader, ch, v1.KindIstioCNI, &v1.IstioCNIList{}, func(o *v1.IstioCNI) string { return o.Status.State })
	collectStates(ctx, c.reader, ch, v1.KindZTunnel, &v1.ZTunnelList{}, func(o *v1.ZTunnel) string { return o.Status.State })
}

// collectStates lists one kind and sends how many of its objects are in each state.
func collectStates[T any](ctx context.Context, reader client.Reader, ch chan<- prometheus.Metric, kind string, list client.ObjectList, state func(*T) string) {
	if err := reader.List(ctx, list); err != nil {
		return
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return
	}
	n := map[string]float64{}
	for _, item := range items {
		if o, ok := any(item).(*T); ok {
			n[state(o)]++
		}
	}
	for s, v := range n {
		ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, v, kind, s)
	}
}

// register registers a collector, replacing the one of its type an earlier manager in this process
// registered.
func register(c prometheus.Collector) error {
	err := crmetrics.Registry.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		crmetrics.Registry.Unregister(already.ExistingCollector)
		return crmetrics.Registry.Register(c)
	}
	return err
}
