package inuse

import (
	"testing"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestDependenciesOf: a control plane uses the CNI when its values ask for it, or on OpenShift unless
// they turn it off; ztunnel in ambient mode, by profile or by pilot's environment.
func TestDependenciesOf(t *testing.T) {
	yes, no, ambient, enable := true, false, "ambient", map[string]string{"PILOT_ENABLE_AMBIENT": "true"}
	withCNI := func(b *bool) *v1.Values {
		return &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: b}}}
	}
	cases := []struct {
		name     string
		values   *v1.Values
		platform values.Platform
		want     Needs
	}{
		{"plain Kubernetes", nil, values.Kubernetes, Needs{}},
		{"CNI asked for", withCNI(&yes), values.Kubernetes, Needs{CNI: true}},
		{"OpenShift needs the CNI", nil, values.OpenShift, Needs{CNI: true}},
		{"OpenShift with the CNI turned off", withCNI(&no), values.OpenShift, Needs{}},
		{"ambient profile", &v1.Values{Profile: &ambient}, values.Kubernetes, Needs{ZTunnel: true}},
		{"ambient by env", &v1.Values{Pilot: &v1.PilotConfig{Env: enable}}, values.Kubernetes, Needs{ZTunnel: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Values: tc.values}}
			if got := DependenciesOf(rev, tc.platform); got != tc.want {
				t.Errorf("DependenciesOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
