package desired

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestForIstio: an Istio becomes the revision its spec asks for, created when missing and updated when
// it exists, unless the spec is refused: a version bosun cannot install, a revision of that name that
// belongs to something else, an older tag holding the name, an InPlace change that skips a minor.
func TestForIstio(t *testing.T) {
	inPlace := func(version string) *v1.Istio {
		i := istio("default", v1.UpdateStrategyInPlace, version)
		i.UID = "uid-istio"
		i.Spec.Namespace = DefaultIstioNamespace
		return i
	}
	other := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "uid-other"}}
	skipAllowed := inPlace(v131)
	skipAllowed.Annotations = map[string]string{AnnotationAllowMinorSkip: "true"}
	cases := []struct {
		name     string
		istio    *v1.Istio
		facts    *Facts
		reason   string
		existing bool
		// err, when set, is the type the refusal must wrap.
		err any
	}{
		{name: "nothing there yet", istio: inPlace(v127), facts: facts(nil)},
		{name: "its own revision", istio: inPlace(v127), facts: facts(nil, ownedBy(revision("default", v127, 10), inPlace(v127))), existing: true},
		{name: "a revision a restore left without its owner is taken back", istio: inPlace(v127), facts: facts(nil, revision("default", v127, 10)), existing: true},
		{name: "a revision another Istio owns", istio: inPlace(v127), facts: facts(nil, ownedBy(revision("default", v127, 10), other)),
			reason: v1.ReasonReconcileError, err: new(*RevisionConflictError)},
		{name: "an older tag holds the name", istio: inPlace(v127), facts: facts(nil, tagOf("default", v1.KindIstioRevision, "x", 5)),
			reason: v1.ReasonNameAlreadyExists, err: new(*NameConflictError)},
		{name: "its revision is older than the tag", istio: inPlace(v127),
			facts:    facts(nil, ownedBy(revision("default", v127, 5), inPlace(v127)), tagOf("default", v1.KindIstioRevision, "x", 10)),
			existing: true},
		{name: "one minor up in place", istio: inPlace(v127), facts: facts(nil, ownedBy(revision("default", "v1.26.3", 10), inPlace(v127))), existing: true},
		{name: "two minors up in place", istio: inPlace(v131), facts: facts(nil, ownedBy(revision("default", v127, 10), inPlace(v131))),
			reason: v1.ReasonVersionChangeNotAllowed, existing: true, err: new(*MinorSkipError)},
		{name: "two minors up in place, allowed by annotation", istio: skipAllowed, facts: facts(nil, ownedBy(revision("default", v127, 10), skipAllowed)), existing: true},
		{name: "a running version whose minor cannot be told", istio: inPlace(v127), facts: facts(nil, ownedBy(revision("default", "nightly", 10), inPlace(v127))),
			reason: v1.ReasonVersionChangeNotAllowed, existing: true},
		{name: "an end-of-life version", istio: inPlace("v1.24.3"), facts: facts(nil), reason: v1.ReasonReconcileError, err: new(*catalog.EndOfLifeError)},
		{name: "a version the catalog does not know", istio: inPlace("v1.19.0"), facts: facts(nil), reason: v1.ReasonReconcileError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := testEnv().ForIstio(tc.istio, tc.facts)
			if got := reasonOf(plan.Refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, plan.Refusal, tc.reason)
			}
			if tc.err != nil && !errors.As(errOf(plan.Refusal), tc.err) {
				t.Errorf("the refusal %v does not wrap a %T", plan.Refusal, tc.err)
			}
			if plan.Refusal != nil {
				return
			}
			if plan.Revision == nil || plan.Revision.Name != "default" || string(plan.Revision.Spec.Version) != string(tc.istio.Spec.Version) {
				t.Errorf("revision %+v, want default on %s", plan.Revision, tc.istio.Spec.Version)
			}
			if (plan.Existing != nil) != tc.existing {
				t.Errorf("existing %v, want %t", plan.Existing, tc.existing)
			}
		})
	}
}

