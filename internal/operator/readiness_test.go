package operator

import (
	"net/http"
	"testing"
)

// TestReadyOnceTheVersionPoliciesAreInForce: the operator's readiness check holds the leader back
// until its version admission policies are installed (or failed to install), so that an Istio applied
// after `kubectl wait --for=condition=Available` gets its empty version defaulted; a replica that does
// not lead is ready at once, and so is one whose policies are done, leading or not.
func TestReadyOnceTheVersionPoliciesAreInForce(t *testing.T) {
	cases := []struct {
		name        string
		leads, done bool
		wantReady   bool
	}{
		{"not leading", false, false, true},
		{"leading, installing the policies", true, false, false},
		{"leading, policies done", true, true, true},
		{"no longer leading, policies done", false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := versionPolicies(nil, nil, nil)
			elected := make(chan struct{})
			if tc.leads {
				close(elected)
			}
			if tc.done {
				close(p.done)
			}
			err := p.ready(elected)(&http.Request{})
			if (err == nil) != tc.wantReady {
				t.Errorf("readiness %v, want ready %t", err, tc.wantReady)
			}
		})
	}
}
