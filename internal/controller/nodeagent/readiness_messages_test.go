package nodeagent

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestDaemonSetReadyMessagesNameNoPodCounts: while a DaemonSet rolls out or its pods come up, Ready's
// message stays the same from one pod to the next, so that each pod started is not one more status
// write (docs/architecture.md#lesson-write-status-only-on-change).
func TestDaemonSetReadyMessagesNameNoPodCounts(t *testing.T) {
	for _, steps := range [][]string{
		{
			"status: {observedGeneration: 2, desiredNumberScheduled: 5, currentNumberScheduled: 5, updatedNumberScheduled: 1, numberReady: 5, numberAvailable: 5}",
			"status: {observedGeneration: 2, desiredNumberScheduled: 5, currentNumberScheduled: 5, updatedNumberScheduled: 4, numberReady: 4, numberAvailable: 4}",
		},
		{
			"status: {observedGeneration: 2, desiredNumberScheduled: 5, currentNumberScheduled: 5, updatedNumberScheduled: 5, numberReady: 1, numberAvailable: 1}",
			"status: {observedGeneration: 2, desiredNumberScheduled: 5, currentNumberScheduled: 5, updatedNumberScheduled: 5, numberReady: 4, numberAvailable: 4}",
		},
	} {
		before := DaemonSetReady(daemonSet(t, steps[0]), "istio-cni/istio-cni-node")
		after := DaemonSetReady(daemonSet(t, steps[1]), "istio-cni/istio-cni-node")
		if before != after {
			t.Errorf("one more pod changed Ready from %+v to %+v", before, after)
		}
	}
}

// TestDeletedDaemonSetIsNotReady: a DaemonSet being deleted (by hand, or with its namespace) no longer
// serves, however many of its pods still run.
func TestDeletedDaemonSetIsNotReady(t *testing.T) {
	ds := daemonSet(t, "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3}")
	now := metav1.Now()
	ds.SetDeletionTimestamp(&now)
	got := DaemonSetReady(ds, "istio-cni/istio-cni-node")
	if got.Status != metav1.ConditionFalse || got.Reason != v1.ReasonDaemonSetNotReady {
		t.Errorf("Ready %s %s (%s), want False %s", got.Status, got.Reason, got.Message, v1.ReasonDaemonSetNotReady)
	}
}
