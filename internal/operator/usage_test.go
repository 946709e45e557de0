package operator

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// TestCollectUsage: each revision's gauges carry the counts of its last evaluation; a revision being
// deleted, forgotten, never evaluated here, or whose last evaluation failed has no series, so that a
// dashboard never shows a removed revision or a guess.
func TestCollectUsage(t *testing.T) {
	rev := func(name string, deleting bool) v1.IstioRevision {
		r := v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
		if deleting {
			now := metav1.Now()
			r.DeletionTimestamp = &now
		}
		return r
	}
	w := &controller.Usage{Clock: clock.RealClock{}}
	observe := func(name string, usage inuse.Usage, err error) {
		obj := rev(name, false)
		w.Evaluate(&obj, func() (inuse.Usage, error) { return usage, err })
	}
	observe("old", inuse.Usage{Namespaces: []string{"bookinfo", "shop"}, Pods: 12}, nil)
	observe("new", inuse.Usage{}, nil)
	observe("gone", inuse.Usage{Namespaces: []string{"mercury"}, Pods: 3}, nil)
	observe("failing", inuse.Usage{Pods: 4}, nil)
	observe("failing", inuse.Usage{}, errors.New("the cache is not synced"))
	observe("forgotten", inuse.Usage{Pods: 5}, nil)
	forgotten := rev("forgotten", false)
	w.Forget(v1.KindIstioRevision, &forgotten)
	observe("deleting", inuse.Usage{Pods: 6}, nil)
	revs := []v1.IstioRevision{rev("old", false), rev("new", false), rev("failing", false), rev("forgotten", false),
		rev("deleting", true), rev("unevaluated", false)}

	got := collect(t, func(ch chan<- prometheus.Metric) { collectUsage(revs, w, ch) })
	want := map[string]float64{
		"bosun_revision_namespaces_in_use{revision=old}": 2, "bosun_revision_pods_in_use{revision=old}": 12,
		"bosun_revision_namespaces_in_use{revision=new}": 0, "bosun_revision_pods_in_use{revision=new}": 0,
	}
	if len(got) != len(want) {
		t.Errorf("series = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// collect runs a collect function and returns its gauges as name{label=value}: value.
func collect(t *testing.T, f func(chan<- prometheus.Metric)) map[string]float64 {
	t.Helper()
	names := map[*prometheus.Desc]string{namespacesInUseDesc: "bosun_revision_namespaces_in_use", podsInUseDesc: "bosun_revision_pods_in_use"}
	ch := make(chan prometheus.Metric, 100)
	f(ch)
	close(ch)
	out := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, l := range d.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		out[names[m.Desc()]+"{"+strings.Join(labels, ",")+"}"] = d.GetGauge().GetValue()
	}
	return out
}
