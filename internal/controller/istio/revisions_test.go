package istio

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// TestOwnedRevisionsAreTheIstiosByUID: an Istio counts, and prunes from, only the revisions it
// controls, by UID: not those of an earlier Istio of the same name (deleted and created again), nor
// revisions it is merely an owner of, nor revisions of no owner. They come in name order.
func TestOwnedRevisionsAreTheIstiosByUID(t *testing.T) {
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "uid-now"}}
	yes, no := true, false
	rev := func(name string, uid types.UID, controller *bool) *v1.IstioRevision {
		r := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if uid != "" {
			r.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: "prod", UID: uid, Controller: controller}}
		}
		return r
	}
	f := &desired.Facts{Revisions: map[string]*v1.IstioRevision{}}
	for _, r := range []*v1.IstioRevision{
		rev("prod-v1-27", "uid-now", &yes),
		rev("prod-v1-25", "uid-now", &yes),
		rev("prod-v1-24", "uid-before", &yes),
		rev("prod-shared", "uid-now", &no),
		rev("standalone", "", nil),
	} {
		f.Revisions[r.Name] = r
	}
	got := ownedRevisions(istio, f)
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if len(names) != 2 || names[0] != "prod-v1-25" || names[1] != "prod-v1-27" {
		t.Errorf("owned revisions %v, want [prod-v1-25 prod-v1-27]", names)
	}
}

// TestRevisionCounts: the REVISIONS, READY and IN USE columns of `kubectl get istio` count every
// revision, those whose Ready is True, and those whose InUse is True; Unknown counts as neither.
func TestRevisionCounts(t *testing.T) {
	with := func(ready, inUse metav1.ConditionStatus) *v1.IstioRevision {
		r := &v1.IstioRevision{}
		if ready != "" {
			r.Status.Conditions = append(r.Status.Conditions, condition(v1.ConditionReady, ready, "r"))
		}
		if inUse != "" {
			r.Status.Conditions = append(r.Status.Conditions, condition(v1.ConditionInUse, inUse, "u"))
		}
		return r
	}
	cases := []struct {
		name string
		revs []*v1.IstioRevision
		want v1.RevisionSummary
	}{
		{"none", nil, v1.RevisionSummary{}},
		{"not reported yet", []*v1.IstioRevision{with("", "")}, v1.RevisionSummary{Total: 1}},
		{"unknown is neither", []*v1.IstioRevision{with(metav1.ConditionUnknown, metav1.ConditionUnknown)}, v1.RevisionSummary{Total: 1}},
		{"an update in progress", []*v1.IstioRevision{
			with(metav1.ConditionTrue, metav1.ConditionTrue),
			with(metav1.ConditionFalse, metav1.ConditionFalse),
			with(metav1.ConditionTrue, metav1.ConditionFalse),
		}, v1.RevisionSummary{Total: 3, Ready: 2, InUse: 1}},
	}
	for _, tc := range cases {
		if got := revisionCounts(tc.revs); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestIstioStatusBeforeTheRevisionReports: a revision that has acted on its spec but not reported a
// condition yet leaves the Istio's copy of it Unknown (Pending), naming the revision, rather than
// missing or True.
func TestIstioStatusBeforeTheRevisionReports(t *testing.T) {
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod", Generation: 1}}
	active := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod", Generation: 1}}
	active.Status.ObservedGeneration = 1
	active.Status.Conditions = []metav1.Condition{condition(v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled)}
	st := IstioStatus(istio, active, []*v1.IstioRevision{active}, nil, nil, Observed{}, metav1.Now())
	for _, ct := range []string{v1.ConditionReady, v1.ConditionDependenciesHealthy} {
		c := meta.FindStatusCondition(st.Conditions, ct)
		if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != v1.ReasonPending || c.Message != "IstioRevision prod has not reported yet" {
			t.Errorf("%s = %+v, want Unknown %s saying the revision has not reported", ct, c, v1.ReasonPending)
		}
	}
	if st.State != v1.ReasonPending || st.ActiveRevisionName != "prod" {
		t.Errorf("state %q, active %q; want %q and prod", st.State, st.ActiveRevisionName, v1.ReasonPending)
	}
}

// TestRefusedIstioKeepsItsActiveRevision: a refused spec changes nothing that runs, so the Istio still
// names the revision that serves, and says why it is refused with the refusal's own message.
func TestRefusedIstioKeepsItsActiveRevision(t *testing.T) {
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod", Generation: 5}}
	istio.Status.ActiveRevisionName = "prod-v1-25"
	refusal := &desired.Refusal{Reason: v1.ReasonNameAlreadyExists, Err: errors.New("an IstioRevisionTag named prod-v1-27 already exists and is older")}
	st := IstioStatus(istio, nil, []*v1.IstioRevision{healthyRevision(1, 1)}, refusal, nil, Observed{}, metav1.Now())
	if st.ActiveRevisionName != "prod-v1-25" {
		t.Errorf("active revision %q, want prod-v1-25 kept", st.ActiveRevisionName)
	}
	c := meta.FindStatusCondition(st.Conditions, v1.ConditionReconciled)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonNameAlreadyExists || c.Message != refusal.Error() {
		t.Errorf("Reconciled %+v, want False %s %q", c, v1.ReasonNameAlreadyExists, refusal.Error())
	}
	if st.State != v1.ReasonNameAlreadyExists || st.Revisions.Total != 1 {
		t.Errorf("state %q, revisions %+v", st.State, st.Revisions)
	}
}

// TestIstioConditionsKeepTheirOwnTransitionTimes: the Istio's copy of a condition changes its
// transition time when its status changes, at the reconcile's time, and not when the revision
// underneath reports the same status with another time (a new revision after an update), so that the
// Istio's status is not rewritten for nothing (docs/architecture.md#lesson-write-status-only-on-change).
func TestIstioConditionsKeepTheirOwnTransitionTimes(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(since.Add(24 * time.Hour))
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 2}}
	for _, ct := range copiedConditions {
		c := condition(ct, metav1.ConditionTrue, "was")
		c.LastTransitionTime = since
		istio.Status.Conditions = append(istio.Status.Conditions, c)
	}
	active := healthyRevision(1, 1)
	for i := range active.Status.Conditions {
		active.Status.Conditions[i].LastTransitionTime = metav1.NewTime(since.Add(time.Hour))
	}
	meta.SetStatusCondition(&active.Status.Conditions, condition(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonIstiodNotReady))
	st := IstioStatus(istio, active, []*v1.IstioRevision{active}, nil, nil, Observed{}, now)
	for _, c := range st.Conditions {
		want := since
		if c.Type == v1.ConditionReady {
			want = now
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s (%s) changed at %s, want %s", c.Type, c.Status, c.LastTransitionTime, want)
		}
	}
}
