package operator

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
)

// The gauges of how much each revision is used. Their only label is the revision's name: revisions
// are few, and a revision removed takes its series with it.
var (
	namespacesInUseDesc = prometheus.NewDesc("bosun_revision_namespaces_in_use",
		"Namespaces that use an IstioRevision (by istio-injection or istio.io/rev, directly or through an IstioRevisionTag), as last evaluated by the leader.",
		[]string{"revision"}, nil)
	podsInUseDesc = prometheus.NewDesc("bosun_revision_pods_in_use",
		"Pods (not Succeeded or Failed) that use an IstioRevision (injected by it, or selecting it or its tags), as last evaluated by the leader.",
		[]string{"revision"}, nil)
)

// usageCollector reports, when Prometheus scrapes, the counts of each revision's last evaluation by
// the usage controller (controller.Usage), for the revisions the cache holds. It reads no pod or
// namespace: the counts are what the controller found through the cache's indexes anyway, so a scrape
// costs one list of revisions from memory however many pods the cluster runs.
type usageCollector struct {
	reader client.Reader
	usage  *controller.Usage
}

func (usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- namespacesInUseDesc
	ch <- podsInUseDesc
}

func (c usageCollector) Collect(ch chan<- prometheus.Metric) {
	// As for the states: report nothing rather than block a scrape before the cache has synced.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var revs v1.IstioRevisionList
	if err := c.reader.List(ctx, &revs); err != nil {
		return
	}
	collectUsage(revs.Items, c.usage, ch)
}

// collectUsage sends the counts of the revisions that exist and are not being deleted, and whose use
// was evaluated. A revision without counts (being deleted, evaluated only on another replica, or whose
// evaluation failed) has no series: its use is not known here.
func collectUsage(revs []v1.IstioRevision, usage *controller.Usage, ch chan<- prometheus.Metric) {
	for _, rev := range revs {
		if !rev.DeletionTimestamp.IsZero() {
			continue
		}
		counts, ok := usage.Counts(rev.UID)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(namespacesInUseDesc, prometheus.GaugeValue, float64(counts.Namespaces), rev.Name)
		ch <- prometheus.MustNewConstMetric(podsInUseDesc, prometheus.GaugeValue, float64(counts.Pods), rev.Name)
	}
}
