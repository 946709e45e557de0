package istio

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestATagsMoveWakesTheIstiosThatMoveWorkloads: a tag resolved to another revision (controller.TagMoved)
// wakes the Istios that move their workloads (the pods of the namespaces that follow it become theirs
// to restart), and no other that its scope or a refusal does not concern.
func TestATagsMoveWakesTheIstiosThatMoveWorkloads(t *testing.T) {
	for _, c := range []struct {
		name      string
		updateWls bool
		want      int
	}{{"an Istio that moves its workloads", true, 1}, {"one that does not", false, 0}} {
		istios := []v1.Istio{{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{UpdateWorkloads: c.updateWls}}}}
		if got := requestsFor(istios, afterTagChangeWakes(istios)); len(got) != c.want {
			t.Errorf("%s, alone in the cluster: a tag's move wakes %v, want %d", c.name, got, c.want)
		}
	}
}
