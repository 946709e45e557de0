package revision

import (
	"fmt"
	"sort"
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

// remoteReady is the Ready condition of a remote revision, whose istiod runs in another cluster (the
// primary, or an external control plane): True once that istiod has reached this cluster, which it
// shows by writing its CA into the caBundle of every webhook of the injector bosun applied here
// (injectors, the revision's MutatingWebhookConfigurations). It does so once it reads this cluster
// through a remote Secret and leads for it; until then the injector cannot be called, and pods created
// here would start without a proxy.
func remoteReady(rev *v1.IstioRevision, injectors []*unstructured.Unstructured) metav1.Condition {
	notReady := func(format string, args ...any) metav1.Condition {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1.ReasonRemoteIstiodNotReady, Message: fmt.Sprintf(format, args...)}
	}
	if len(injectors) == 0 {
		return notReady("this revision's injector (a MutatingWebhookConfiguration) is not applied yet")
	}
	var names []string
	for _, mwc := range injectors {
		names = append(names, mwc.GetName())
		webhooks, _, _ := unstructured.NestedSlice(mwc.Object, "webhooks")
		for _, w := range webhooks {
			ca, _, _ := unstructured.NestedString(asMap(w), "clientConfig", "caBundle")
			if ca == "" {
				return notReady("waiting for the control plane's istiod in another cluster to reach this one: it writes its CA into MutatingWebhookConfiguration %s once it reads this cluster through a remote Secret "+
					"(bosun create-remote-secret, applied in its cluster) and leads for it (the annotation topology.istio.io/controlPlaneClusters on namespace %s names its cluster)", mwc.GetName(), rev.Spec.Namespace)
			}
		}
	}
	sort.Strings(names)
	return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady,
		Message: fmt.Sprintf("the control plane's istiod in another cluster reaches this cluster: it wrote its CA into MutatingWebhookConfiguration %s", strings.Join(names, ", "))}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
