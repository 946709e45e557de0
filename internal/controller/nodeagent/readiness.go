package nodeagent

import (
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// DaemonSetReady is the Ready condition of a node agent from its DaemonSet (nil when it does not
// exist); name is namespace/name, for messages. It is True only when kstatus says the DaemonSet is
// Current: the controller observed its latest generation and every scheduled pod runs the current
// template and is ready and available. Otherwise it says which of these holds, each with its own
// reason:
//   - DaemonSetNotScheduled: no node takes a pod (desiredNumberScheduled is 0);
//   - DaemonSetRollingOut: a new template (a version or values change) is not on every node yet, and
//     under updateStrategy OnDelete it stays so until the old pods are deleted by hand;
//   - DaemonSetNotReady: missing, or not every node runs a ready pod.
//
// Messages name no pod counts, which change with every pod: each change would be one more status
// write. kubectl rollout status shows the progress.
func DaemonSetReady(ds *unstructured.Unstructured, name string) metav1.Condition {
	notReady := func(reason, format string, args ...any) metav1.Condition {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	if ds == nil {
		return notReady(v1.ReasonDaemonSetNotReady, "DaemonSet %s not found", name)
	}
	res, err := status.Compute(ds)
	if err != nil {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed,
			Message: fmt.Sprintf("reading the status of DaemonSet %s: %v", name, err)}
	}
	generation := ds.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(ds.Object, "status", "observedGeneration")
	desiredPods, haveDesired, _ := unstructured.NestedInt64(ds.Object, "status", "desiredNumberScheduled")
	current, _, _ := unstructured.NestedInt64(ds.Object, "status", "currentNumberScheduled")
	updated, _, _ := unstructured.NestedInt64(ds.Object, "status", "updatedNumberScheduled")
	switch {
	case observed == generation && haveDesired && desiredPods == 0:
		return notReady(v1.ReasonDaemonSetNotScheduled, "DaemonSet %s schedules no pods: no node matches its node selector, affinity and tolerations", name)
	case res.Status == status.CurrentStatus:
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady, Message: fmt.Sprintf("every pod of DaemonSet %s is ready", name)}
	case observed < generation || updated < current:
		// Nodes run pods of the old template. (A node that has no pod yet, a new node say, is not a
		// rollout: it is counted as not ready below.)
		if strategy, _, _ := unstructured.NestedString(ds.Object, "spec", "updateStrategy", "type"); strategy == "OnDelete" {
			return notReady(v1.ReasonDaemonSetRollingOut, "DaemonSet %s has a new template, and its updateStrategy is OnDelete: delete the old pods node by node to move them to it", name)
		}
		return notReady(v1.ReasonDaemonSetRollingOut, "DaemonSet %s is rolling out a new template", name)
	default:
		return notReady(v1.ReasonDaemonSetNotReady, "not all pods of DaemonSet %s are scheduled and ready (%s)", name, strings.ToLower(string(res.Status)))
	}
}
