package istio

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
)

func revisionWithInUse(status metav1.ConditionStatus, since time.Time) *v1.IstioRevision {
	rev := &v1.IstioRevision{}
	if status != "" {
		rev.Status.Conditions = []metav1.Condition{{Type: v1.ConditionInUse, Status: status, LastTransitionTime: metav1.NewTime(since)}}
	}
	return rev
}

// TestPrune: only a revision unused for the whole grace period is deleted; in use, unknown or missing
// usage keeps it (field lesson #27); within the grace period bosun looks again when it ends.
func TestPrune(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	grace := 30 * time.Second
	cases := []struct {
		name        string
		rev         *v1.IstioRevision
		wantDelete  bool
		wantRecheck time.Duration
	}{
		{"in use", revisionWithInUse(metav1.ConditionTrue, now.Add(-time.Hour)), false, 0},
		{"usage unknown (#27)", revisionWithInUse(metav1.ConditionUnknown, now.Add(-time.Hour)), false, 0},
		{"usage not reported yet (#27)", revisionWithInUse("", now), false, 0},
		{"unused for a moment", revisionWithInUse(metav1.ConditionFalse, now.Add(-10*time.Second)), false, 21 * time.Second},
		{"unused for exactly the grace period, which the recorded second may shorten", revisionWithInUse(metav1.ConditionFalse, now.Add(-grace)), false, time.Second},
		{"unused for longer than the grace period", revisionWithInUse(metav1.ConditionFalse, now.Add(-grace-time.Second)), true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Prune(tc.rev, grace, now)
			if d.Delete != tc.wantDelete || d.RecheckAfter != tc.wantRecheck {
				t.Errorf("Prune = %+v, want delete %v, recheck after %s", d, tc.wantDelete, tc.wantRecheck)
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
		{&v1.Istio{}, 30 * time.Second},
		{seconds(120), 120 * time.Second},
		{seconds(0), 0},
		{seconds(-5), 0},
	} {
		if got := GracePeriod(tc.istio); got != tc.want {
			t.Errorf("GracePeriod(%+v) = %s, want %s", tc.istio.Spec.UpdateStrategy, got, tc.want)
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
					t.Errorf("the refusal %q does not name %s", err, want)
				}
			}
		}
	}
}
