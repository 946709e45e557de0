package revision

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

func TestName(t *testing.T) {
	cases := []struct {
		name, strategy, version, want string
	}{
		{"default", "", "v1.24.3", "default"},
		{"default", v1.UpdateStrategyInPlace, "v1.24.3", "default"},
		{"default", v1.UpdateStrategyRevisionBased, "v1.24.3", "default-v1-24-3"},
		{"default", v1.UpdateStrategyRevisionBased, "1.24.4", "default-v1-24-4"},
		{"prod", v1.UpdateStrategyRevisionBased, "v1.27-latest", "prod-v1-27-latest"},
		{"prod", v1.UpdateStrategyRevisionBased, "v1.27.0-snapshot.b9159ca3", "prod-v1-27-0-snapshot-b9159ca3"},
	}
	for _, tc := range cases {
		istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: v1.IstioSpec{Version: v1.IstioVersion(tc.version)}}
		if tc.strategy != "" {
			istio.Spec.UpdateStrategy = &v1.IstioUpdateStrategy{Type: tc.strategy}
		}
		if got := Name(istio); got != tc.want {
			t.Errorf("Name(%s, %q, %s) = %s, want %s", tc.name, tc.strategy, tc.version, got, tc.want)
		}
	}
}
