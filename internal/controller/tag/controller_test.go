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
			if got := status.State(tc.conditions, Conditions...); got != tc.want {
				t.Errorf("state %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSelectedTags: namespaces and pods wake the tag their labels select; a pod's istio.io/rev annotation,
// which names the revision that injected it, never wakes a tag (docs/architecture.md#lesson-usage-follows-injection).
func TestSelectedTags(t *testing.T) {
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
		{"sidecar.istio.io/inject=true selects default", podObj(map[string]string{"sidecar.istio.io/inject": "true"}, nil), "default"},
		{"pod istio.io/rev label", podObj(map[string]string{"istio.io/rev": "prod"}, nil), "prod"},
		{"pod annotation alone", podObj(nil, map[string]string{"istio.io/rev": "prod"}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			names := SelectedTags(context.Background(), tc.obj)
			if len(names) != 1 {
				t.Fatalf("%d names", len(names))
			}
			got := names[0]
			if got != tc.want {
				t.Errorf("wakes tag %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIndexKeys: a tag is found by what its spec names (docs/architecture.md#lesson-follow-the-spec) and by the revision its
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
