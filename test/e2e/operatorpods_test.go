//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// podMetrics reads one operator pod's metrics through the API server's pod proxy, which reaches the
// process that plays the pod through the box's network: with two replicas, each pod's own counters.
func podMetrics(ctx context.Context, pod string) (map[string]*dto.MetricFamily, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	data, err := cs.CoreV1().Pods(operatorNamespace).ProxyGet("http", pod, "8080", "/metrics", nil).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics of pod %s: %w", pod, err)
	}
	return parseMetrics(string(data))
}

// parseMetrics parses metrics in Prometheus's text format.
func parseMetrics(text string) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(text))
}

// familySum sums a counter or gauge over the series whose labels include the given ones.
func familySum(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	return seriesSum(families, name, labels, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() + m.GetGauge().GetValue() })
}

// familySeries lists a metric's non-zero series as label=value lists with their values, sorted.
func familySeries(families map[string]*dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range families[name].GetMetric() {
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if v == 0 {
			continue
		}
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		out = append(out, fmt.Sprintf("{%s} %v", strings.Join(labels, ","), v))
	}
	sort.Strings(out)
	return out
}
