package revision

import (
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// istiodReady is the Ready condition of a local revision from its istiod Deployment (nil when it does
// not exist). It is True only when the Deployment serves the current template with every replica
// ready: kstatus says Current, which requires the controller to have observed the latest generation
// and every replica to be updated, available and ready. So after a version change Ready turns False
// until the new istiod pods serve, unlike a check of ready against desired counts, which stays True
// while the old pods run.
func istiodReady(rev *v1.IstioRevision, deploy *unstructured.Unstructured) metav1.Condition {
	notReady := func(format string, args ...any) metav1.Condition {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1.ReasonIstiodNotReady, Message: fmt.Sprintf(format, args...)}
	}
	name := rev.Spec.Namespace + "/" + desired.IstiodName(rev)
	if deploy == nil {
		return notReady("istiod Deployment %s not found", name)
	}
	if replicas, found, _ := unstructured.NestedInt64(deploy.Object, "spec", "replicas"); found && replicas == 0 {
		return notReady("istiod Deployment %s is scaled to zero replicas", name)
	}
	res, err := status.Compute(deploy)
	if err != nil {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed,
			Message: fmt.Sprintf("reading the status of istiod Deployment %s: %v", name, err)}
	}
	switch res.Status {
	case status.CurrentStatus:
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady, Message: "istiod is ready"}
	default:
		// The message names no counts, which change with every pod the rollout starts: each change
		// would be one more status write. kubectl rollout status shows the progress.
		return notReady("istiod Deployment %s is rolling out or has pods that are not ready (%s)", name, strings.ToLower(string(res.Status)))
	}
}
