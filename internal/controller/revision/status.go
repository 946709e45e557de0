package revision

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller/status"
)

// ownedConditions are the conditions the revision controller computes, in the order state summarises
// them. InUse is UsageReconciler's.
var ownedConditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy}

// revisionStatus is the status the revision controller computes for one reconcile.
type revisionStatus struct {
	old  v1.IstioRevisionStatus
	new  v1.IstioRevisionStatus
	now  metav1.Time
	kind string
}

func newStatus(rev *v1.IstioRevision, now metav1.Time) *revisionStatus {
	st := &revisionStatus{old: rev.Status, now: now}
	st.new.ObservedGeneration = rev.Generation
	st.new.Type = v1.RevisionTypeLocal
	if IsRemote(rev) {
		st.new.Type = v1.RevisionTypeRemote
	}
	// Start from the current conditions, so that transition times carry over.
	st.new.Conditions = rev.Status.Conditions
	return st
}

func (s *revisionStatus) set(c metav1.Condition) {
	c.ObservedGeneration = s.new.ObservedGeneration
	s.new.Conditions = status.Set(s.new.Conditions, c, s.now)
}

// reconciled sets Reconciled from the outcome of applying the charts. When they could not be applied,
// readiness and dependencies cannot be told.
func (s *revisionStatus) reconciled(err error) {
	if err == nil {
		s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: "istiod is applied"})
		return
	}
	reason := v1.ReasonReconcileError
	if r, ok := status.RefusalReason(err); ok {
		reason = r
	}
	s.set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: reason, Message: err.Error()})
	s.set(metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: reason, Message: "readiness cannot be told until the revision is reconciled"})
	s.set(metav1.Condition{Type: v1.ConditionDependenciesHealthy, Status: metav1.ConditionUnknown, Reason: reason, Message: "dependencies cannot be told until the revision is reconciled"})
}

func (s *revisionStatus) ready(c metav1.Condition)        { s.set(c) }
func (s *revisionStatus) dependencies(c metav1.Condition) { s.set(c) }

// result is the status as written: only the conditions this controller owns, and state.
func (s *revisionStatus) result() v1.IstioRevisionStatus {
	out := s.new
	out.Conditions = status.Only(s.new.Conditions, ownedConditions...)
	out.State = status.State(out.Conditions, ownedConditions...)
	return out
}

// unchanged reports whether the status this controller owns is already what it computed, so that
// nothing is written.
func (s *revisionStatus) unchanged() bool {
	want := s.result()
	if s.old.ObservedGeneration != want.ObservedGeneration || s.old.State != want.State || s.old.Type != want.Type {
		return false
	}
	return status.Held(s.old.Conditions, want.Conditions)
}
