package tag

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// ownedConditions are the conditions the tag controller computes. InUse is UsageReconciler's, which
// also writes state, the summary of all three (StateConditions).
var ownedConditions = []string{v1.ConditionReconciled, v1.ConditionReady}

// StateConditions are the conditions status.state summarises, in order.
var StateConditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionInUse}

// tagStatus is the status the tag controller computes for one reconcile.
type tagStatus struct {
	old v1.IstioRevisionTagStatus
	new v1.IstioRevisionTagStatus
	now metav1.Time
}

func newStatus(tag *v1.IstioRevisionTag, now metav1.Time) *tagStatus {
	st := &tagStatus{old: tag.Status, now: now}
	st.new.ObservedGeneration = tag.Generation
	// istioRevision and istiodNamespace change only when the tag is reconciled; until then they keep
	// naming where the tag's objects are.
	st.new.IstioRevision = tag.Status.IstioRevision
	st.new.IstiodNamespace = tag.Status.IstiodNamespace
	st.new.Conditions = tag.Status.Conditions
	return st
}

func (s *tagStatus) set(c metav1.Condition) {
	c.ObservedGeneration = s.new.ObservedGeneration
	s.new.Conditions = status.Set(s.new.Conditions, c, s.now)
}

// reconciled sets Reconciled, and the revision the tag points at, from the outcome of applying the
// tag's charts for choice. When they could not be applied, readiness cannot be told.
func (s *tagStatus) reconciled(choice desired.Choice, err error) {
	if err == nil {
		rev := choice.Revision
		s.new.IstioRevision, s.new.IstiodNamespace = rev.Name, rev.Spec.Namespace
		msg := fmt.Sprintf("the tag's webhook points at IstioRevision %s in namespace %s", rev.Name, rev.Spec.Namespace)
		if choice.Waiting != nil {
			msg += fmt.Sprintf("; it moves to IstioRevision %s once that revision's istiod is ready", choice.Waiting.Name)
		}
		s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: msg})
		s.set(revisionReady(rev))
		return
	}
	reason := v1.ReasonReconcileError
	if r, ok := status.RefusalReason(err); ok {
		reason = r
	}
	s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: reason, Message: err.Error()})
	s.set(metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: reason, Message: "readiness cannot be told until the tag is reconciled"})
}

// revisionReady is a tag's Ready condition: whether the istiod of the revision its webhook points at
// is ready, so that injection through the tag works.
func revisionReady(rev *v1.IstioRevision) metav1.Condition {
	if desired.Ready(rev) {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady,
			Message: "the istiod of IstioRevision " + rev.Name + " is ready"}
	}
	c := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionReady)
	if c == nil || rev.Status.ObservedGeneration != rev.Generation {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonPending,
			Message: "IstioRevision " + rev.Name + " has not reported its readiness for its latest spec yet"}
	}
	return metav1.Condition{Type: v1.ConditionReady, Status: c.Status, Reason: c.Reason,
		Message: "IstioRevision " + rev.Name + ": " + c.Message}
}

// result is the status as written: the fields this controller owns.
func (s *tagStatus) result() v1.IstioRevisionTagStatus {
	out := s.new
	out.Conditions = status.Only(s.new.Conditions, ownedConditions...)
	out.State = "" // UsageReconciler's
	return out
}

// unchanged reports whether the status this controller owns is already what it computed.
func (s *tagStatus) unchanged() bool {
	want := s.result()
	if s.old.ObservedGeneration != want.ObservedGeneration || s.old.IstioRevision != want.IstioRevision || s.old.IstiodNamespace != want.IstiodNamespace {
		return false
	}
	return status.Held(s.old.Conditions, want.Conditions)
}
