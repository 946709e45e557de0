package controller_test

import (
	"context"
	"slices"
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
)

// addsQueue records every request added, in order, with its delay.
type addsQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	adds []string
}

func (q *addsQueue) Add(r reconcile.Request) { q.adds = append(q.adds, r.Name+"@0s") }
func (q *addsQueue) AddAfter(r reconcile.Request, d time.Duration) {
	q.adds = append(q.adds, r.Name+"@"+d.String())
}

// TestUsageEventsPaceEachObjectAlone: the pacing of use evaluations is per kind and name: a revision's
// reconcile does not delay a tag of the same name; an event exactly EvaluateInterval after the last
// reconcile goes at once; a forgotten object is not paced; a burst naming one object twice queues it
// once; deletions are paced like the rest, and generic events queue nothing.
func TestUsageEventsPaceEachObjectAlone(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	u := &controller.Usage{Clock: clock}
	names := func(_ context.Context, obj client.Object) []string {
		return []string{obj.GetLabels()["rev"], obj.GetLabels()["rev"]}
	}
	revisions, tags := u.Events(v1.KindIstioRevision, names), u.Events(v1.KindIstioRevisionTag, names)
	pod := func(rev string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", Labels: map[string]string{"rev": rev}}}
	}
	one := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "one", UID: "uid-one"}}
	ctx := context.Background()
	u.Reconciling(v1.KindIstioRevision, one)
	clock.SetTime(clock.Now().Add(400 * time.Millisecond))

	for _, step := range []struct {
		what string
		send func(*addsQueue)
		want []string
	}{
		{"a revision's event within the interval, named twice", func(q *addsQueue) { revisions.Create(ctx, event.CreateEvent{Object: pod("one")}, q) }, []string{"one@600ms"}},
		{"a tag of the same name", func(q *addsQueue) { tags.Create(ctx, event.CreateEvent{Object: pod("one")}, q) }, []string{"one@0s"}},
		{"a deletion", func(q *addsQueue) { revisions.Delete(ctx, event.DeleteEvent{Object: pod("one")}, q) }, []string{"one@600ms"}},
		{"an update whose old object is missing", func(q *addsQueue) {
			revisions.Update(ctx, event.UpdateEvent{ObjectNew: pod("one")}, q)
		}, []string{"one@600ms"}},
		{"a generic event", func(q *addsQueue) { revisions.Generic(ctx, event.GenericEvent{Object: pod("one")}, q) }, nil},
	} {
		q := &addsQueue{}
		step.send(q)
		if !slices.Equal(q.adds, step.want) {
			t.Errorf("%s: queued %q, want %q", step.what, q.adds, step.want)
		}
	}

	clock.SetTime(clock.Now().Add(600 * time.Millisecond))
	q := &addsQueue{}
	revisions.Create(ctx, event.CreateEvent{Object: pod("one")}, q)
	if !slices.Equal(q.adds, []string{"one@0s"}) {
		t.Errorf("exactly EvaluateInterval after the reconcile: queued %q, want at once", q.adds)
	}

	u.Reconciling(v1.KindIstioRevision, one)
	u.Forget(v1.KindIstioRevision, one)
	q = &addsQueue{}
	revisions.Create(ctx, event.CreateEvent{Object: pod("one")}, q)
	if !slices.Equal(q.adds, []string{"one@0s"}) {
		t.Errorf("after Forget: queued %q, want at once", q.adds)
	}
}

// TestHoldHoldsOnlyTheCountsOfOneObject: with no refresh interval set, a change of the counts alone is
// held for CountRefreshInterval; a new reason goes through at once; one object's hold never delays
// another's condition; and an object without an evaluation has no counts for the metrics.
func TestHoldHoldsOnlyTheCountsOfOneObject(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	u := &controller.Usage{Clock: clock}
	const a, b = types.UID("a"), types.UID("b")
	u.Hold(a, inUse(metav1.ConditionTrue, "3 pods"))
	clock.SetTime(clock.Now().Add(time.Second))
	if got, after := u.Hold(a, inUse(metav1.ConditionTrue, "4 pods")); got.Message != "3 pods" || after != controller.CountRefreshInterval-time.Second {
		t.Errorf("counts changed after 1s: held %q for %s, want 3 pods for the rest of %s", got.Message, after, controller.CountRefreshInterval)
	}
	if got, after := u.Hold(b, inUse(metav1.ConditionTrue, "9 pods")); got.Message != "9 pods" || after != 0 {
		t.Errorf("another object's first condition: %q after %s, want it at once", got.Message, after)
	}
	reasonChanged := metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionTrue, Reason: "AnotherReason", Message: "5 pods"}
	if got, after := u.Hold(a, reasonChanged); got.Reason != "AnotherReason" || after != 0 {
		t.Errorf("a new reason: %s %q after %s, want it at once", got.Reason, got.Message, after)
	}
	if _, ok := u.Counts(types.UID("never-evaluated")); ok {
		t.Error("an object never evaluated has counts")
	}
}
