package controller_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
)

// revisionWith is a revision of generation 2, its status observed at generation 2, with Ready and
// Reconciled True and InUse False, changed by edit.
func revisionWith(edit func(*v1.IstioRevision)) *v1.IstioRevision {
	condition := func(t string, s metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: t, Status: s, Reason: t, Message: "m"}
	}
	rev := &v1.IstioRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 2},
		Status: v1.IstioRevisionStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
			condition(v1.ConditionReconciled, metav1.ConditionTrue), condition(v1.ConditionReady, metav1.ConditionTrue), condition(v1.ConditionInUse, metav1.ConditionFalse),
		}},
	}
	if edit != nil {
		edit(rev)
	}
	return rev
}

func setCondition(rev *v1.IstioRevision, t string, edit func(*metav1.Condition)) {
	for i := range rev.Status.Conditions {
		if rev.Status.Conditions[i].Type == t {
			edit(&rev.Status.Conditions[i])
		}
	}
}

// TestRevisionChangeWakesWhatPointsAtARevision: tags and a ZTunnel are woken by a revision's changes
// that can change what they do (its spec, deletion, catching up with its spec, becoming Ready or
// refused), and not by its InUse condition, which a tag itself changes, nor by a new message alone.
func TestRevisionChangeWakesWhatPointsAtARevision(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name string
		edit func(*v1.IstioRevision)
		want bool
	}{
		{"nothing", nil, false},
		{"InUse becomes True", func(r *v1.IstioRevision) {
			setCondition(r, v1.ConditionInUse, func(c *metav1.Condition) { c.Status = metav1.ConditionTrue })
		}, false},
		{"Ready's message alone", func(r *v1.IstioRevision) {
			setCondition(r, v1.ConditionReady, func(c *metav1.Condition) { c.Message = "other" })
		}, false},
		{"a new spec", func(r *v1.IstioRevision) { r.Generation = 3 }, true},
		{"being deleted", func(r *v1.IstioRevision) { r.DeletionTimestamp = &now }, true},
		{"the status catches up with another spec", func(r *v1.IstioRevision) { r.Status.ObservedGeneration = 1 }, true},
		{"no longer Ready", func(r *v1.IstioRevision) {
			setCondition(r, v1.ConditionReady, func(c *metav1.Condition) { c.Status = metav1.ConditionFalse })
		}, true},
		{"refused", func(r *v1.IstioRevision) {
			setCondition(r, v1.ConditionReconciled, func(c *metav1.Condition) { c.Status = metav1.ConditionFalse })
		}, true},
		{"Ready written for the first time", func(r *v1.IstioRevision) { r.Status.Conditions = r.Status.Conditions[:1] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := event.UpdateEvent{ObjectOld: revisionWith(nil), ObjectNew: revisionWith(tc.edit)}
			if got := (controller.RevisionChange{}).Update(e); got != tc.want {
				t.Errorf("Update = %t, want %t", got, tc.want)
			}
		})
	}
	other := event.UpdateEvent{ObjectOld: &corev1.Namespace{}, ObjectNew: &corev1.Namespace{}}
	if !(controller.RevisionChange{}).Update(other) {
		t.Error("an update of an object that is not a revision is dropped, want it passed")
	}
	p := controller.RevisionChange{}
	if !p.Create(event.CreateEvent{}) || !p.Delete(event.DeleteEvent{}) || p.Generic(event.GenericEvent{}) {
		t.Error("want a revision's creation and deletion passed, generic events dropped")
	}
}

// TestMetadataChangedPassesWhatChangesAReference: a namespace or pod event evaluates use when it can
// change what the object references, its labels or annotations, and not on any other update.
func TestMetadataChangedPassesWhatChangesAReference(t *testing.T) {
	pod := func(labels, annotations map[string]string, rv string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", Labels: labels, Annotations: annotations, ResourceVersion: rv}}
	}
	rev := map[string]string{"istio.io/rev": "canary"}
	for _, tc := range []struct {
		name     string
		old, new *metav1.PartialObjectMetadata
		want     bool
	}{
		{"another resource version alone", pod(rev, nil, "1"), pod(rev, nil, "2"), false},
		{"no labels and empty labels", pod(nil, nil, "1"), pod(map[string]string{}, map[string]string{}, "2"), false},
		{"a label's value", pod(rev, nil, "1"), pod(map[string]string{"istio.io/rev": "stable"}, nil, "2"), true},
		{"a label removed", pod(rev, nil, "1"), pod(nil, nil, "2"), true},
		{"the injector's annotation", pod(nil, nil, "1"), pod(nil, rev, "2"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (controller.MetadataChanged{}).Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("Update = %t, want %t", got, tc.want)
			}
		})
	}
	p := controller.MetadataChanged{}
	if !p.Create(event.CreateEvent{}) || !p.Delete(event.DeleteEvent{}) || p.Generic(event.GenericEvent{}) {
		t.Error("want creations and deletions passed, generic events dropped")
	}
}
