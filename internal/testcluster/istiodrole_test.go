package testcluster

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/rest"
)

// istioRevision is an IstioRevision as the API server returns it, with
// spec.version set unless version is empty.
func istioRevision(name, version string) *unstructured.Unstructured {
	spec := map[string]any{"namespace": "istio-system"}
	if version != "" {
		spec["version"] = version
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sailoperator.io/v1",
		"kind":       "IstioRevision",
		"metadata":   map[string]any{"name": name},
		"spec":       spec,
	}}
}

// istiodRoleWith is an istiod role whose cluster holds revisions and whose
// builds are bins.
func istiodRoleWith(bins istiodBinaries, revisions ...runtime.Object) *istiodRole {
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{istioRevisionResource: "IstioRevisionList"}, revisions...)
	return &istiodRole{dynamic: client, bins: bins, kubeconfig: "/box/kubeconfig"}
}

// istiodPod is an istiod pod of revision rev (no label if empty) running
// image.
func istiodPod(rev, image string) *corev1.Pod {
	labels := map[string]string{"app": "istiod"}
	if rev != "" {
		labels["istio.io/rev"] = rev
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-1", Namespace: "istio-system", Labels: labels}}
	if image != "" {
		pod.Spec.Containers = []corev1.Container{{Name: "discovery", Image: image}}
	}
	return pod
}

// TestIstiodVersion checks which Istio version an istiod pod is played as:
// its IstioRevision's spec.version, found through the pod's istio.io/rev
// label, so a patch version plays the build its revision asks for; else the
// tag of its image, with a v; else none.
func TestIstiodVersion(t *testing.T) {
	r := istiodRoleWith(nil,
		istioRevision("default", "v1.24.3"),
		istioRevision("canary", "v1.25.0-snapshot.be4b14ad"),
		istioRevision("unversioned", ""),
	)
	tests := []struct {
		name, rev, image, want string
	}{
		{"revision's version", "default", "docker.io/istio/pilot:1.99.0", "v1.24.3"},
		{"another revision", "canary", "docker.io/istio/pilot:1.25.0", "v1.25.0-snapshot.be4b14ad"},
		{"revision not found", "gone", "docker.io/istio/pilot:1.26.1", "v1.26.1"},
		{"revision without a version", "unversioned", "docker.io/istio/pilot:1.26.1", "v1.26.1"},
		{"no revision label", "", "docker.io/istio/pilot:1.26.1", "v1.26.1"},
		{"tag with its v", "", "gcr.io/istio-release/pilot:v1.27.0", "v1.27.0"},
		{"registry with a port, no tag", "", "localhost:5000/istio/pilot", ""},
		{"registry with a port and a tag", "", "localhost:5000/istio/pilot:1.25.2-distroless", "v1.25.2-distroless"},
		{"no tag", "", "docker.io/istio/pilot", ""},
		{"no container", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.version(t.Context(), istiodPod(tt.rev, tt.image)); got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestIstiodProgram checks the decision a user sees in box.log: a pod whose
// version has a build (or a build of its minor) is played by it, named with
// its version; any other pod stays fake, and the reason names the version.
func TestIstiodProgram(t *testing.T) {
	r := istiodRoleWith(istiodBinaries{"v1.25.0-snapshot.be4b14ad": "/bin/istiod/1.25/pilot-discovery"},
		istioRevision("default", "v1.24.3"))

	prog, why := r.program(t.Context(), istiodPod("default", "docker.io/istio/pilot:1.24.3"))
	if prog == nil || prog.binary != "/bin/istiod/1.25/pilot-discovery" || prog.what != "pilot-discovery v1.24.3" || why != "" {
		t.Errorf("program of a 1.24.3 pod = %+v, %q; want the 1.25 build, named pilot-discovery v1.24.3", prog, why)
	}

	prog, why = r.program(t.Context(), istiodPod("", "docker.io/istio/pilot:1.23.0"))
	if prog != nil || why != `no pilot-discovery built for Istio "v1.23.0"` {
		t.Errorf("program of a 1.23.0 pod = %+v, %q; want none, saying which version has no build", prog, why)
	}
	prog, why = r.program(t.Context(), istiodPod("", ""))
	if prog != nil || !strings.Contains(why, `Istio ""`) {
		t.Errorf("program of a pod without a version = %+v, %q; want none", prog, why)
	}
}

// TestIstiodArgs checks how istiod's container arguments are adjusted: the
// container's own come first and stay; every listener pilot-discovery has a
// flag for moves to its local address, in port order; other container
// ports add nothing; ctrlz gets a port of its own; the process uses the
// box's kubeconfig and drains for a second only.
func TestIstiodArgs(t *testing.T) {
	r := &istiodRole{kubeconfig: "/box/kubeconfig"}
	local := map[int32]string{
		15017: "127.0.0.1:40005",
		8080:  "127.0.0.1:40001",
		15010: "127.0.0.1:40002",
		15012: "127.0.0.1:40003",
		15014: "127.0.0.1:40004",
		15090: "127.0.0.1:40006", // a port pilot-discovery has no flag for
	}
	in := []string{"discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local"}
	got, kubeconfig, err := r.args(t.Context(), &corev1.Pod{}, slices.Clone(in), local, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if kubeconfig != "/box/kubeconfig" {
		t.Errorf("kubeconfig %q, want the box's admin kubeconfig", kubeconfig)
	}
	if !slices.Equal(got[:len(in)], in) {
		t.Errorf("the container's arguments changed: %q", got[:len(in)])
	}
	added := got[len(in):]
	want := []string{
		"--httpAddr=127.0.0.1:40001",
		"--grpcAddr=127.0.0.1:40002",
		"--secureGRPCAddr=127.0.0.1:40003",
		"--monitoringAddr=127.0.0.1:40004",
		"--httpsAddr=127.0.0.1:40005",
		"--kubeconfig=/box/kubeconfig",
	}
	if len(added) != len(want)+2 || !slices.Equal(added[:len(want)], want) {
		t.Fatalf("added arguments %q, want %q then ctrlz and shutdown", added, want)
	}
	ctrlz, ok := strings.CutPrefix(added[len(want)], "--ctrlz_port=")
	if port, err := strconv.Atoi(ctrlz); !ok || err != nil || port <= 0 || port > 65535 {
		t.Errorf("ctrlz argument %q, want --ctrlz_port=<a free port>", added[len(want)])
	}
	if last := added[len(added)-1]; last != "--shutdownDuration=1s" {
		t.Errorf("last argument %q, want --shutdownDuration=1s", last)
	}
	// Flags given later win in pilot-discovery, so the container's own
	// --monitoringAddr=:15014 is overridden by the local one.
	if i, j := slices.Index(got, "--monitoringAddr=:15014"), slices.Index(got, "--monitoringAddr=127.0.0.1:40004"); i > j {
		t.Errorf("the local --monitoringAddr comes before the container's: %q", got)
	}
}

// TestIstiodArgsNeedTheWebhookPort checks that an istiod container without
// port 15017 is not started: the API server could never reach its
// webhooks, and the error says so.
func TestIstiodArgsNeedTheWebhookPort(t *testing.T) {
	r := &istiodRole{kubeconfig: "/box/kubeconfig"}
	_, _, err := r.args(t.Context(), &corev1.Pod{}, nil, map[int32]string{8080: "127.0.0.1:40001"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no webhook port 15017") {
		t.Errorf("args without port 15017: %v, want an error naming the webhook port", err)
	}
}

// TestPilotListenersAreIstiodsPorts checks the ports the istiod role moves
// against the ports of istiod's chart, so a pod's every listener gets a
// flag: HTTP (readiness), XDS plain and TLS, monitoring, webhooks.
func TestPilotListenersAreIstiodsPorts(t *testing.T) {
	want := map[int32]string{8080: "--httpAddr", 15010: "--grpcAddr", 15012: "--secureGRPCAddr", 15014: "--monitoringAddr", 15017: "--httpsAddr"}
	if len(pilotListeners) != len(want) {
		t.Errorf("pilotListeners %v, want %v", pilotListeners, want)
	}
	for port, flag := range want {
		if pilotListeners[port] != flag {
			t.Errorf("port %d moves with %q, want %q", port, pilotListeners[port], flag)
		}
	}
}

// TestNewIstiodRoleSaysWhatPlaysIstiod checks the first lines of box.log
// about istiod: which builds play its pods, sorted, or that none was built
// and how to build them.
func TestNewIstiodRoleSaysWhatPlaysIstiod(t *testing.T) {
	t.Run("none built", func(t *testing.T) {
		c, box := loggingCluster(t, Options{IstiodBinDir: filepath.Join(t.TempDir(), "istiod")})
		r, err := c.newIstiodRole()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.bins) != 0 {
			t.Errorf("builds %v in an empty directory", r.bins)
		}
		if got := box(); !strings.Contains(got, "istiod: no pilot-discovery built (run `make istiod-bins`): istiod pods stay fake") {
			t.Errorf("box.log:\n%s", got)
		}
	})
	t.Run("two built", func(t *testing.T) {
		dir := t.TempDir()
		for _, v := range []string{"v1.31.0-snapshot.eed52ebb", "v1.25.0-snapshot.be4b14ad"} {
			if err := os.MkdirAll(filepath.Join(dir, v), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, v, "pilot-discovery"), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		c, box := loggingCluster(t, Options{IstiodBinDir: dir})
		r, err := c.newIstiodRole()
		if err != nil {
			t.Fatal(err)
		}
		if r.kubeconfig != c.kubeconfig {
			t.Errorf("istiod runs with %q, want the box's admin kubeconfig %q", r.kubeconfig, c.kubeconfig)
		}
		if got := box(); !strings.Contains(got, "istiod: pods are played by pilot-discovery v1.25.0-snapshot.be4b14ad, v1.31.0-snapshot.eed52ebb") {
			t.Errorf("box.log:\n%s", got)
		}
	})
}

// loggingCluster is a Cluster that is not started, with a box log and
// Options.Log, for the parts of the box that only log and decide. The
// returned function reads the box log.
func loggingCluster(t *testing.T, opts Options) (*Cluster, func() string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, boxLogName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if opts.Log == nil {
		opts.Log = &syncBuffer{}
	}
	c := &Cluster{
		opts:       opts,
		dir:        dir,
		config:     &rest.Config{Host: "https://127.0.0.1:1"},
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		boxLog:     &lockedFile{f: f},
	}
	return c, func() string {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
}
