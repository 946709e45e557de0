package tag

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
)

func rev(name string, ready bool) *v1.IstioRevision {
	r := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 2}}
	r.Status.ObservedGeneration = 2
	s := metav1.ConditionFalse
	if ready {
		s = metav1.ConditionTrue
	}
	r.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: s, Reason: "x"}}
	return r
}

// TestChoose: a tag's webhook moves to the revision its spec resolves to, except while that one's
// istiod is not ready and the one it points at is: injection through the tag never lacks a control
// plane that answers.
func TestChoose(t *testing.T) {
	deleting := rev("old", true)
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	stale := rev("new", true)
	stale.Generation = 3 // Ready describes the spec before
	cases := []struct {
		name              string
		want, current     *v1.IstioRevision
		points, waitingOn string
	}{
		{"first reconcile", rev("new", false), nil, "new", ""},
		{"same revision", rev("new", false), rev("new", false), "new", ""},
		{"new revision ready", rev("new", true), rev("old", true), "new", ""},
		{"new revision not ready yet: stay on the ready one", rev("new", false), rev("old", true), "old", "new"},
		{"new revision ready for an older spec only", stale, rev("old", true), "old", "new"},
		{"neither ready: nothing to keep", rev("new", false), rev("old", false), "new", ""},
		{"the old one is being deleted", rev("new", false), deleting, "new", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := desired.Choose(tc.want, tc.current)
			if got.Revision.Name != tc.points {
				t.Errorf("points at %s, want %s", got.Revision.Name, tc.points)
			}
			waiting := ""
			if got.Waiting != nil {
				waiting = got.Waiting.Name
			}
			if waiting != tc.waitingOn {
				t.Errorf("waiting on %q, want %q", waiting, tc.waitingOn)
			}
		})
	}
}

// TestState: state is Healthy only when the tag is reconciled, its revision ready and the tag in use
// (the documents show "default Healthy True <revision>"); otherwise the first reason that is not.
func TestState(t *testing.T) {
	c := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason}
	}
	reconciled := c(v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled)
	ready := c(v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReady)
	used := c(v1.ConditionInUse, metav1.ConditionTrue, v1.ReasonReferencedByWorkloads)
	cases := []struct {
		name       string
		conditions []metav1.Condition
		want       string
	}{
		{"all true", []metav1.Condition{reconciled, ready, used}, v1.StateHealthy},
		{"unused", []metav1.Condition{reconciled, ready, c(v1.ConditionInUse, metav1.ConditionFalse, v1.ReasonNotReferencedByAnything)}, v1.ReasonNotReferencedByAnything},
		{"target missing", []metav1.Condition{c(v1.ConditionReconciled, metav1.ConditionFalse, v1.ReasonRefNotFound), c(v1.ConditionReady, metav1.ConditionUnknown, v1.ReasonRefNotFound), used}, v1.ReasonRefNotFound},
		{"name held by a revision", []metav1.Condition{c(v1.ConditionReconciled, metav1.ConditionFalse, v1.ReasonNameAlreadyExists), used}, v1.ReasonNameAlreadyExists},
		{"istiod not ready", []metav1.Condition{reconciled, c(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonIstiodNotReady), used}, v1.ReasonIstiodNotReady},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.State(tc.conditions, StateConditions...); got != tc.want {
				t.Errorf("state %q, want %q", got, tc.want)
			}
		})
	}
}

