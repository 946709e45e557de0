package revision

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestDependents: an IstioCNI or ZTunnel event re-checks only the revisions that need that
// component, and none when the component is managed outside bosun (field lesson #60).
func TestDependents(t *testing.T) {
	yes, ambient := true, "ambient"
	rev := func(name string, vals *v1.Values) *v1.IstioRevision {
		return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Values: vals}}
	}
	revs := []*v1.IstioRevision{
		rev("sidecar", nil),
		rev("with-cni", &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}),
		rev("ambient", &v1.Values{Profile: &ambient}),
		rev("ambient-cni", &v1.Values{Profile: &ambient, Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}),
	}
	cases := []struct {
		name     string
		platform values.Platform
		external Needs
		which    func(Needs) bool
		want     []string
	}{
		{"IstioCNI on Kubernetes", values.Kubernetes, Needs{}, NeedsCNI, []string{"with-cni", "ambient-cni"}},
		{"ZTunnel on Kubernetes", values.Kubernetes, Needs{}, NeedsZTunnel, []string{"ambient", "ambient-cni"}},
		{"IstioCNI on OpenShift: every revision that does not turn it off", values.OpenShift, Needs{}, NeedsCNI, []string{"sidecar", "with-cni", "ambient", "ambient-cni"}},
		{"CNI managed outside bosun", values.OpenShift, Needs{CNI: true}, NeedsCNI, nil},
		{"ztunnel managed outside bosun leaves the CNI's dependents", values.Kubernetes, Needs{ZTunnel: true}, NeedsCNI, []string{"with-cni", "ambient-cni"}},
		{"ztunnel managed outside bosun", values.Kubernetes, Needs{ZTunnel: true}, NeedsZTunnel, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Dependents(revs, tc.platform, tc.external, tc.which) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Dependents = %v, want %v", got, tc.want)
			}
		})
	}
}
