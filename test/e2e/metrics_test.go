//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// gauge reads a gauge of the operator's metrics, summed over the series whose labels include the given
// ones.
func gauge(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return metricSum(t, name, labels, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

// seriesCount counts the series of a metric of the operator whose labels include the given ones.
func seriesCount(t *testing.T, name string, labels map[string]string) int {
	t.Helper()
	return int(metricSum(t, name, labels, func(*dto.Metric) float64 { return 1 }))
}

// gaugeIs waits until a gauge's series with the given labels exists and has the value want.
func gaugeIs(t *testing.T, name string, labels map[string]string, want float64) {
	t.Helper()
	var pairs []string
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	waitFor(t, fmt.Sprintf("%s{%s} to be %v", name, strings.Join(pairs, ","), want), func(context.Context) error {
		if n := seriesCount(t, name, labels); n != 1 {
			return fmt.Errorf("%d series", n)
		}
		if got := gauge(t, name, labels); got != want {
			return fmt.Errorf("it is %v", got)
		}
		return nil
	})
}

// eventOn reports whether an Event of the type and reason was recorded about an object.
func eventOn(ctx context.Context, c client.Client, kind, name, eventType, reason string) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Type == eventType && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s Event %s about %s %s among %d", eventType, reason, kind, name, len(list.Items))
}

// TestOperatorMetrics checks the figures a platform engineer watches: resources by state, the Events
// bosun records by reason, reconciles that found nothing to render, how many namespaces and pods use
// each revision, refusals by reason, and the objects removed with a revision.
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

	// How much the revision is used, per revision: nothing yet, then a namespace and its pods, which
	// the gauges follow as pods go.
	rev := map[string]string{"revision": "metrics"}
	gaugeIs(t, "bosun_revision_namespaces_in_use", rev, 0)
	gaugeIs(t, "bosun_revision_pods_in_use", rev, 0)
	appNamespace(t, c, "metrics-app", map[string]string{"istio.io/rev": "metrics"})
	pods := workloadPods(t, c, "metrics-app", "app", "metrics", 3)
	t.Cleanup(func() { deletePods(t, c, "metrics-app", pods) })
	gaugeIs(t, "bosun_revision_namespaces_in_use", rev, 1)
	gaugeIs(t, "bosun_revision_pods_in_use", rev, 3)
	deletePods(t, c, "metrics-app", pods[:1])
	gaugeIs(t, "bosun_revision_pods_in_use", rev, 2)

	// A refusal: a tag whose target does not exist. It is counted once by kind and reason, recorded as
	// a Warning Event on the tag, and is no error.
	refused := map[string]string{"kind": v1.KindIstioRevisionTag, "reason": v1.ReasonRefNotFound}
	refusals := counter(t, "bosun_refusals_total", refused)
	tagErrors := counter(t, "bosun_reconcile_errors_total", map[string]string{"kind": v1.KindIstioRevisionTag})
	warnings := counter(t, "bosun_events_total", map[string]string{"kind": v1.KindIstioRevisionTag, "type": "Warning", "reason": v1.ReasonRefNotFound})
	applyTag(t, c, "metrics-nowhere", v1.KindIstioRevision, "no-such-revision")
	waitFor(t, "a Warning Event RefNotFound on the tag", func(ctx context.Context) error {
		return eventOn(ctx, c, v1.KindIstioRevisionTag, "metrics-nowhere", corev1.EventTypeWarning, v1.ReasonRefNotFound)
	})
	if got := counter(t, "bosun_refusals_total", refused) - refusals; got != 1 {
		t.Errorf("bosun_refusals_total{kind=IstioRevisionTag,reason=RefNotFound} grew by %v after a refusal, want 1", got)
	}
	if got := counter(t, "bosun_reconcile_errors_total", map[string]string{"kind": v1.KindIstioRevisionTag}) - tagErrors; got != 0 {
		t.Errorf("bosun_reconcile_errors_total{kind=IstioRevisionTag} grew by %v after a refusal, want 0: a refusal is not an error", got)
	}
	if got := counter(t, "bosun_events_total", map[string]string{"kind": v1.KindIstioRevisionTag, "type": "Warning", "reason": v1.ReasonRefNotFound}) - warnings; got != 1 {
		t.Errorf("bosun_events_total{kind=IstioRevisionTag,type=Warning,reason=RefNotFound} grew by %v, want 1", got)
	}
	deleteTag(t, c, "metrics-nowhere")

	// Deleting the Istio removes the revision: its objects are counted as removed and recorded as an
	// Event, and its usage series are gone.
	removed := counter(t, "bosun_applied_objects_total", map[string]string{"kind": v1.KindIstioRevision, "action": "removed"})
	deleteIstio(t, c, "metrics")
	waitFor(t, "a Normal Event Removed on the revision", func(ctx context.Context) error {
		return eventOn(ctx, c, v1.KindIstioRevision, "metrics", corev1.EventTypeNormal, "Removed")
	})
	if got := counter(t, "bosun_applied_objects_total", map[string]string{"kind": v1.KindIstioRevision, "action": "removed"}) - removed; got < 1 {
		t.Errorf("bosun_applied_objects_total{kind=IstioRevision,action=removed} grew by %v when a revision was deleted, want its objects", got)
	}
	for _, name := range []string{"bosun_revision_namespaces_in_use", "bosun_revision_pods_in_use"} {
		if n := seriesCount(t, name, rev); n != 0 {
			t.Errorf("%s{revision=metrics} still has %d series after the revision was deleted", name, n)
		}
	}
}
