package testcluster

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
)

// TestOperatorArgs: a played operator keeps its container's arguments, with address flags naming a
// container port moved to that port's local address, the image's chart folder replaced, and the
// ServiceAccount's kubeconfig instead of any other.
func TestOperatorArgs(t *testing.T) {
	local := map[int32]string{8080: "127.0.0.1:40001", 8081: "127.0.0.1:40002"}
	in := []string{
		"--leader-elect=true", "--metrics-bind-address=:8080", "--health-probe-bind-address=0.0.0.0:8081",
		"--pprof-bind-address=:6060", "--resources-dir=/resources", "--versions-file=/tmp/v.yaml", "--kubeconfig=/elsewhere", "--log-json=true",
	}
	var out []string
	for _, a := range in {
		out = append(out, operatorArg(a, local, "/repo/resources")...)
	}
	want := []string{
		"--leader-elect=true", "--metrics-bind-address=127.0.0.1:40001", "--health-probe-bind-address=127.0.0.1:40002",
		"--pprof-bind-address=:6060", "--resources-dir=/repo/resources", "--versions-file=/tmp/v.yaml", "--log-json=true",
	}
	if !slices.Equal(out, want) {
		t.Errorf("arguments\n got %q\nwant %q", out, want)
	}
}

// TestOperatorRoleOutsideTheRepository: without the repository's charts (bosun-dev cluster run
// elsewhere, its programs named by environment variables) the box still starts, and the operator's
// pods stay fake, saying why.
func TestOperatorRoleOutsideTheRepository(t *testing.T) {
	t.Chdir(t.TempDir())
	c := &Cluster{config: &rest.Config{Host: "https://127.0.0.1:1"}, opts: Options{OperatorBinary: "/usr/local/bin/bosun-operator"}}
	r, err := c.newOperatorRole()
	if err != nil {
		t.Fatalf("newOperatorRole: %v; want the operator's pods fake, not a cluster that cannot start", err)
	}
	prog, why := r.program(t.Context(), &corev1.Pod{})
	if prog != nil || !strings.Contains(why, "OperatorResources") {
		t.Errorf("program = %v, %q; want none, and why naming Options.OperatorResources", prog, why)
	}
}