// TestPrune: only a revision unused for the whole grace period, and unused still when its use is
// evaluated afresh, is deleted; in use, unknown or missing usage keeps it
// (docs/architecture.md#lesson-unknown-is-in-use); within the grace period bosun looks again when it
// ends, without evaluating anything. A control plane that serves other clusters is pruned by the same
// rule: its conditions count those clusters' workloads (docs/architecture.md#lesson-remote-revisions).
func TestPrune(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	grace := int64(30)
	local := &v1.Istio{Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{InactiveRevisionDeletionGracePeriodSeconds: &grace}}}
	external := func(values *v1.Values) *v1.Istio {
		i := local.DeepCopy()
		i.Spec.Values = values
		return i
	}
	yes := true
	byGlobal := external(&v1.Values{Global: &v1.GlobalConfig{ExternalIstiod: &yes}})
	byEnv := external(&v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "true"}}})
	withInUse := func(status metav1.ConditionStatus, since time.Time) *v1.IstioRevision {
		rev := &v1.IstioRevision{}
		if status != "" {
			rev.Status.Conditions = []metav1.Condition{{Type: v1.ConditionInUse, Status: status, LastTransitionTime: metav1.NewTime(since)}}
		}
		return rev
	}
	longUnused := withInUse(metav1.ConditionFalse, now.Add(-time.Hour))
	unused := metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionFalse, Reason: v1.ReasonNotReferencedByAnything}
	back := metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionTrue, Reason: v1.ReasonReferencedByWorkloads, Message: "Referenced by 1 pod"}
	unknown := metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionUnknown, Reason: v1.ReasonUsageCheckFailed, Message: "the cache is not synced"}
	cases := []struct {
		name        string
		istio       *v1.Istio
		rev         *v1.IstioRevision
		wantDelete  bool
		wantRecheck time.Duration
		// now is the use evaluated afresh; the zero Condition means it must not be asked for.
		now metav1.Condition
	}{
		{"in use", local, withInUse(metav1.ConditionTrue, now.Add(-time.Hour)), false, 0, metav1.Condition{}},
		{"usage unknown", local, withInUse(metav1.ConditionUnknown, now.Add(-time.Hour)), false, 0, metav1.Condition{}},
		{"usage not reported yet", local, withInUse("", now), false, 0, metav1.Condition{}},
		{"unused for a moment", local, withInUse(metav1.ConditionFalse, now.Add(-10*time.Second)), false, 21 * time.Second, metav1.Condition{}},
		{"unused for exactly the grace period, which the recorded second may shorten", local, withInUse(metav1.ConditionFalse, now.Add(-30*time.Second)), false, time.Second, metav1.Condition{}},
		{"unused for longer than the grace period", local, withInUse(metav1.ConditionFalse, now.Add(-31*time.Second)), true, 0, unused},
		{"unused for longer than the grace period, but a workload came back", local, withInUse(metav1.ConditionFalse, now.Add(-31*time.Second)), false, 0, back},
		{"unused for longer than the grace period, but its use cannot be told now", local, withInUse(metav1.ConditionFalse, now.Add(-31*time.Second)), false, 0, unknown},
		// What another cluster's workloads do is in the conditions (internal/remote): Prune does not
		// guess beyond them.
		{"unused here and in every other cluster for an hour (global.externalIstiod)", byGlobal, longUnused, true, 0, unused},
		{"unused for an hour, and another cluster's use cannot be told now (EXTERNAL_ISTIOD)", byEnv, longUnused, false, 0, unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Prune(tc.istio, tc.rev, now, func() metav1.Condition {
				if tc.now.Type == "" {
					t.Error("the use was evaluated afresh for a revision that is not to be deleted")
				}
				return tc.now
			})
			if d.Delete != tc.wantDelete || d.RecheckAfter != tc.wantRecheck {
				t.Errorf("Prune = %+v, want delete %t, recheck after %s", d, tc.wantDelete, tc.wantRecheck)
			}
			if !d.Delete && d.Why == "" {
				t.Error("a revision kept without a reason for the log")
			}
		})
	}
}

func TestGracePeriod(t *testing.T) {
	seconds := func(s int64) *v1.Istio {
		return &v1.Istio{Spec: v1.IstioSpec{UpdateStrategy: &v1.IstioUpdateStrategy{InactiveRevisionDeletionGracePeriodSeconds: &s}}}
	}
	for _, tc := range []struct {
		istio *v1.Istio
		want  time.Duration
	}{
		{&v1.Istio{}, time.Duration(v1.DefaultRevisionDeletionGracePeriodSeconds) * time.Second},
		{seconds(60), time.Minute},
		{seconds(0), 0},
		{seconds(-5), 0},
	} {
		if got := GracePeriod(tc.istio); got != tc.want {
			t.Errorf("GracePeriod(%+v) = %s, want %s", tc.istio.Spec.UpdateStrategy, got, tc.want)
		}
	}
}

