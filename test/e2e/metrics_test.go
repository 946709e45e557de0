package e2e

import (
	"context"
	"fmt"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gauge reads a gauge of the operator's metrics, summed over the series whose labels include the given
// ones.
func gauge(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return metricSum(t, name, labels, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

// TestOperatorMetrics checks the figures a platform engineer watches: resources by state, the Events
// bosun records by reason, and reconciles that found nothing to render.
func TestOperatorMetrics(t *testing.T) {
	c := newClient(t)
	created := counter(t, "bosun_events_total", map[string]string{"kind": "Istio", "type": "Normal", "reason": "RevisionCreated"})
	startOperator(t, v1243)
	installIstio(t, c, "metrics", "istio-metrics", v1243)

	if got := gauge(t, "bosun_resources", map[string]string{"kind": "Istio", "state": "Healthy"}); got < 1 {
		t.Errorf("bosun_resources{kind=Istio,state=Healthy} = %v with a Healthy Istio", got)
	}
	if got := counter(t, "bosun_events_total", map[string]string{"kind": "Istio", "type": "Normal", "reason": "RevisionCreated"}) - created; got != 1 {
		t.Errorf("bosun_events_total{kind=Istio,type=Normal,reason=RevisionCreated} grew by %v for one new revision, want 1", got)
	}

	// A change to an object bosun applied that bosun does not manage wakes the revision, which finds
	// its inputs unchanged and renders nothing.
	hits := counter(t, "bosun_render_cache_hits_total", map[string]string{"kind": "IstioRevision"})
	renders := counter(t, "bosun_renders_total", map[string]string{"kind": "IstioRevision"})
	mergePatch(t, c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-metrics", Name: "istio-metrics"}}, `{"metadata":{"labels":{"team":"platform"}}}`)
	waitFor(t, "a render cache hit", func(context.Context) error {
		if counter(t, "bosun_render_cache_hits_total", map[string]string{"kind": "IstioRevision"}) <= hits {
			return fmt.Errorf("no hit yet")
		}
		return nil
	})
	if got := counter(t, "bosun_renders_total", map[string]string{"kind": "IstioRevision"}) - renders; got != 0 {
		t.Errorf("an unchanged revision was rendered %v times", got)
	}
}
