package status

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

var reconcileTime = metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))

// TestReconciledSaysWhyAndWhatToChange: a refusal makes Reconciled False with its reason and message
// (the message says what to change), even beside an error; an error alone is ReconcileError with the
// error's text; otherwise Reconciled is True with the message of success. Only the last counts as
// reconciled.
func TestReconciledSaysWhyAndWhatToChange(t *testing.T) {
	refusal := &desired.Refusal{Reason: v1.ReasonNamespaceNotFound, Err: errors.New("namespace istio-system does not exist: create it")}
	failure := errors.New("applying Deployment istio-system/istiod: the server is unavailable")
	for _, tc := range []struct {
		name           string
		refusal        *desired.Refusal
		err            error
		want           metav1.Condition
		wantReconciled bool
	}{
		{"refused", refusal, nil, metav1.Condition{Status: metav1.ConditionFalse, Reason: v1.ReasonNamespaceNotFound, Message: "namespace istio-system does not exist: create it"}, false},
		{"refused and failed: the refusal is what to act on", refusal, failure, metav1.Condition{Status: metav1.ConditionFalse, Reason: v1.ReasonNamespaceNotFound, Message: "namespace istio-system does not exist: create it"}, false},
		{"failed", nil, failure, metav1.Condition{Status: metav1.ConditionFalse, Reason: v1.ReasonReconcileError, Message: failure.Error()}, false},
		{"done", nil, nil, metav1.Condition{Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: "istiod applied"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConditions(nil, 7, reconcileTime)
			if got := c.Reconciled(tc.refusal, tc.err, "istiod applied"); got != tc.wantReconciled {
				t.Errorf("Reconciled returned %t, want %t", got, tc.wantReconciled)
			}
			got := c.Get(v1.ConditionReconciled)
			if got == nil {
				t.Fatal("no Reconciled condition")
			}
			if got.Status != tc.want.Status || got.Reason != tc.want.Reason || got.Message != tc.want.Message {
				t.Errorf("Reconciled = %s/%s %q, want %s/%s %q", got.Status, got.Reason, got.Message, tc.want.Status, tc.want.Reason, tc.want.Message)
			}
			if got.ObservedGeneration != 7 || !got.LastTransitionTime.Equal(&reconcileTime) {
				t.Errorf("Reconciled describes generation %d since %s, want generation 7 since the reconcile", got.ObservedGeneration, got.LastTransitionTime)
			}
		})
	}
}

// TestUntoldSaysWhyAConditionIsUnknown: a condition that cannot be told before the resource is
// reconciled is Unknown with the Reconciled condition's reason (what the user has to fix), or
// ReconcileError when there is none, and a message naming what cannot be told.
func TestUntoldSaysWhyAConditionIsUnknown(t *testing.T) {
	refused := NewConditions(nil, 1, reconcileTime)
	refused.Reconciled(&desired.Refusal{Reason: v1.ReasonVersionSkew, Err: errors.New("skew")}, nil, "")
	for _, tc := range []struct {
		conditions *Conditions
		typ, what  string
		reason     string
		message    string
	}{
		{refused, v1.ConditionReady, "revision", v1.ReasonVersionSkew, "readiness cannot be told until the revision is reconciled"},
		{refused, v1.ConditionDependenciesHealthy, "revision", v1.ReasonVersionSkew, "dependencies cannot be told until the revision is reconciled"},
		{refused, v1.ConditionInUse, "tag", v1.ReasonVersionSkew, "usage cannot be told until the tag is reconciled"},
		{NewConditions(nil, 1, reconcileTime), v1.ConditionReady, "Istio", v1.ReasonReconcileError, "readiness cannot be told until the Istio is reconciled"},
	} {
		tc.conditions.Untold(tc.typ, tc.what)
		got := tc.conditions.Get(tc.typ)
		if got == nil || got.Status != metav1.ConditionUnknown || got.Reason != tc.reason || got.Message != tc.message {
			t.Errorf("Untold(%s, %s) = %+v, want Unknown/%s %q", tc.typ, tc.what, got, tc.reason, tc.message)
		}
	}
}

// TestConditionsOfListsTheStatusInTheAskedOrder: Of returns the conditions of the given types in that
// order, leaving out the ones not set, and Get returns nil for a type not set; conditions the object
// had stay unless set again.
func TestConditionsOfListsTheStatusInTheAskedOrder(t *testing.T) {
	then := metav1.NewTime(reconcileTime.Add(-time.Hour))
	old := []metav1.Condition{{Type: v1.ConditionInUse, Status: metav1.ConditionTrue, Reason: v1.ReasonReferencedByWorkloads, LastTransitionTime: then, ObservedGeneration: 1}}
	c := NewConditions(old, 2, reconcileTime)
	c.Set(metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1.ReasonIstiodNotReady})
	c.Reconciled(nil, nil, "done")
	got := c.Of(v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy, v1.ConditionInUse)
	var types []string
	for _, cond := range got {
		types = append(types, cond.Type)
	}
	if want := []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionInUse}; len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("Of = %q, want %q", types, want)
	}
	if got[1].ObservedGeneration != 2 || !got[1].LastTransitionTime.Equal(&reconcileTime) {
		t.Errorf("a new condition: generation %d since %s, want 2 since the reconcile", got[1].ObservedGeneration, got[1].LastTransitionTime)
	}
	if got[2].ObservedGeneration != 1 || !got[2].LastTransitionTime.Equal(&then) {
		t.Errorf("a condition not set again was changed: %+v", got[2])
	}
	if c.Get(v1.ConditionDependenciesHealthy) != nil {
		t.Error("Get of a condition never set is not nil")
	}
	if len(old) != 1 {
		t.Error("NewConditions' input grew")
	}
}

// TestWriteRefusesAStatusThatDoesNotEncode: a status that cannot be encoded is an error naming the
// object, and nothing is sent (the Writer here has no client).
func TestWriteRefusesAStatusThatDoesNotEncode(t *testing.T) {
	w := &Writer{Manager: "bosun"}
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "uid"}}
	wrote, err := w.Write(t.Context(), rev, map[string]any{"state": func() {}}, false)
	if wrote || err == nil || !strings.HasPrefix(err.Error(), "encoding the status of default") {
		t.Errorf("Write of a status that does not encode: %t, %v; want an error naming the object", wrote, err)
	}
}
