package metrics

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// recorded is one Event as the next recorder received it.
type recorded struct {
	regarding, related              runtime.Object
	eventtype, reason, action, note string
	args                            []any
}

type recorder struct{ events []recorded }

func (r *recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.events = append(r.events, recorded{regarding, related, eventtype, reason, action, note, args})
}

func counter(t *testing.T, labels ...string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := Events.WithLabelValues(labels...).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestCountEventsCountsAndPassesOn: every Event recorded through CountEvents reaches the recorder it
// wraps unchanged, and bosun_events_total counts it under the kind of the object it is about, its type
// and its reason.
func TestCountEventsCountsAndPassesOn(t *testing.T) {
	next := &recorder{}
	r := CountEvents(next)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}
	related := &corev1.ConfigMap{}
	before := counter(t, "Namespace", corev1.EventTypeWarning, "CountEventsTest")
	r.Eventf(ns, related, corev1.EventTypeWarning, "CountEventsTest", "Reconcile", "%s: %d", "refused", 2)
	r.Eventf(ns, nil, corev1.EventTypeWarning, "CountEventsTest", "Reconcile", "again")
	if got := counter(t, "Namespace", corev1.EventTypeWarning, "CountEventsTest") - before; got != 2 {
		t.Errorf("bosun_events_total{kind=Namespace,type=Warning,reason=CountEventsTest} grew by %v, want 2", got)
	}
	if len(next.events) != 2 {
		t.Fatalf("the wrapped recorder received %d Events, want 2", len(next.events))
	}
	e := next.events[0]
	if e.regarding != ns || e.related != related || e.eventtype != corev1.EventTypeWarning || e.reason != "CountEventsTest" ||
		e.action != "Reconcile" || fmt.Sprintf(e.note, e.args...) != "refused: 2" {
		t.Errorf("the wrapped recorder received %+v, want the Event as recorded", e)
	}
}

// TestALongNoteIsCut: the API server refuses an Event whose note is longer than 1024 characters, and
// the Event would be lost; the note is cut to fit, its start kept, ending in "…", and never in the
// middle of a character.
func TestALongNoteIsCut(t *testing.T) {
	next := &recorder{}
	long := strings.Repeat("namespace ns-ü; ", 200)
	CountEvents(next).Eventf(&corev1.Namespace{}, nil, corev1.EventTypeWarning, "CountEventsTest", "Reconcile", "%s", long)
	got := fmt.Sprintf(next.events[0].note, next.events[0].args...)
	if len(got) > 1024 || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || !utf8.ValidString(got) {
		t.Errorf("note of %d bytes: %q", len(got), got)
	}
	if short := "short"; Note(short) != short {
		t.Errorf("a short note was changed: %q", Note(short))
	}
}

// TestKindOfNamesTheObjectsKind: an Event's kind label is the object's kind, also for a typed object
// read through a client, whose TypeMeta is empty; it never carries an object's name.
func TestKindOfNamesTheObjectsKind(t *testing.T) {
	withTypeMeta := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}}
	policy := &unstructured.Unstructured{}
	policy.SetAPIVersion("admissionregistration.k8s.io/v1")
	policy.SetKind("ValidatingAdmissionPolicy")
	policy.SetName("bosun-versions")
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		want string
	}{
		{"typed, without TypeMeta", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, "Namespace"},
		{"typed, with TypeMeta", withTypeMeta, "ConfigMap"},
		{"unstructured", policy, "ValidatingAdmissionPolicy"},
		{"metadata only", &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "Pod"}}, "Pod"},
		{"no object", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kindOf(tc.obj); got != tc.want {
				t.Errorf("kindOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPhasesTimeEachPhase: each phase of a reconcile is observed once, under its kind and name.
func TestPhasesTimeEachPhase(t *testing.T) {
	samples := func(phase string) uint64 {
		m := &dto.Metric{}
		if err := ReconcilePhase.WithLabelValues("PhasesTest", phase).(prometheus.Histogram).Write(m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	before := samples("read") + samples("status")
	p := StartPhases("PhasesTest")
	p.Done("read")
	p.Done("status")
	if got := samples("read") + samples("status") - before; got != 2 {
		t.Errorf("%d samples, want one for each of the two phases", got)
	}
}
