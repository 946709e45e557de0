package istio

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/remote"
)

func condition(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: reason}
}

// healthyRevision is a revision that acted on its spec of generation gen and reports every condition
// True.
func healthyRevision(gen, observed int64) *v1.IstioRevision {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: gen}, Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3"}}
	rev.Status.ObservedGeneration = observed
	rev.Status.Conditions = []metav1.Condition{
		condition(v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled),
		condition(v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReady),
		condition(v1.ConditionDependenciesHealthy, metav1.ConditionTrue, v1.ReasonDependenciesHealthy),
		condition(v1.ConditionInUse, metav1.ConditionTrue, v1.ReasonReferencedByWorkloads),
	}
	return rev
}

// TestIstioStatus: an Istio reports its active revision's conditions and state, except that it is
// never Ready while the revision has not acted on its latest spec (an update is rolling out), and a
// refused or failed Istio says why with its readiness Unknown. Its revisions are counted.
func TestIstioStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 4}}
	notReady := healthyRevision(2, 2)
	meta.SetStatusCondition(&notReady.Status.Conditions, condition(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonIstiodNotReady))
	unused := healthyRevision(1, 1)
	unused.Name = "old"
	meta.SetStatusCondition(&unused.Status.Conditions, condition(v1.ConditionInUse, metav1.ConditionFalse, v1.ReasonNotReferencedByAnything))
	cases := []struct {
		name    string
		active  *v1.IstioRevision
		refusal *desired.Refusal
		err     error
		ready   metav1.ConditionStatus
		state   string
	}{
		{"the active revision is healthy", healthyRevision(2, 2), nil, nil, metav1.ConditionTrue, v1.StateHealthy},
		{"the active revision is being updated", healthyRevision(3, 2), nil, nil, metav1.ConditionFalse, v1.ReasonIstiodNotReady},
		{"the active revision's istiod is not ready", notReady, nil, nil, metav1.ConditionFalse, v1.ReasonIstiodNotReady},
		{"refused", nil, &desired.Refusal{Reason: v1.ReasonVersionChangeNotAllowed, Err: errors.New("skips a minor")}, nil, metav1.ConditionUnknown, v1.ReasonVersionChangeNotAllowed},
		{"the revision could not be written", nil, nil, errors.New("the API server is unavailable"), metav1.ConditionUnknown, v1.ReasonReconcileError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			revs := []*v1.IstioRevision{unused}
			if tc.active != nil {
				revs = append(revs, tc.active)
			}
			st := IstioStatus(istio, tc.active, revs, tc.refusal, tc.err, Observed{}, now)
			if c := meta.FindStatusCondition(st.Conditions, v1.ConditionReady); c == nil || c.Status != tc.ready {
				t.Errorf("Ready %+v, want %s", c, tc.ready)
			}
			if st.State != tc.state {
				t.Errorf("state %q, want %q", st.State, tc.state)
			}
			if st.ObservedGeneration != 4 || int(st.Revisions.Total) != len(revs) {
				t.Errorf("observedGeneration %d, revisions %+v", st.ObservedGeneration, st.Revisions)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 4 {
					t.Errorf("condition %s describes generation %d, want the Istio's 4", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
	st := IstioStatus(istio, healthyRevision(2, 2), []*v1.IstioRevision{unused, healthyRevision(2, 2)}, nil, nil, Observed{}, now)
	if want := (v1.RevisionSummary{Total: 2, Ready: 2, InUse: 1}); st.Revisions != want || st.ActiveRevisionName != "default" {
		t.Errorf("revisions %+v, active %q; want %+v and default", st.Revisions, st.ActiveRevisionName, want)
	}
}

// TestIstioStatusReportsScopeConflicts: an Istio that shares namespaces with another mesh says so in a
// ScopeConflict condition, refused or not, without changing its state; once the conflict is gone the
// condition goes too.
func TestIstioStatusReportsScopeConflicts(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "mesh1", Generation: 1}}
	scope := []desired.ScopeConflict{{Namespace: "shop", Others: []string{"mesh2"}, Why: "both select it"}}
	refused := &desired.Refusal{Reason: v1.ReasonVersionChangeNotAllowed, Err: errors.New("skips a minor")}
	for name, st := range map[string]v1.IstioStatus{
		"healthy": IstioStatus(istio, healthyRevision(1, 1), []*v1.IstioRevision{healthyRevision(1, 1)}, nil, nil, Observed{Scope: scope}, now),
		"refused": IstioStatus(istio, nil, nil, refused, nil, Observed{Scope: scope}, now),
	} {
		c := meta.FindStatusCondition(st.Conditions, v1.ConditionScopeConflict)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1.ReasonNamespacesShared || c.Message != desired.ScopeMessage(scope) {
			t.Errorf("%s: ScopeConflict %+v, want True NamespacesShared with the conflicts' message", name, c)
		}
	}
	healthy := IstioStatus(istio, healthyRevision(1, 1), []*v1.IstioRevision{healthyRevision(1, 1)}, nil, nil, Observed{Scope: scope}, now)
	if healthy.State != v1.StateHealthy {
		t.Errorf("state %q: a scope conflict must not change the state", healthy.State)
	}
	istio.Status = healthy
	if c := meta.FindStatusCondition(IstioStatus(istio, healthyRevision(1, 1), nil, nil, nil, Observed{}, now).Conditions, v1.ConditionScopeConflict); c != nil {
		t.Errorf("ScopeConflict %+v after the conflict went away; want it gone", c)
	}
}

// TestRemoteClustersCondition: an Istio that serves other clusters says which answer and which do not,
// and why; that there is none to read; or that bosun may not read them. An unreachable cluster never
// changes the Istio's state: its own update goes on.
func TestRemoteClustersCondition(t *testing.T) {
	up := remote.Reach{Cluster: remote.Cluster{Name: "cluster2"}}
	down := remote.Reach{Cluster: remote.Cluster{Name: "cluster3"}, Err: errors.New("cluster cluster3 (remote secret istio-system/istio-remote-secret-cluster3): connection refused")}
	for _, tc := range []struct {
		name    string
		reach   []remote.Reach
		err     error
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"every cluster answers", []remote.Reach{up}, nil, metav1.ConditionTrue, v1.ReasonClustersReachable, "reachable: cluster2"},
		{"one does not", []remote.Reach{up, down}, nil, metav1.ConditionFalse, v1.ReasonClusterUnreachable,
			"unreachable: cluster cluster3 (remote secret istio-system/istio-remote-secret-cluster3): connection refused; reachable: cluster2"},
		{"no remote secret", nil, fmt.Errorf("… and %w in namespace istio-system …: make one for each cluster with bosun create-remote-secret", remote.ErrNoClusters),
			metav1.ConditionFalse, v1.ReasonNoRemoteClusters, "make one for each cluster with bosun create-remote-secret"},
		{"secrets unreadable", nil, errors.New("bosun may not read the Secrets"), metav1.ConditionUnknown, v1.ReasonRemoteSecretsUnreadable, "bosun may not read the Secrets"},
	} {
		c := RemoteClustersCondition(tc.reach, tc.err)
		if c.Type != v1.ConditionRemoteClustersReachable || c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.message) {
			t.Errorf("%s: %+v, want %s %s %q", tc.name, c, tc.status, tc.reason, tc.message)
		}
		istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 1}}
		st := IstioStatus(istio, healthyRevision(1, 1), []*v1.IstioRevision{healthyRevision(1, 1)}, nil, nil, Observed{Remote: &c}, metav1.Now())
		if st.State != v1.StateHealthy || meta.FindStatusCondition(st.Conditions, v1.ConditionRemoteClustersReachable) == nil {
			t.Errorf("%s: state %s, conditions %v: want Healthy with the condition listed", tc.name, st.State, st.Conditions)
		}
	}
}
