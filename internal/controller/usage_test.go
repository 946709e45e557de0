package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

func inUse(status metav1.ConditionStatus, message string) metav1.Condition {
	reason := map[metav1.ConditionStatus]string{metav1.ConditionTrue: v1.ReasonReferencedByWorkloads, metav1.ConditionFalse: v1.ReasonNotReferencedByAnything}[status]
	return metav1.Condition{Type: v1.ConditionInUse, Status: status, Reason: reason, Message: message}
}

// TestHoldKeepsCountsForTheRefreshInterval: a change of the InUse message alone (the counts) is held
// back for the refresh interval after the last change, and then goes through; a change of its status
// goes through at once, since pruning depends on it.
func TestHoldKeepsCountsForTheRefreshInterval(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	u := &controller.Usage{Clock: clock, RefreshInterval: 30 * time.Second}
	const uid = types.UID("rev")
	steps := []struct {
		after     time.Duration
		fresh     metav1.Condition
		want      string
		wantAfter time.Duration
	}{
		{0, inUse(metav1.ConditionTrue, "3 pods"), "3 pods", 0},
		{0, inUse(metav1.ConditionTrue, "3 pods"), "3 pods", 0},
		{10 * time.Second, inUse(metav1.ConditionTrue, "4 pods"), "3 pods", 20 * time.Second},
		{10 * time.Second, inUse(metav1.ConditionTrue, "5 pods"), "3 pods", 10 * time.Second},
		{10 * time.Second, inUse(metav1.ConditionTrue, "5 pods"), "5 pods", 0},
		{time.Second, inUse(metav1.ConditionFalse, "nothing"), "nothing", 0},
		{time.Second, inUse(metav1.ConditionTrue, "1 pod"), "1 pod", 0},
	}
	for i, s := range steps {
		clock.SetTime(clock.Now().Add(s.after))
		got, after := u.Hold(uid, s.fresh)
		if got.Message != s.want || after != s.wantAfter {
			t.Errorf("step %d: held %q, again after %s; want %q, %s", i, got.Message, after, s.want, s.wantAfter)
		}
	}
	u.Forget(v1.KindIstioRevision, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "rev", UID: uid}})
	if got, _ := u.Hold(uid, inUse(metav1.ConditionTrue, "9 pods")); got.Message != "9 pods" {
		t.Errorf("after Forget, held %q, want the fresh condition", got.Message)
	}
}

// TestEvaluateKeepsCountsForTheMetrics: each evaluation records its counts, which a failed evaluation
// forgets: the gauges never show a guess. A failed evaluation is Unknown.
func TestEvaluateKeepsCountsForTheMetrics(t *testing.T) {
	u := &controller.Usage{Clock: clocktesting.NewFakePassiveClock(time.Now())}
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "r", UID: "uid-r"}}
	c := u.Evaluate(rev, func() (inuse.Usage, error) {
		return inuse.Usage{Namespaces: []string{"a", "b"}, Pods: 7}, nil
	})
	if c.Status != metav1.ConditionTrue {
		t.Errorf("InUse %s", c.Status)
	}
	if got, ok := u.Counts("uid-r"); !ok || got != (controller.Counts{Namespaces: 2, Pods: 7}) {
		t.Errorf("counts %+v %t", got, ok)
	}
	c = u.Evaluate(rev, func() (inuse.Usage, error) { return inuse.Usage{}, errors.New("cache not synced") })
	if c.Status != metav1.ConditionUnknown || c.Reason != v1.ReasonUsageCheckFailed {
		t.Errorf("a failed evaluation gave %s/%s, want Unknown", c.Status, c.Reason)
	}
	if _, ok := u.Counts("uid-r"); ok {
		t.Error("a failed evaluation kept the counts of the one before")
	}
}

// queue records what a handler adds, and after how long.
type queue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added map[string]time.Duration
}

func (q *queue) Add(r reconcile.Request) { q.added[r.Name] = 0 }
func (q *queue) AddAfter(r reconcile.Request, d time.Duration) {
	q.added[r.Name] = d
}

// TestUsageEventsArePaced: a pod or namespace event queues the objects it names at once when they were
// not evaluated within EvaluateInterval, and otherwise after the rest of it; an update queues what the
// old and the new object name.
func TestUsageEventsArePaced(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	u := &controller.Usage{Clock: clock}
	names := func(_ context.Context, obj client.Object) []string { return []string{obj.GetLabels()["rev"], ""} }
	h := u.Events(v1.KindIstioRevision, names)
	pod := func(rev string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", Labels: map[string]string{"rev": rev}}}
	}
	q := &queue{added: map[string]time.Duration{}}
	h.Create(context.Background(), event.CreateEvent{Object: pod("one")}, q)
	if d, ok := q.added["one"]; !ok || d != 0 {
		t.Errorf("an object never evaluated was queued after %s (%t), want at once", d, ok)
	}
	u.Reconciling(v1.KindIstioRevision, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "one"}})
	clock.SetTime(clock.Now().Add(300 * time.Millisecond))
	q = &queue{added: map[string]time.Duration{}}
	h.Update(context.Background(), event.UpdateEvent{ObjectOld: pod("one"), ObjectNew: pod("two")}, q)
	if q.added["one"] != 700*time.Millisecond || q.added["two"] != 0 || len(q.added) != 2 {
		t.Errorf("queued %v, want one after 700ms and two at once", q.added)
	}
	if _, ok := q.added[""]; ok {
		t.Error("an empty name was queued")
	}
}
