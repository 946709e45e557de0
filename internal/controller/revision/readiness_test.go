package revision

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
)

func deployment(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	text := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system, generation: 2}\n" + doc
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

// TestIstiodReady: Ready is True only when istiod serves its current template with every replica
// ready; each other state is False with its own message.
func TestIstiodReady(t *testing.T) {
	rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Namespace: "istio-system"}}
	rolledOut := "spec: {replicas: 2}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, " +
		"conditions: [{type: Available, status: 'True'}, {type: Progressing, status: 'True', reason: NewReplicaSetAvailable}]}"
	cases := []struct {
		name   string
		deploy string
		want   metav1.ConditionStatus
	}{
		{"rolled out", rolledOut, metav1.ConditionTrue},
		{"new template not yet seen by the controller", "spec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}", metav1.ConditionFalse},
		{"rolling out: old pods ready, new ones not", "spec: {replicas: 2}\nstatus: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2}", metav1.ConditionFalse},
		{"unready pods", "spec: {replicas: 2}\nstatus: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1}", metav1.ConditionFalse},
		{"scaled to zero", "spec: {replicas: 0}\nstatus: {observedGeneration: 2}", metav1.ConditionFalse},
		{"missing", "", metav1.ConditionFalse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d *unstructured.Unstructured
			if tc.deploy != "" {
				d = deployment(t, tc.deploy)
			}
			got := istiodReady(rev, d)
			if got.Status != tc.want {
				t.Errorf("Ready = %s (%s: %s), want %s", got.Status, got.Reason, got.Message, tc.want)
			}
			if got.Status == metav1.ConditionFalse && got.Reason != v1.ReasonIstiodNotReady {
				t.Errorf("reason %s, want %s", got.Reason, v1.ReasonIstiodNotReady)
			}
		})
	}
}

// TestTagMovedWakesRevisions: a revision hears of a tag that comes, goes, changes its target or moves
// its webhook, and not of the tag's own status changes (its use, its readiness).
func TestTagMovedWakesRevisions(t *testing.T) {
	tag := func(generation int64, points string, inUse metav1.ConditionStatus) *v1.IstioRevisionTag {
		t := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "stable", Generation: generation}}
		t.Status.IstioRevision = points
		t.Status.Conditions = []metav1.Condition{{Type: v1.ConditionInUse, Status: inUse}}
		return t
	}
	for _, tc := range []struct {
		name     string
		old, new *v1.IstioRevisionTag
		wake     bool
	}{
		{"its targetRef changed", tag(1, "a", metav1.ConditionTrue), tag(2, "a", metav1.ConditionTrue), true},
		{"its webhook moved", tag(2, "a", metav1.ConditionTrue), tag(2, "b", metav1.ConditionTrue), true},
		{"only its use changed", tag(2, "a", metav1.ConditionFalse), tag(2, "a", metav1.ConditionTrue), false},
	} {
		if got := (controller.TagMoved{}).Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.wake {
			t.Errorf("%s: wakes revisions %t, want %t", tc.name, got, tc.wake)
		}
	}
	if !(controller.TagMoved{}).Create(event.CreateEvent{}) || !(controller.TagMoved{}).Delete(event.DeleteEvent{}) {
		t.Error("a tag that comes or goes must wake the revisions it concerns")
	}
}

// injector is a MutatingWebhookConfiguration with one webhook per caBundle given ("" for none).
func injector(t *testing.T, name string, caBundles ...string) *unstructured.Unstructured {
	t.Helper()
	var webhooks []any
	for _, ca := range caBundles {
		cc := map[string]any{"url": "https://192.0.2.10:15017/inject"}
		if ca != "" {
			cc["caBundle"] = ca
		}
		webhooks = append(webhooks, map[string]any{"name": "sidecar-injector.istio.io", "clientConfig": cc})
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"webhooks": webhooks}}
	obj.SetName(name)
	return obj
}

// TestRemoteReady: a remote revision is Ready only once the istiod of the other cluster has written its
// CA into every webhook of its injector here; until then it says what that istiod needs.
func TestRemoteReady(t *testing.T) {
	rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Namespace: "istio-system"}}
	cases := []struct {
		name      string
		injectors []*unstructured.Unstructured
		status    metav1.ConditionStatus
		says      string
	}{
		{"no injector yet", nil, metav1.ConditionFalse, "not applied yet"},
		{"no CA written", []*unstructured.Unstructured{injector(t, "istio-sidecar-injector", "")}, metav1.ConditionFalse, "topology.istio.io/controlPlaneClusters on namespace istio-system"},
		{"one webhook of two written", []*unstructured.Unstructured{injector(t, "istio-sidecar-injector", "Q0E=", "")}, metav1.ConditionFalse, "bosun create-remote-secret"},
		{"every webhook written", []*unstructured.Unstructured{injector(t, "istio-sidecar-injector", "Q0E=", "Q0E=")}, metav1.ConditionTrue, "wrote its CA into MutatingWebhookConfiguration istio-sidecar-injector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := remoteReady(rev, tc.injectors)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.says) {
				t.Errorf("Ready %s %q: want %s saying %q", c.Status, c.Message, tc.status, tc.says)
			}
			if c.Status == metav1.ConditionFalse && c.Reason != v1.ReasonRemoteIstiodNotReady {
				t.Errorf("reason %s, want %s", c.Reason, v1.ReasonRemoteIstiodNotReady)
			}
		})
	}
}