// TestServesRemoteClusters: an external istiod, by either of the values that make one, serves other
// clusters; an EXTERNAL_ISTIOD istiod cannot read as a bool counts as serving them, so that nothing is pruned on a guess.
func TestServesRemoteClusters(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name   string
		values *v1.Values
		want   bool
	}{
		{"no values", nil, false},
		{"global.externalIstiod true", &v1.Values{Global: &v1.GlobalConfig{ExternalIstiod: &yes}}, true},
		{"global.externalIstiod false", &v1.Values{Global: &v1.GlobalConfig{ExternalIstiod: &no}}, false},
		{"pilot.env.EXTERNAL_ISTIOD", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "true"}}}, true},
		{"pilot.env.EXTERNAL_ISTIOD false", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "false"}}}, false},
		{"pilot.env.EXTERNAL_ISTIOD 1, as istiod reads a bool", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "1"}}}, true},
		{"pilot.env.EXTERNAL_ISTIOD True", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "True"}}}, true},
		{"pilot.env.EXTERNAL_ISTIOD 0", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "0"}}}, false},
		{"pilot.env.EXTERNAL_ISTIOD not a bool: keep", &v1.Values{Pilot: &v1.PilotConfig{Env: map[string]string{"EXTERNAL_ISTIOD": "yes"}}}, true},
	} {
		if got := ServesRemoteClusters(tc.values); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.name, got, tc.want)
		}
	}
}

// TestCheckInPlaceStep: an InPlace revision moves one minor version at a time, up or down, unless the
// annotation allows more; the refusal names the versions it may go to.
func TestCheckInPlaceStep(t *testing.T) {
	cat, err := catalog.Parse([]byte(`default: v1.26.1
versions:
  - {name: v1.28.0, module: m, moduleVersion: v0}
  - {name: v1.27.2, module: m, moduleVersion: v0}
  - {name: v1.26.1, module: m, moduleVersion: v0}
  - {name: v1.25.0, module: m, moduleVersion: v0}
aliases:
  - {name: v1.27-latest, ref: v1.27.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	version := func(name string) catalog.Version {
		v, err := cat.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	plain := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	allowed := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Annotations: map[string]string{AnnotationAllowMinorSkip: "true"}}}
	for _, tc := range []struct {
		istio    *v1.Istio
		from, to string
		refused  bool
	}{
		{plain, "v1.26.1", "v1.27.2", false},
		{plain, "v1.26.1", "v1.25.0", false},
		{plain, "v1.26.1", "v1.26.1", false},
		{plain, "v1.26.1", "v1.28.0", true},
		{plain, "v1.28.0", "v1.26.1", true},
		{allowed, "v1.26.1", "v1.28.0", false},
	} {
		err := CheckInPlaceStep(tc.istio, version(tc.from), version(tc.to), cat)
		if (err != nil) != tc.refused {
			t.Errorf("%s → %s: error %v, want refused %v", tc.from, tc.to, err, tc.refused)
		}
		if err != nil && tc.from == "v1.26.1" {
			for _, want := range []string{"v1.27-latest", "v1.27.2", "v1.25.0", AnnotationAllowMinorSkip} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not name %q: %v", want, err)
				}
			}
		}
	}
}

// TestRetiring: only an older revision of an Istio whose spec asks for another is retiring; the active
// revision, a revision of an Istio bosun cannot decide, and a revision no Istio owns are not.
func TestRetiring(t *testing.T) {
	prod := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "u1"}, Spec: v1.IstioSpec{
		Version: v127, Namespace: DefaultIstioNamespace,
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased},
	}}
	broken := prod.DeepCopy()
	broken.Spec.Version = "v1.19.0"
	owned := func(name string, uid types.UID) *v1.IstioRevision {
		rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}}
		yes := true
		rev.OwnerReferences = []metav1.OwnerReference{{Kind: v1.KindIstio, Name: "prod", UID: uid, Controller: &yes}}
		return rev
	}
	for _, tc := range []struct {
		istio *v1.Istio
		rev   *v1.IstioRevision
		want  bool
	}{
		{prod, owned("prod-v1-25-0-snapshot-be4b14ad", "u1"), true},
		{prod, owned("prod-v1-27-0-snapshot-b9159ca3", "u1"), false},
		{prod, owned("prod-v1-25-0-snapshot-be4b14ad", "another-istio-of-that-name"), false},
		{prod, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "standalone"}}, false},
		{broken, owned("prod-v1-25-0-snapshot-be4b14ad", "u1"), false},
		{nil, owned("prod-v1-25-0-snapshot-be4b14ad", "u1"), false},
	} {
		f := facts(nil)
		if tc.istio != nil {
			f = facts(nil, tc.istio)
		}
		if got := testEnv().Retiring(tc.rev, f); got != tc.want {
			t.Errorf("revision %s (owner UID %v): retiring %t, want %t", tc.rev.Name, tc.rev.OwnerReferences, got, tc.want)
		}
	}
}
