package istio

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/move"
)

// TestIstioStatusReportsTheMove: an Istio whose workloads bosun moves reports WorkloadsUpdated and
// the move's summary beside a state that stays Healthy; a reconcile that failed to read or write, or
// whose version change was refused, keeps what was reported (the running revision stays active and
// Ready beside the refusal), and an Istio whose workloads bosun does not move has neither.
func TestIstioStatusReportsTheMove(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 2}}
	active := healthyRevision(2, 2)
	moving := &move.Progress{Istio: "default", Target: move.TargetOf(active), Done: 1, Left: 2, PodsLeft: 6, Current: "shop",
		Step: &move.Step{Do: move.Wait, Workload: move.Workload{Kind: "Deployment", Name: "cart"}}}

	st := IstioStatus(istio, active, []*v1.IstioRevision{active}, nil, nil, Observed{Workloads: moving}, now)
	cond := meta.FindStatusCondition(st.Conditions, v1.ConditionWorkloadsUpdated)
	if cond == nil || cond.Reason != v1.ReasonMoving || st.State != v1.StateHealthy {
		t.Fatalf("condition %+v, state %s; want Moving beside Healthy", cond, st.State)
	}
	want := v1.WorkloadsUpdateStatus{Target: "default (v1.27.0-snapshot.b9159ca3)", NamespacesDone: 1, NamespacesLeft: 2, PodsLeft: 6, InProgress: "shop/Deployment/cart"}
	if st.Workloads == nil || st.Workloads.Target != want.Target || st.Workloads.InProgress != want.InProgress || st.Workloads.PodsLeft != want.PodsLeft {
		t.Errorf("workloads %+v, want %+v", st.Workloads, want)
	}

	istio.Status = st
	failed := IstioStatus(istio, active, []*v1.IstioRevision{active}, nil, errors.New("the API server is unavailable"), Observed{}, now)
	if c := meta.FindStatusCondition(failed.Conditions, v1.ConditionWorkloadsUpdated); c == nil || c.Reason != v1.ReasonMoving || failed.Workloads == nil {
		t.Errorf("after a failed reconcile: condition %+v, workloads %+v; want what was reported before", c, failed.Workloads)
	}

	refusal := &desired.Refusal{Reason: v1.ReasonPreflightFailed, Err: errors.New("the change is refused until its pre-flight checks pass")}
	refused := IstioStatus(istio, active, []*v1.IstioRevision{active}, refusal, nil, Observed{}, now)
	if c := meta.FindStatusCondition(refused.Conditions, v1.ConditionWorkloadsUpdated); c == nil || c.Reason != v1.ReasonMoving || refused.Workloads == nil {
		t.Errorf("after a refused version change: condition %+v, workloads %+v; want what was reported before", c, refused.Workloads)
	}
	if c := meta.FindStatusCondition(refused.Conditions, v1.ConditionReconciled); c == nil || c.Reason != v1.ReasonPreflightFailed || refused.ActiveRevisionName != active.Name ||
		!meta.IsStatusConditionTrue(refused.Conditions, v1.ConditionReady) {
		t.Errorf("after a refused version change: Reconciled %+v, active %q, conditions %v; want PreflightFailed with the running revision active and Ready", c, refused.ActiveRevisionName, refused.Conditions)
	}

	off := IstioStatus(istio, active, []*v1.IstioRevision{active}, nil, nil, Observed{}, now)
	if c := meta.FindStatusCondition(off.Conditions, v1.ConditionWorkloadsUpdated); c != nil || off.Workloads != nil {
		t.Errorf("without updateWorkloads: condition %+v, workloads %+v; want neither", c, off.Workloads)
	}
}
