package testcluster

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestIstiodRunsWithTheConfigClusterItIsGiven: an istiod whose Secret istio-kubeconfig was mounted at
// the path its KUBECONFIG names (an external control plane) reads that cluster; any other istiod runs
// with the box's admin kubeconfig.
func TestIstiodRunsWithTheConfigClusterItIsGiven(t *testing.T) {
	r := &istiodRole{kubeconfig: "/box/admin.kubeconfig"}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery",
		Env: []corev1.EnvVar{{Name: "KUBECONFIG", Value: "/var/run/secrets/remote/config"}}}}}}
	workDir := t.TempDir()
	if got := r.configCluster(pod, workDir); got != r.kubeconfig {
		t.Errorf("without the Secret mounted: %s, want the admin's", got)
	}
	mounted := filepath.Join(workDir, "var", "run", "secrets", "remote", "config")
	if err := os.MkdirAll(filepath.Dir(mounted), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mounted, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := r.configCluster(pod, workDir); got != mounted {
		t.Errorf("with the Secret mounted: %s, want %s", got, mounted)
	}
}
