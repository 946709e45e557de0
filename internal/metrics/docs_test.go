package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// documentedMetric is a row of the Metrics table in docs/operator.md.
type documentedMetric struct {
	typ    string
	labels []string
}

// documented reads the Metrics table of docs/operator.md, by metric name.
func documented(t *testing.T) map[string]documentedMetric {
	t.Helper()
	data, err := os.ReadFile("../../docs/operator.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(bosun_[a-z_]+)` \\| ([a-z]+) \\| ([^|]*) \\|")
	label := regexp.MustCompile("`([a-z_]+)`")
	out := map[string]documentedMetric{}
	for _, line := range strings.Split(string(data), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d := documentedMetric{typ: m[2]}
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			d.labels = append(d.labels, l[1])
		}
		out[m[1]] = d
	}
	return out
}

// TestCountersAreServedAsDocumented: every counter of this package is served from controller-runtime's
// registry (the operator's metrics endpoint) under the name, type and labels docs/operator.md gives,
// and every counter the page lists is one of them: a dashboard built from the page finds its series.
func TestCountersAreServedAsDocumented(t *testing.T) {
	// A vector is gathered only once it has a series: give each one, with as many values as it has labels.
	for _, c := range []struct {
		vec    *prometheus.CounterVec
		labels int
	}{{Renders, 1}, {RenderCacheHits, 1}, {Events, 3}, {Applies, 2}, {ReconcileErrors, 2}, {Refusals, 2}, {APIWrites, 2},
		{WorkloadsRestarted, 1}, {WorkloadRollbacks, 1}, {WorkloadsUpdatePauses, 1}, {WorkloadsUpdateWakeups, 1}} {
		c.vec.WithLabelValues(slices.Repeat([]string{"DocsTest"}, c.labels)...)
	}
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	docs := documented(t)
	served := map[string]bool{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "bosun_") {
			continue
		}
		served[f.GetName()] = true
		doc, ok := docs[f.GetName()]
		if !ok {
			t.Errorf("%s is served but not in docs/operator.md's Metrics table", f.GetName())
			continue
		}
		if f.GetType() != dto.MetricType_COUNTER || doc.typ != "counter" {
			t.Errorf("%s is a %s, documented as a %s", f.GetName(), f.GetType(), doc.typ)
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		slices.Sort(labels)
		want := slices.Sorted(slices.Values(doc.labels))
		if !slices.Equal(labels, want) {
			t.Errorf("%s has labels %q, documented as %q", f.GetName(), labels, want)
		}
	}
	for name, doc := range docs {
		if doc.typ == "counter" && !served[name] {
			t.Errorf("docs/operator.md lists counter %s, which is not served", name)
		}
	}
	if len(served) != 11 {
		t.Errorf("%d of bosun's counters are served, want 11", len(served))
	}
}
