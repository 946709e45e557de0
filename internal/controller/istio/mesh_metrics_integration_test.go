//go:build integration

package istio_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// TestMeshMetrics: the operator's mesh gauges, read from its caches as a scrape does, count the pods a
// revision injected by proxy version, those due for a restart (their namespace now selects another
// revision) and those whose proxy is too far from the revision's version, and say which revision is
// active and Ready and whether the Istio is updating.
func TestMeshMetrics(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "mm-system", nil)
	istio := newIstio("mm", "mm-system", v1.UpdateStrategyRevisionBased, v127)
	operatortest.Create(t, c, istio)
	const rev = "mm-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "mm-system", "istiod-"+rev)
	istioStatus(t, c, "mm", "Healthy", state(rev, v1.StateHealthy))

	// The namespace selects the revision once its pods exist: the revision's injector, which no istiod
	// serves here, would refuse them.
	operatortest.Namespace(t, c, "mm-app", nil)
	operatortest.Namespace(t, c, "mm-elsewhere", map[string]string{"istio.io/rev": "mm-other"})
	pod := func(ns, name, version string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels:      map[string]string{"security.istio.io/tlsMode": "istio"},
			Annotations: map[string]string{"istio.io/rev": rev, "bosun.dev/proxy-version": version}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
		operatortest.Create(t, c, p)
	}
	pod("mm-app", "current-1", v127)
	pod("mm-app", "current-2", v127)
	pod("mm-app", "old-proxy", "v1.25.0")
	// Its namespace names a revision that does not exist: it selects nothing, and is not due.
	pod("mm-elsewhere", "orphan", v127)
	operatortest.Update(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mm-app"}}, func(ns *corev1.Namespace) {
		ns.Labels = map[string]string{"istio.io/rev": rev}
	})

	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"bosun_proxies", map[string]string{"istio": "mm", "revision": rev, "version": v127}, 3},
		{"bosun_proxies", map[string]string{"istio": "mm", "revision": rev, "version": "v1.25.0"}, 1},
		{"bosun_restarts_due", map[string]string{"istio": "mm", "revision": rev}, 1},
		{"bosun_proxies_outside_skew", map[string]string{"istio": "mm", "revision": rev}, 1},
		{"bosun_revision_ready", map[string]string{"istio": "mm", "revision": rev}, 1},
		{"bosun_revision_active", map[string]string{"istio": "mm", "revision": rev}, 1},
		{"bosun_istio_update_in_progress", map[string]string{"istio": "mm"}, 0},
	}
	operatortest.WaitFor(t, "the mesh gauges", func(context.Context) error {
		for _, w := range want {
			if got := gauge(w.name, w.labels); got != w.value {
				return fmt.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
		return nil
	})
	if got := gauge("bosun_revision_created_timestamp_seconds", map[string]string{"istio": "mm", "revision": rev}); got <= 0 {
		t.Errorf("bosun_revision_created_timestamp_seconds = %v", got)
	}
}

// gauge is the value of the series of name with exactly these labels, or -1 without it.
func gauge(name string, labels map[string]string) float64 {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return -2
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
