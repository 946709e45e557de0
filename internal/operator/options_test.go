package operator

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestLeaseTimingBoundaries: each rule of Validate holds at its boundary: a renew deadline of exactly
// 1.2 retry periods, or a renew deadline plus retry period of exactly the lease duration, is refused
// (the leader could still lead when another replica takes the Lease); the least timings past each
// boundary pass, and one second is the shortest of each.
func TestLeaseTimingBoundaries(t *testing.T) {
	s, ms := time.Second, time.Millisecond
	cases := []struct {
		name  string
		lease LeaseTimings
		// refused is what the error must say; empty means accepted.
		refused string
	}{
		{"the shortest retry and a renew deadline just past 1.2 of it", LeaseTimings{3 * s, 1201 * ms, s}, ""},
		{"a renew deadline of exactly 1.2 retry periods", LeaseTimings{20 * s, 6 * s, 5 * s}, "must be longer than 1.2 times the retry period (5s)"},
		{"a renew deadline equal to the retry period", LeaseTimings{10 * s, 2 * s, 2 * s}, "must be longer than 1.2 times"},
		{"renewal and retry exactly the lease duration", LeaseTimings{9 * s, 6 * s, 3 * s}, "must be shorter than the lease duration (9s)"},
		{"renewal and retry a millisecond under the lease duration", LeaseTimings{9 * s, 5999 * ms, 3 * s}, ""},
		{"a retry period under a second", LeaseTimings{10 * s, 3 * s, 999 * ms}, "must each be at least 1s"},
		{"a negative lease duration", LeaseTimings{-60 * s, 35 * s, 20 * s}, "must each be at least 1s"},
		{"a lease duration of whole seconds and a fraction", LeaseTimings{60*s + 500*ms, 35 * s, 20 * s}, "must be a whole number of seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.lease.Validate()
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("%+v refused: %v", tc.lease, err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("%+v: error %v, want one saying %q", tc.lease, err, tc.refused)
			}
		})
	}
}

// TestNewRefusesOptionsBeforeConnecting: options that cannot work are refused by New with what to
// change, before it connects to anything; options that can (no lease timings, meaning the defaults; an
// InUse refresh of exactly a second; both node components managed elsewhere) pass validation and fail
// only on the unreachable API server.
func TestNewRefusesOptionsBeforeConnecting(t *testing.T) {
	unreachable := &rest.Config{Host: "https://127.0.0.1:1"}
	cases := []struct {
		name string
		o    Options
		// refused is what the error must say; empty means the options pass and only connecting fails.
		refused string
	}{
		{"an unknown node component", Options{ExternalNodeComponents: []string{"cni", "istio-cni"}},
			`unknown node component "istio-cni": the node components are [cni ztunnel]`},
		{"a component named in upper case", Options{ExternalNodeComponents: []string{"ZTunnel"}}, `unknown node component "ZTunnel"`},
		{"timings that let two replicas lead", Options{Lease: LeaseTimings{Duration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 10 * time.Second}},
			"must be shorter than the lease duration (30s)"},
		{"an InUse refresh of 999ms", Options{InUseRefreshInterval: 999 * time.Millisecond}, "the InUse refresh interval (999ms) must be at least 1s"},
		{"defaults", Options{}, ""},
		{"an InUse refresh of exactly 1s", Options{InUseRefreshInterval: time.Second}, ""},
		{"both node components elsewhere", Options{ExternalNodeComponents: NodeComponents}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mgr, err := New(unreachable, tc.o)
			if mgr != nil || err == nil {
				t.Fatalf("New against an unreachable API server returned a manager (%v)", err)
			}
			if tc.refused == "" {
				for _, validation := range []string{"node component", "leader election", "refresh interval"} {
					if strings.Contains(err.Error(), validation) {
						t.Errorf("valid options refused: %v", err)
					}
				}
				return
			}
			if !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("error %v, want one saying %q", err, tc.refused)
			}
		})
	}
}