// TestByLabels: namespaces and pods wake the tag their labels select; a pod's istio.io/rev annotation,
// which names the revision that injected it, never wakes a tag (#23 for the default tag's labels).
func TestByLabels(t *testing.T) {
	nsObj := func(labels map[string]string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: labels}}
	}
	podObj := func(labels, annotations map[string]string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart", Labels: labels, Annotations: annotations}}
	}
	cases := []struct {
		name string
		obj  client.Object
		want string
	}{
		{"istio-injection=enabled selects default", nsObj(map[string]string{"istio-injection": "enabled"}), "default"},
		{"namespace istio.io/rev", nsObj(map[string]string{"istio.io/rev": "prod"}), "prod"},
		{"unlabelled namespace", nsObj(nil), ""},
		{"#23 sidecar.istio.io/inject=true selects default", podObj(map[string]string{"sidecar.istio.io/inject": "true"}, nil), "default"},
		{"pod istio.io/rev label", podObj(map[string]string{"istio.io/rev": "prod"}, nil), "prod"},
		{"pod annotation alone", podObj(nil, map[string]string{"istio.io/rev": "prod"}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if reqs := byLabels(context.Background(), tc.obj); len(reqs) == 1 {
				got = reqs[0].Name
			} else if len(reqs) > 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			if got != tc.want {
				t.Errorf("wakes tag %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIndexKeys: a tag is found by what its spec names (field lesson #26) and by the revision its
// status names.
func TestIndexKeys(t *testing.T) {
	tag := &v1.IstioRevisionTag{Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}}}
	if got := IndexKeys(tag); len(got) != 1 || got[0] != SpecKey(v1.KindIstio, "prod") {
		t.Errorf("keys %v", got)
	}
	tag.Status.IstioRevision = "prod-v1-24-3"
	got := IndexKeys(tag)
	if len(got) != 2 || got[1] != StatusKey("prod-v1-24-3") {
		t.Errorf("keys %v", got)
	}
}

// TestRevisionReady: a tag is Ready when the istiod of the revision its webhook points at is ready for
// that revision's latest spec.
func TestRevisionReady(t *testing.T) {
	notReported := rev("new", true)
	notReported.Generation = 3
	cases := []struct {
		name   string
		rev    *v1.IstioRevision
		status metav1.ConditionStatus
		reason string
	}{
		{"ready", rev("r", true), metav1.ConditionTrue, v1.ReasonReady},
		{"not ready: the revision's reason", rev("r", false), metav1.ConditionFalse, "x"},
		{"not reported on its latest spec", notReported, metav1.ConditionUnknown, v1.ReasonPending},
		{"never reported", &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "r"}}, metav1.ConditionUnknown, v1.ReasonPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := revisionReady(tc.rev)
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("Ready %s/%s (%s), want %s/%s", c.Status, c.Reason, c.Message, tc.status, tc.reason)
			}
		})
	}
}

// TestRevisionChangeWakesTags: a revision catching up with a new spec while its Ready condition stays
// True (a meshConfig change, say) makes it Ready for that spec; its tags must hear of it. Its InUse
// changing, which tags cause, must not wake them.
func TestRevisionChangeWakesTags(t *testing.T) {
	rev := func(generation, observed int64, ready, inUse metav1.ConditionStatus) *v1.IstioRevision {
		r := &v1.IstioRevision{}
		r.Generation = generation
		r.Status.ObservedGeneration = observed
		r.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: ready}, {Type: v1.ConditionInUse, Status: inUse}}
		return r
	}
	cases := []struct {
		name     string
		old, new *v1.IstioRevision
		wake     bool
	}{
		{"caught up with its spec, Ready True throughout", rev(2, 1, metav1.ConditionTrue, metav1.ConditionTrue), rev(2, 2, metav1.ConditionTrue, metav1.ConditionTrue), true},
		{"became ready", rev(2, 2, metav1.ConditionFalse, metav1.ConditionTrue), rev(2, 2, metav1.ConditionTrue, metav1.ConditionTrue), true},
		{"spec changed", rev(1, 1, metav1.ConditionTrue, metav1.ConditionTrue), rev(2, 1, metav1.ConditionTrue, metav1.ConditionTrue), true},
		{"only InUse changed", rev(2, 2, metav1.ConditionTrue, metav1.ConditionFalse), rev(2, 2, metav1.ConditionTrue, metav1.ConditionTrue), false},
	}
	for _, tc := range cases {
		if got := (controller.RevisionChange{}).Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.wake {
			t.Errorf("%s: wakes tags %t, want %t", tc.name, got, tc.wake)
		}
	}
}
