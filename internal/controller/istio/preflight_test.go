package istio

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestNodeAgentChangesWakeIstiosRefusedByPreflight: an IstioCNI's or ZTunnel's spec change wakes the
// Istios whose version change the pre-flight checks refused (updating the node agent may lift it),
// and no other.
func TestNodeAgentChangesWakeIstiosRefusedByPreflight(t *testing.T) {
	with := func(status metav1.ConditionStatus, reason string) *v1.Istio {
		return &v1.Istio{Status: v1.IstioStatus{Conditions: []metav1.Condition{{Type: v1.ConditionReconciled, Status: status, Reason: reason}}}}
	}
	for _, c := range []struct {
		name  string
		istio *v1.Istio
		want  bool
	}{
		{"refused by pre-flight", with(metav1.ConditionFalse, v1.ReasonPreflightFailed), true},
		{"refused for another reason", with(metav1.ConditionFalse, v1.ReasonVersionChangeNotAllowed), false},
		{"reconciled", with(metav1.ConditionTrue, v1.ReasonReconciled), false},
		{"not reported yet", &v1.Istio{}, false},
	} {
		if got := preflightRefused(c.istio); got != c.want {
			t.Errorf("%s: woken %v, want %v", c.name, got, c.want)
		}
	}
}

// TestATagResolvedToAnotherRevisionWakesTheMove: a tag whose status resolves it to another revision
// wakes the Istios that move their workloads (the pods of the namespaces that follow it become theirs
// to restart); another change of its status does not pass.
func TestATagResolvedToAnotherRevisionWakesTheMove(t *testing.T) {
	tag := func(rev string, generation int64) *v1.IstioRevisionTag {
		return &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: generation}, Status: v1.IstioRevisionTagStatus{IstioRevision: rev}}
	}
	if !(tagMoved{}).Update(event.UpdateEvent{ObjectOld: tag("default-v1-24-3", 1), ObjectNew: tag("default-v1-24-4", 1)}) {
		t.Errorf("a tag resolved to another revision does not pass")
	}
	if (tagMoved{}).Update(event.UpdateEvent{ObjectOld: tag("default-v1-24-3", 1), ObjectNew: tag("default-v1-24-3", 1)}) {
		t.Errorf("a tag still resolved to the same revision passes")
	}
	moving := &v1.Istio{Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{UpdateWorkloads: true}}}
	if !movesWorkloads(moving) || movesWorkloads(&v1.Istio{}) {
		t.Errorf("movesWorkloads: %v for an Istio with updateWorkloads, %v without", movesWorkloads(moving), movesWorkloads(&v1.Istio{}))
	}
}
