package operator

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	count := func(kind string, list client.ObjectList, states func() []string) {
		if err := c.reader.List(ctx, list); err != nil {
			return
		}
		n := map[string]float64{}
		for _, s := range states() {
			n[s]++
		}
		for state, v := range n {
			ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, v, kind, state)
		}
	}
	var istios v1.IstioList
	count(v1.KindIstio, &istios, func() (out []string) {
		for _, o := range istios.Items {
			out = append(out, o.Status.State)
		}
		return out
	})
	var revisions v1.IstioRevisionList
	count(v1.KindIstioRevision, &revisions, func() (out []string) {
		for _, o := range revisions.Items {
			out = append(out, o.Status.State)
		}
		return out
	})
	var tags v1.IstioRevisionTagList
	count("IstioRevisionTag", &tags, func() (out []string) {
		for _, o := range tags.Items {
			out = append(out, o.Status.State)
		}
		return out
	})
	var cnis v1.IstioCNIList
	count(v1.KindIstioCNI, &cnis, func() (out []string) {
		for _, o := range cnis.Items {
			out = append(out, o.Status.State)
		}
		return out
	})
	var ztunnels v1.ZTunnelList
	count(v1.KindZTunnel, &ztunnels, func() (out []string) {
		for _, o := range ztunnels.Items {
			out = append(out, o.Status.State)
		}
		return out
	})
}

// registerStates registers the collector, replacing one an earlier manager in this process registered.
func registerStates(reader client.Reader) error {
	c := stateCollector{reader: reader}
	err := crmetrics.Registry.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		crmetrics.Registry.Unregister(already.ExistingCollector)
		return crmetrics.Registry.Register(c)
	}
	return err
}
