package nodeagent

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

func daemonSet(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	text := "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: istio-cni-node, namespace: istio-cni, generation: 2}\n" + doc
	data, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// Decoded as the API client decodes objects: integers as int64.
	if err := obj.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestDaemonSetReady: Ready is True only when every node runs a ready pod of the current template;
// no pods scheduled, a template still rolling out (with its own message under OnDelete) and unready
// pods are each their own reason.
func TestDaemonSetReady(t *testing.T) {
	cases := []struct {
		name   string
		ds     string
		status metav1.ConditionStatus
		reason string
		says   string
	}{
		{"rolled out", "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3}",
			metav1.ConditionTrue, v1.ReasonReady, "ready"},
		{"no node takes a pod", "status: {observedGeneration: 2, desiredNumberScheduled: 0, currentNumberScheduled: 0, updatedNumberScheduled: 0, numberReady: 0, numberAvailable: 0}",
			metav1.ConditionFalse, v1.ReasonDaemonSetNotScheduled, "no node matches"},
		{"new template not yet seen by the controller", "status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3}",
			metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, "rolling out"},
		{"rolling: old pods ready, not all updated", "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 1, numberReady: 3, numberAvailable: 3}",
			metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, "rolling out"},
		{"OnDelete waits for the old pods to be deleted", "spec: {updateStrategy: {type: OnDelete}}\nstatus: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 0, numberReady: 3, numberAvailable: 3}",
			metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, "OnDelete: delete the old pods"},
		{"updated pods not ready", "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 2, numberAvailable: 2}",
			metav1.ConditionFalse, v1.ReasonDaemonSetNotReady, "not all pods"},
		{"not every node has its pod yet", "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2}",
			metav1.ConditionFalse, v1.ReasonDaemonSetNotReady, "not all pods"},
		{"missing", "", metav1.ConditionFalse, v1.ReasonDaemonSetNotReady, "not found"},
		{"just created: no status yet", "status: {}", metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, "rolling out"},
		{"OnDelete, a template not yet seen by the controller", "spec: {updateStrategy: {type: OnDelete}}\nstatus: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3}",
			metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, "delete the old pods node by node"},
		{"a status kstatus cannot read", "status: {observedGeneration: 2, desiredNumberScheduled: 3, conditions: not-a-list}",
			metav1.ConditionUnknown, v1.ReasonReadinessCheckFailed, "reading the status of DaemonSet istio-cni/istio-cni-node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ds *unstructured.Unstructured
			if tc.ds != "" {
				ds = daemonSet(t, tc.ds)
			}
			got := DaemonSetReady(ds, "istio-cni/istio-cni-node")
			if got.Status != tc.status || got.Reason != tc.reason {
				t.Errorf("Ready = %s %s (%s), want %s %s", got.Status, got.Reason, got.Message, tc.status, tc.reason)
			}
			if !strings.Contains(got.Message, tc.says) {
				t.Errorf("message %q does not say %q", got.Message, tc.says)
			}
		})
	}
}
