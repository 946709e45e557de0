package operator

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestTimingsThatCannotWorkAreRefused: leader election timings that could let two replicas lead at
// once (a leader that cannot renew still leads when its Lease expires; a lease of less than a second,
// which the Lease stores as 0 s) and an InUse refresh under a second are refused by New before it
// connects to anything, saying what to change. The defaults pass.
func TestTimingsThatCannotWorkAreRefused(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		lease   LeaseTimings
		refresh time.Duration
		want    string
	}{
		{LeaseTimings{60 * s, 45 * s, 20 * s}, 0, "the renew deadline (45s) plus the retry period (20s) must be shorter than the lease duration (1m0s)"},
		{LeaseTimings{60 * s, 40 * s, 20 * s}, 0, "must be shorter than the lease duration"},
		{LeaseTimings{15 * s, 14 * s, 12 * s}, 0, "the renew deadline (14s) must be longer than 1.2 times the retry period (12s)"},
		{LeaseTimings{900 * time.Millisecond, 500 * time.Millisecond, 200 * time.Millisecond}, 0, "must each be at least 1s"},
		{LeaseTimings{2500 * time.Millisecond, 1200 * time.Millisecond, time.Second}, 0, "the lease duration (2.5s) must be a whole number of seconds"},
		{LeaseTimings{60 * s, 0, 20 * s}, 0, "must each be at least 1s"},
		{LeaseTimings{}, 500 * time.Millisecond, "the InUse refresh interval (500ms) must be at least 1s"},
		{LeaseTimings{}, -s, "must be at least 1s"},
	} {
		_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{Lease: tc.lease, InUseRefreshInterval: tc.refresh})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lease %+v, refresh %s: error %v, want one saying %q", tc.lease, tc.refresh, err, tc.want)
		}
	}
	for _, ok := range []LeaseTimings{DefaultLease, {15 * s, 10 * s, 2 * s}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}
