package operator

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// TestTakeable: the elector may act on a Lease nobody holds or this replica holds at once, and on
// another's a lease duration after this replica first saw its record, not before.
func TestTakeable(t *testing.T) {
	seen := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	held := &rl.LeaderElectionRecord{HolderIdentity: "other", LeaseDurationSeconds: 60}
	for _, tc := range []struct {
		name        string
		rec         *rl.LeaderElectionRecord
		now         time.Time
		want        bool
		wantExpires time.Time
	}{
		{"released", &rl.LeaderElectionRecord{LeaseDurationSeconds: 1}, seen, true, time.Time{}},
		{"held by this replica", &rl.LeaderElectionRecord{HolderIdentity: "me", LeaseDurationSeconds: 60}, seen, true, time.Time{}},
		{"held, just seen", held, seen, false, seen.Add(time.Minute)},
		{"held, a moment before expiry", held, seen.Add(time.Minute - time.Millisecond), false, seen.Add(time.Minute)},
		{"held, at expiry", held, seen.Add(time.Minute), true, seen.Add(time.Minute)},
		{"held, long expired", held, seen.Add(time.Hour), true, seen.Add(time.Minute)},
	} {
		got, expires := takeable(tc.rec, "me", seen, tc.now)
		if got != tc.want || !expires.Equal(tc.wantExpires) {
			t.Errorf("%s: takeable = %v, expires %s; want %v, %s", tc.name, got, expires, tc.want, tc.wantExpires)
		}
	}
}

// TestOffered: the elector is shown an expired Lease as nobody's, so that it takes it in the try under
// way; a released Lease, or this replica's, as it is.
func TestOffered(t *testing.T) {
	now := metav1.Now()
	expired := &rl.LeaderElectionRecord{HolderIdentity: "other", LeaseDurationSeconds: 60, RenewTime: now, LeaderTransitions: 3}
	got := offered(expired, "me")
	if got.HolderIdentity != "" || got.LeaseDurationSeconds != 60 || !got.RenewTime.Equal(&now) || got.LeaderTransitions != 3 {
		t.Errorf("an expired Lease is offered as %+v, want it unchanged but for an empty holder", got)
	}
	if expired.HolderIdentity != "other" {
		t.Errorf("offered changed the record it was given")
	}
	for _, rec := range []*rl.LeaderElectionRecord{{LeaseDurationSeconds: 1}, {HolderIdentity: "me", LeaseDurationSeconds: 60}} {
		if got := offered(rec, "me"); got != rec {
			t.Errorf("%+v is offered as %+v, want it as it is", rec, got)
		}
	}
}

// TestSee: a record's first sighting is kept while the record stays the same, as client-go's elector
// keeps it; a different record starts the count again.
func TestSee(t *testing.T) {
	l := &handoverLock{}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := l.see([]byte(`{"a":1}`), t0); !got.Equal(t0) {
		t.Errorf("first sighting at %s, want %s", got, t0)
	}
	if got := l.see([]byte(`{"a":1}`), t0.Add(time.Minute)); !got.Equal(t0) {
		t.Errorf("the same record seen again moved its first sighting to %s", got)
	}
	if got := l.see([]byte(`{"a":2}`), t0.Add(2*time.Minute)); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("a new record's first sighting is %s, want %s", got, t0.Add(2*time.Minute))
	}
}

// shortLease are timings for the tests that wait for renewals or an expiry: a 6 s lease renewed every
// 2 s, so that such a test takes seconds rather than minutes.
var shortLease = LeaseTimings{Duration: 6 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 2 * time.Second}
