package testcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestLogsWithZeroLinesDoesNotPanic: Cluster.Logs(0) (or a tail of 0 lines) must not crash the test
// binary that asks for it; it should print the headers and no lines.
func TestLogsWithZeroLinesDoesNotPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd.log")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("tailFile(path, 0) panicked: %v", r)
		}
	}()
	if got := tailFile(path, 0); got != "" {
		t.Errorf("tailFile(path, 0) = %q, want no lines", got)
	}
}

// TestIstiodVersionOfADigestPinnedImage: an image "repo:tag@sha256:..." has the tag 1.25.0
// (docs/istiod-in-the-box.md: "else its image tag"); the version must not be read from the digest.
func TestIstiodVersionOfADigestPinnedImage(t *testing.T) {
	r := istiodRoleWith(nil)
	pod := istiodPod("", "docker.io/istio/pilot:1.25.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if got := r.version(t.Context(), pod); got != "v1.25.0" {
		t.Errorf("version = %q, want v1.25.0", got)
	}
}

// TestEnvRefusesAMissingRequiredKey: a kubelet does not start a container whose env names a key
// missing from a ConfigMap (CreateContainerConfigError) unless the reference is optional.
func TestEnvRefusesAMissingRequiredKey(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "istio-system"}, Data: map[string]string{"mesh": "m"}}
	p, _, _ := testPlayer(t, &stubRole{}, cm)
	c := corev1.Container{Env: []corev1.EnvVar{{Name: "MESH", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "istio"}, Key: "absent",
	}}}}}
	env, err := p.env(t.Context(), fieldPod(), c, "/k")
	if err == nil || !strings.Contains(err.Error(), "env MESH") {
		t.Errorf("env = %q, %v; want an error naming MESH and the missing key", env, err)
	}
}
