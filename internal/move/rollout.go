package move

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/meshview"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Due reports whether a pod runs an older proxy of the mesh that a restart would replace with the
// target's: one of the mesh's revisions (mine) injected it, its labels or its namespace's select the
// target now (meshview.Wanted, the rules `bosun status` shows), and it runs another revision, or the
// target's revision with another proxy version (InPlace). A pod that opted out of injection is not due.
func Due(p inuse.Pod, nsLabels map[string]string, f *desired.Facts, target Target, mine map[string]bool) bool {
	runs := p.Annotations[inuse.AnnotationRev]
	if !mine[runs] || p.Labels[inuse.LabelInject] == "false" || p.Annotations[inuse.LabelInject] == "false" {
		return false
	}
	if meshview.Wanted(meshview.Pod{Pod: p}, nsLabels, f) != target.Revision {
		return false
	}
	if runs != target.Revision {
		return true
	}
	v := p.Annotations[values.AnnotationProxyVersion]
	return v != "" && v != target.Version
}

// RenderedForAGateway is the revision that rendered a pod istiod deployed for a Gateway API Gateway
// (such pods opt out of injection, istiod renders their proxy itself, yet they name the revision that
// rendered them), or "" for any other pod. The operator's cache keeps no other label of a pod to tell
// it by.
func RenderedForAGateway(p inuse.Pod) string {
	if p.Labels[inuse.LabelInject] != "false" {
		return ""
	}
	return p.Annotations[inuse.AnnotationRev]
}

// RenderedByAnOldRevision reports whether a pod is one istiod deployed for a Gateway API Gateway
// (RenderedForAGateway) and one of the mesh's revisions other than the target rendered it: it moves
// when istiod of the target renders its Deployment again, not by a restart.
func RenderedByAnOldRevision(p inuse.Pod, target Target, mine map[string]bool) bool {
	runs := RenderedForAGateway(p)
	return mine[runs] && runs != target.Revision
}

// progressDeadline is a Deployment's progressDeadlineSeconds, or the API's default.
func progressDeadline(seconds *int32) time.Duration {
	if seconds == nil {
		return DefaultProgressDeadline
	}
	return time.Duration(*seconds) * time.Second
}

// DeploymentRollout is how a Deployment's rollout stands: complete when every replica runs the latest
// template and is available and no old one is left, failed when the Deployment controller says its
// progress deadline passed.
func DeploymentRollout(d *appsv1.Deployment) (Rollout, string) {
	if d.Status.ObservedGeneration < d.Generation {
		// Whatever the status says is about the template before.
		return RolloutProgressing, "the Deployment controller has not seen the restart yet"
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return RolloutFailed, "its rollout exceeded its progress deadline: " + c.Message
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return RolloutProgressing, fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return RolloutProgressing, fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return RolloutComplete, ""
}

// StatefulSetRollout is how a StatefulSet's rollout stands: complete when every replica runs the update
// revision and is ready.
func StatefulSetRollout(s *appsv1.StatefulSet) (Rollout, string) {
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	st := s.Status
	switch {
	case st.ObservedGeneration < s.Generation:
		return RolloutProgressing, "the StatefulSet controller has not seen the restart yet"
	case st.UpdatedReplicas < want || (st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision):
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want)
	case st.ReadyReplicas < want:
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want)
	}
	return RolloutComplete, ""
}

// DaemonSetRollout is how a DaemonSet's rollout stands: complete when every node it schedules on runs
// an updated, available pod.
func DaemonSetRollout(d *appsv1.DaemonSet) (Rollout, string) {
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return RolloutProgressing, "the DaemonSet controller has not seen the restart yet"
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return RolloutProgressing, fmt.Sprintf("%d of %d nodes updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	case st.NumberAvailable < st.DesiredNumberScheduled:
		return RolloutProgressing, fmt.Sprintf("%d of %d nodes available", st.NumberAvailable, st.DesiredNumberScheduled)
	}
	return RolloutComplete, ""
}
