//go:build integration

package istio_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// reconciled checks an Istio's Reconciled condition.
func reconciled(status metav1.ConditionStatus, reason, message string) func(*v1.Istio) error {
	return func(i *v1.Istio) error {
		cond, err := operatortest.Condition(i.Status.Conditions, v1.ConditionReconciled)
		if err != nil {
			return err
		}
		if cond.Status != status || cond.Reason != reason || !strings.Contains(cond.Message, message) {
			return fmt.Errorf("Reconciled %s/%s %q, want %s/%s saying %q", cond.Status, cond.Reason, cond.Message, status, reason, message)
		}
		return nil
	}
}

// controlledBy reports whether the revision's controller is the Istio, by UID.
func controlledBy(rev *v1.IstioRevision, istio *v1.Istio) error {
	ref := metav1.GetControllerOf(rev)
	if ref == nil || ref.Kind != v1.KindIstio || ref.UID != istio.UID {
		return fmt.Errorf("IstioRevision %s is controlled by %+v, want Istio %s (%s)", rev.Name, ref, istio.Name, istio.UID)
	}
	return nil
}

// TestRestoredRevisionIsTakenBack: a revision that a restore brought back without its owner reference
// is taken back by the Istio that asks for its name: the same object (not one created again), now the
// Istio's, counted and reported by it (docs/architecture.md#lesson-restored-revisions).
func TestRestoredRevisionIsTakenBack(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "restored-system", nil)
	istio := newIstio("restored", "restored-system", v1.UpdateStrategyInPlace, v127)
	orphan, refusal := operatortest.Env().RevisionOf(istio)
	if refusal != nil {
		t.Fatal(refusal)
	}
	operatortest.Create(t, c, orphan)
	restoredUID := orphan.UID

	operatortest.Create(t, c, istio)
	operatortest.WaitFor(t, "the Istio to take its revision back", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "restored"}, rev); err != nil {
			return err
		}
		if rev.UID != restoredUID {
			return fmt.Errorf("the revision was created again (UID %s, was %s)", rev.UID, restoredUID)
		}
		return controlledBy(rev, istio)
	})
	operatortest.RollOut(t, c, "restored-system", "istiod-restored")
	istioStatus(t, c, "restored", "Healthy, counting the revision it took back", func(i *v1.Istio) error {
		if err := state("restored", v1.StateHealthy)(i); err != nil {
			return err
		}
		if i.Status.Revisions.Total != 1 {
			return fmt.Errorf("revisions %+v", i.Status.Revisions)
		}
		return nil
	})
	// Events are sent apart from the status, a moment later.
	operatortest.WaitFor(t, "RevisionUpdated and no RevisionCreated", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, v1.KindIstio, "restored")
		if err != nil {
			return err
		}
		if !slices.Contains(events, "Normal RevisionUpdated") || slices.Contains(events, "Normal RevisionCreated") {
			return fmt.Errorf("Events %v", events)
		}
		return nil
	})
}

// TestRevisionOfAnotherIstioIsNotTaken: an Istio whose revision name is that of a revision another
// Istio owns is refused with a message that names the owner and what to do; the other Istio's revision
// is left exactly as it was.
func TestRevisionOfAnotherIstioIsNotTaken(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "taken-system", nil)
	first := newIstio("taken", "taken-system", v1.UpdateStrategyRevisionBased, v127)
	operatortest.Create(t, c, first)
	const name = "taken-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "taken-system", "istiod-"+name)
	istioStatus(t, c, "taken", "Healthy", state(name, v1.StateHealthy))
	before := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: name}, before); err != nil {
		t.Fatal(err)
	}

	second := newIstio(name, "taken-system", v1.UpdateStrategyInPlace, v127)
	operatortest.Create(t, c, second)
	conflict := &desired.RevisionConflictError{Istio: name, Revision: name, OwnerKind: v1.KindIstio, OwnerName: "taken"}
	istioStatus(t, c, name, "refused for a revision it does not own", func(i *v1.Istio) error {
		if err := reconciled(metav1.ConditionFalse, v1.ReasonReconcileError, conflict.Error())(i); err != nil {
			return err
		}
		return operatortest.HasCondition(i.Status.Conditions, v1.ConditionReady, metav1.ConditionUnknown, v1.ReasonReconcileError)
	})
	operatortest.WaitFor(t, "a Warning Event", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, v1.KindIstio, name)
		if err != nil || !slices.Contains(events, "Warning "+v1.ReasonReconcileError) {
			return fmt.Errorf("Events %v (%v)", events, err)
		}
		return nil
	})
	after := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: name}, after); err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || after.UID != before.UID {
		t.Errorf("the refused Istio changed the other Istio's revision (generation %d, was %d)", after.Generation, before.Generation)
	}
	if err := controlledBy(after, first); err != nil {
		t.Error(err)
	}
}

// TestTagHoldingTheNameRefusesUntilItGoes: an older IstioRevisionTag of the name an Istio's revision
// would take refuses the Istio, which creates no revision; once the tag is deleted the Istio goes on
// without any change of its own.
func TestTagHoldingTheNameRefusesUntilItGoes(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "tagheld-system", nil)
	tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "tagheld"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: "elsewhere"}}}
	operatortest.Create(t, c, tag)
	operatortest.Create(t, c, newIstio("tagheld", "tagheld-system", v1.UpdateStrategyInPlace, v127))
	istioStatus(t, c, "tagheld", "refused for its revision's name", reconciled(metav1.ConditionFalse, v1.ReasonNameAlreadyExists,
		"the revision of Istio tagheld would be named tagheld, and an IstioRevisionTag named tagheld already exists and is older"))
	if err := c.Get(t.Context(), client.ObjectKey{Name: "tagheld"}, &v1.IstioRevision{}); err == nil {
		t.Fatal("a refused Istio created its revision")
	}

	operatortest.Delete(t, c, tag)
	istioStatus(t, c, "tagheld", "its revision created once the tag is gone", state("tagheld", v1.ReasonIstiodNotReady))
}

// TestGracePeriodIsHonoured: an old revision nothing uses stays for the Istio's grace period after it
// became unused, and is deleted once it has passed, without any change to the Istio: the Istio looks
// again when the grace period ends.
func TestGracePeriodIsHonoured(t *testing.T) {
	const grace = 3 * time.Second
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "grace-system", nil)
	istio := newIstio("grace", "grace-system", v1.UpdateStrategyRevisionBased, v125)
	seconds := int64(grace / time.Second)
	istio.Spec.UpdateStrategy.InactiveRevisionDeletionGracePeriodSeconds = &seconds
	operatortest.Create(t, c, istio)
	const old, next = "grace-v1-25-0-snapshot-be4b14ad", "grace-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "grace-system", "istiod-"+old)
	istioStatus(t, c, "grace", "Healthy", state(old, v1.StateHealthy))

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "grace-system", "istiod-"+next)
	unused := unusedSince(t, c, old)
	operatortest.WaitFor(t, "the old revision to go", func(ctx context.Context) error { return gone(ctx, c, old) })
	if d := time.Since(unused.Time); d < grace {
		t.Errorf("the old revision was deleted %s after it became unused, within the grace period of %s", d.Round(time.Millisecond), grace)
	}
	operatortest.WaitFor(t, "a RevisionDeleted Event", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, v1.KindIstio, "grace")
		if err != nil {
			return err
		}
		if !slices.Contains(events, "Normal RevisionDeleted") {
			return fmt.Errorf("Events %v", events)
		}
		return nil
	})
}
