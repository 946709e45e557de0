package apply

import (
	"testing"

	"github.com/Masterminds/semver/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-mesh/bosun/internal/render"
)

// TestNewerThanReadsTheVersionACRDSays: a live CRD is left alone only when the version it says, in
// bosun's annotation or else in the app.kubernetes.io/version label of Istio's charts, is newer than
// the one about to be applied; a CRD that says no readable version is taken over
// (docs/architecture.md#lesson-crds-move-forward).
func TestNewerThanReadsTheVersionACRDSays(t *testing.T) {
	want := semver.MustParse("v1.27.0-snapshot.b9159ca3")
	for _, tc := range []struct {
		name              string
		annotation, label string
		newer             bool
	}{
		{"bosun's CRD of a newer minor", "v1.31.0-snapshot.eed52ebb", "", true},
		{"bosun's CRD of the same version", "v1.27.0-snapshot.b9159ca3", "", false},
		{"bosun's CRD of an older minor", "v1.25.0-snapshot.be4b14ad", "", false},
		{"the release of the snapshot's version is newer than the snapshot", "v1.27.0", "", true},
		{"a newer patch", "v1.27.1", "", true},
		{"Helm's CRD with a newer version label", "", "1.28.0", true},
		{"Helm's CRD with an older version label", "", "1.26.2", false},
		{"bosun's annotation wins over the label", "v1.25.0-snapshot.be4b14ad", "1.99.0", false},
		{"no version at all", "", "", false},
		{"a version that is not one", "", "latest", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := &metav1.PartialObjectMetadata{}
			if tc.annotation != "" {
				live.Annotations = map[string]string{render.AnnotationIstioVersion: tc.annotation}
			}
			if tc.label != "" {
				live.Labels = map[string]string{labelAppVersion: tc.label}
			}
			if got := newerThan(live, want); got != tc.newer {
				t.Errorf("newerThan(%q/%q, %s) = %t, want %t", tc.annotation, tc.label, want, got, tc.newer)
			}
		})
	}
}
