package move

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestDeploymentRollout: a restart is awaited until every replica runs the new template and is
// available with no old one left; the Deployment controller's ProgressDeadlineExceeded fails it, but
// only once the controller has seen the restart: a failure of the template before does not count.
func TestDeploymentRollout(t *testing.T) {
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-2" has timed out progressing.`}
	for _, c := range []struct {
		name   string
		gen    int64
		status appsv1.DeploymentStatus
		want   Rollout
	}{
		{"not seen yet", 3, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, RolloutProgressing},
		{"not seen yet, failed before", 3, appsv1.DeploymentStatus{ObservedGeneration: 2, Conditions: []appsv1.DeploymentCondition{deadline}}, RolloutProgressing},
		{"half updated", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2}, RolloutProgressing},
		{"old replica left", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}, RolloutProgressing},
		{"updated, not available", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}, RolloutProgressing},
		{"complete", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, RolloutComplete},
		{"deadline exceeded", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{deadline}}, RolloutFailed},
	} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: c.gen}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)}, Status: c.status}
		if got, msg := DeploymentRollout(d); got != c.want {
			t.Errorf("%s: rollout %v (%s), want %v", c.name, got, msg, c.want)
		}
	}
}
