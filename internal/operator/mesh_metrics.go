package operator

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/meshview"
)

// The gauges of the mesh, as `bosun status` shows it: by Istio and revision (and, for proxies, by the
// proxy version), never by namespace or pod, so that their number grows with the control planes and
// the Istio versions in use, not with the cluster.
var (
	proxiesDesc = prometheus.NewDesc("bosun_proxies",
		"Pods injected by an IstioRevision (not Succeeded or Failed), by the proxy version they were injected with (unknown when not known).",
		[]string{"istio", "revision", "version"}, nil)
	revisionReadyDesc = prometheus.NewDesc("bosun_revision_ready",
		"1 when the IstioRevision is Ready, else 0.", []string{"istio", "revision"}, nil)
	revisionActiveDesc = prometheus.NewDesc("bosun_revision_active",
		"1 for the active revision of its Istio, else 0.", []string{"istio", "revision"}, nil)
	revisionCreatedDesc = prometheus.NewDesc("bosun_revision_created_timestamp_seconds",
		"When the IstioRevision was created, in Unix seconds.", []string{"istio", "revision"}, nil)
	restartsDueDesc = prometheus.NewDesc("bosun_restarts_due",
		"Pods injected by the IstioRevision whose labels, or whose namespace's, now select another revision, or another proxy version of it: a restart is due.",
		[]string{"istio", "revision"}, nil)
	outsideSkewDesc = prometheus.NewDesc("bosun_proxies_outside_skew",
		"Pods injected by the IstioRevision whose proxy is ahead of the revision's minor version, or more than one minor behind.",
		[]string{"istio", "revision"}, nil)
	updateInProgressDesc = prometheus.NewDesc("bosun_istio_update_in_progress",
		"1 while an Istio has more than one revision, or its active revision or itself is not Ready, else 0.",
		[]string{"istio"}, nil)
)

// meshCollector reports, when Prometheus scrapes, the mesh from the operator's caches: the revisions
// and Istios, and the pods each revision injected, found through the in-use index by their istio.io/rev
// annotation and read in the informer's store, so that a scrape reads those pods only, and copies none. It writes nothing. Only the replica that leads
// serves them, as it does the usage gauges, so that two replicas' series never add up.
type meshCollector struct {
	reader client.Reader
	// informers are the cache's: the collector reads the pods and namespaces from their stores in
	// place, since a scrape that copied 10,000 pods' metadata would raise the operator's peak memory.
	informers interface {
		GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error)
	}
	// elected is closed once this replica leads.
	elected <-chan struct{}
}

// store is the store of an informer of the cache.
func (c meshCollector) store(ctx context.Context, kind string) (toolscache.Indexer, bool) {
	informer, err := c.informers.GetInformer(ctx, metadataOf(kind), cache.BlockUntilSynced(false))
	if err != nil || !informer.HasSynced() {
		return nil, false
	}
	indexed, ok := informer.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, false
	}
	return indexed.GetIndexer(), true
}

func (meshCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{proxiesDesc, revisionReadyDesc, revisionActiveDesc, revisionCreatedDesc, restartsDueDesc, outsideSkewDesc, updateInProgressDesc} {
		ch <- d
	}
}

func (c meshCollector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.elected:
	default:
		return
	}
	// As for the states: report nothing rather than block a scrape before the cache has synced.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	facts, err := desired.Read(ctx, c.reader)
	if err != nil {
		return
	}
	pods, ok := c.store(ctx, "Pod")
	if !ok {
		return
	}
	namespaces, ok := c.store(ctx, "Namespace")
	if !ok {
		return
	}
	nsLabels := func(name string) map[string]string {
		if item, found, err := namespaces.GetByKey(name); err == nil && found {
			if ns, ok := item.(*metav1.PartialObjectMetadata); ok {
				return ns.Labels
			}
		}
		return nil
	}
	revisionsOf := map[string]int{}
	for _, rev := range facts.SortedRevisions() {
		if !rev.DeletionTimestamp.IsZero() {
			continue
		}
		istio := ""
		if owner := metav1.GetControllerOf(rev); owner != nil && owner.Kind == v1.KindIstio {
			istio = owner.Name
			revisionsOf[istio]++
		}
		active := 0.0
		if i := facts.Istios[istio]; i != nil && i.Status.ActiveRevisionName == rev.Name {
			active = 1
		}
		ch <- prometheus.MustNewConstMetric(revisionReadyDesc, prometheus.GaugeValue, boolGauge(desired.Ready(rev)), istio, rev.Name)
		ch <- prometheus.MustNewConstMetric(revisionActiveDesc, prometheus.GaugeValue, active, istio, rev.Name)
		ch <- prometheus.MustNewConstMetric(revisionCreatedDesc, prometheus.GaugeValue, float64(rev.CreationTimestamp.Unix()), istio, rev.Name)

		injected, err := pods.ByIndex(fieldIndex(inuse.IndexField), allNamespaces(inuse.AnnotationKey(rev.Name)))
		if err != nil {
			continue
		}
		proxies := map[string]int{}
		due, skewed := 0, 0
		for _, item := range injected {
			p, ok := item.(*metav1.PartialObjectMetadata)
			if !ok {
				continue
			}
			version := meshview.ProxyVersion(p.Annotations)
			proxies[version]++
			pod := meshview.Pod{Pod: inuse.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Annotations: p.Annotations}}
			if _, ok := meshview.RestartDue(pod, nsLabels(p.Namespace), facts); ok {
				due++
			}
			if meshview.OutsideSkew(version, string(rev.Spec.Version)) {
				skewed++
			}
		}
		for version, n := range proxies {
			ch <- prometheus.MustNewConstMetric(proxiesDesc, prometheus.GaugeValue, float64(n), istio, rev.Name, version)
		}
		ch <- prometheus.MustNewConstMetric(restartsDueDesc, prometheus.GaugeValue, float64(due), istio, rev.Name)
		ch <- prometheus.MustNewConstMetric(outsideSkewDesc, prometheus.GaugeValue, float64(skewed), istio, rev.Name)
	}
	for name, istio := range facts.Istios {
		if !istio.DeletionTimestamp.IsZero() {
			continue
		}
		active := facts.Revisions[istio.Status.ActiveRevisionName]
		settled := revisionsOf[name] <= 1 && active != nil && desired.Ready(active) &&
			meta.IsStatusConditionTrue(istio.Status.Conditions, v1.ConditionReady)
		ch <- prometheus.MustNewConstMetric(updateInProgressDesc, prometheus.GaugeValue, boolGauge(!settled), name)
	}
}

// fieldIndex and allNamespaces name a field index of the cache (client.IndexField) and a value of it
// across namespaces as controller-runtime keeps them in the informer's store. They are
// controller-runtime's conventions, not its API: TestMeshMetrics fails if they change.
func fieldIndex(field string) string    { return "field:" + field }
func allNamespaces(value string) string { return "__all_namespaces/" + value }

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
