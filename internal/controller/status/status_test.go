package status

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSetKeepsTransitionTimeUnlessStatusChanges: a condition whose status stays the same keeps its
// transition time (so an unchanged status is not rewritten, docs/architecture.md#lesson-write-status-only-on-change); one whose status changes
// gets the new time.
func TestSetKeepsTransitionTimeUnlessStatusChanges(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	old := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "A", LastTransitionTime: then}}
	c := NewConditions(old, 3, now)
	c.Set(metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "B", Message: "m"})
	same := c.Of("Ready")
	if !same[0].LastTransitionTime.Equal(&then) || same[0].Reason != "B" || same[0].ObservedGeneration != 3 {
		t.Errorf("same status: %+v, want the old time, the new reason and generation 3", same[0])
	}
	c = NewConditions(old, 3, now)
	c.Set(metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready"})
	if changed := c.Of("Ready"); !changed[0].LastTransitionTime.Equal(&now) {
		t.Errorf("changed status: %+v, want the new time", changed[0])
	}
	if old[0].Reason != "A" {
		t.Error("Set changed its input")
	}
}

// TestState: status.state is Healthy only when every condition it summarises is True, else the reason
// of the first (in the given order) that is not, whatever order the status lists them in; a condition
// not yet written leaves it empty, and conditions it does not summarise (InUse) do not count.
func TestState(t *testing.T) {
	c := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason}
	}
	for _, tc := range []struct {
		conditions []metav1.Condition
		want       string
	}{
		{[]metav1.Condition{c("Reconciled", "True", "Reconciled"), c("Ready", "True", "Ready")}, "Healthy"},
		{[]metav1.Condition{c("Reconciled", "True", "Reconciled"), c("Ready", "False", "IstiodNotReady")}, "IstiodNotReady"},
		{[]metav1.Condition{c("Reconciled", "False", "ReconcileError"), c("Ready", "False", "IstiodNotReady")}, "ReconcileError"},
		{[]metav1.Condition{c("Ready", "True", "Ready")}, ""},
		{[]metav1.Condition{c("Reconciled", "True", "Reconciled"), c("Ready", "Unknown", "ReadinessCheckFailed")}, "ReadinessCheckFailed"},
		{[]metav1.Condition{c("Ready", "False", "IstiodNotReady"), c("Reconciled", "True", "Reconciled")}, "IstiodNotReady"},
		{[]metav1.Condition{c("Reconciled", "True", "Reconciled"), c("Ready", "True", "Ready"), c("InUse", "False", "NotReferencedByAnything")}, "Healthy"},
		{nil, ""},
	} {
		if got := State(tc.conditions, "Reconciled", "Ready"); got != tc.want {
			t.Errorf("State(%v) = %q, want %q", tc.conditions, got, tc.want)
		}
	}
}
