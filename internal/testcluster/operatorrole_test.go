package testcluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestOperatorArgRewrites checks, one argument at a time, how a played
// operator's container argument is rewritten (beyond TestOperatorArgs): an
// address flag moves only when its port is a container port, whatever host
// it names; --resources-dir moves only from the image's folder; any
// --kubeconfig is dropped for the role's; everything else is kept as
// written, including arguments that are not --flag=value.
func TestOperatorArgRewrites(t *testing.T) {
	local := map[int32]string{8080: "127.0.0.1:40001", 8081: "127.0.0.1:40002"}
	tests := []struct {
		name, in string
		want     []string
	}{
		{"port only", "--metrics-bind-address=:8080", []string{"--metrics-bind-address=127.0.0.1:40001"}},
		{"any address", "--health-probe-bind-address=0.0.0.0:8081", []string{"--health-probe-bind-address=127.0.0.1:40002"}},
		{"IPv6 any address", "--metrics-bind-address=[::]:8080", []string{"--metrics-bind-address=127.0.0.1:40001"}},
		{"host name", "--metrics-bind-address=localhost:8081", []string{"--metrics-bind-address=127.0.0.1:40002"}},
		{"not a container port", "--pprof-bind-address=:6060", []string{"--pprof-bind-address=:6060"}},
		{"port 0 disables", "--metrics-bind-address=0", []string{"--metrics-bind-address=0"}},
		{"named port", "--metrics-bind-address=:metrics", []string{"--metrics-bind-address=:metrics"}},
		{"port out of range", "--metrics-bind-address=:4294975376", []string{"--metrics-bind-address=:4294975376"}},
		{"image's charts", "--resources-dir=/resources", []string{"--resources-dir=/repo/resources"}},
		{"other charts", "--resources-dir=/custom/charts", []string{"--resources-dir=/custom/charts"}},
		{"image's charts, trailing slash", "--resources-dir=/resources/", []string{"--resources-dir=/resources/"}},
		{"kubeconfig", "--kubeconfig=/etc/kubeconfig", nil},
		{"empty kubeconfig", "--kubeconfig=", nil},
		{"boolean", "--leader-elect", []string{"--leader-elect"}},
		{"value with =", "--zap-encoder=json=yes", []string{"--zap-encoder=json=yes"}},
		{"single dash", "-metrics-bind-address=:8080", []string{"-metrics-bind-address=:8080"}},
		{"positional", ":8080", []string{":8080"}},
		{"empty", "", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := operatorArg(tt.in, local, "/repo/resources"); !slices.Equal(got, tt.want) {
				t.Errorf("operatorArg(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestLocalAddress checks which values name a container port: [host]:port
// with a port the container declares, and nothing else.
func TestLocalAddress(t *testing.T) {
	local := map[int32]string{8080: "127.0.0.1:40001"}
	tests := []struct {
		value, want string
	}{
		{":8080", "127.0.0.1:40001"},
		{"0.0.0.0:8080", "127.0.0.1:40001"},
		{"[::1]:8080", "127.0.0.1:40001"},
		{":8081", ""},
		{"8080", ""},
		{":", ""},
		{":-8080", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := localAddress(tt.value, local)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("localAddress(%q) = %q, %v; want %q", tt.value, got, ok, tt.want)
		}
	}
}

// TestOperatorProgram checks that operator pods are played by the given
// executable, named bosun-operator in box.log, or stay fake with the reason
// the role was given.
func TestOperatorProgram(t *testing.T) {
	played := &operatorRole{binary: "/build/bosun-operator", resources: "/repo/resources"}
	prog, why := played.program(t.Context(), &corev1.Pod{})
	if prog == nil || prog.binary != "/build/bosun-operator" || prog.what != "bosun-operator" || why != "" {
		t.Errorf("program = %+v, %q; want /build/bosun-operator", prog, why)
	}
	fake := &operatorRole{binary: "/build/bosun-operator", fake: "no charts"}
	if prog, why := fake.program(t.Context(), &corev1.Pod{}); prog != nil || why != "no charts" {
		t.Errorf("program of a fake role = %+v, %q; want none, with its reason", prog, why)
	}
}

// TestNewOperatorRole checks how the box decides to play bosun's operator
// pods: without Options.OperatorBinary they stay fake and the reason names
// the option; with it they are played, with the charts of
// Options.OperatorResources or else the repository's resources/, and
// box.log says which executable plays them.
func TestNewOperatorRole(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		opts          Options
		wantFake      string
		wantResources string
	}{
		{name: "no executable", opts: Options{}, wantFake: "testcluster.Options.OperatorBinary"},
		{name: "no executable, charts given", opts: Options{OperatorResources: "/charts"}, wantFake: "testcluster.Options.OperatorBinary"},
		{name: "charts given", opts: Options{OperatorBinary: "/build/bosun-operator", OperatorResources: "/charts"}, wantResources: "/charts"},
		{name: "the repository's charts", opts: Options{OperatorBinary: "/build/bosun-operator"}, wantResources: filepath.Join(root, "resources")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, box := loggingCluster(t, tt.opts)
			r, err := c.newOperatorRole()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantFake != "" {
				if !strings.Contains(r.fake, tt.wantFake) {
					t.Errorf("fake = %q, want it to name %s", r.fake, tt.wantFake)
				}
				if strings.Contains(box(), "played by") {
					t.Errorf("box.log says operator pods are played:\n%s", box())
				}
				return
			}
			if r.fake != "" {
				t.Fatalf("operator pods stay fake: %s", r.fake)
			}
			if r.resources != tt.wantResources || r.binary != tt.opts.OperatorBinary {
				t.Errorf("played by %q with charts %q, want %q with %q", r.binary, r.resources, tt.opts.OperatorBinary, tt.wantResources)
			}
			if r.config != c.config {
				t.Error("the role does not ask the cluster's API server for tokens")
			}
			if got := box(); !strings.Contains(got, "operator: bosun's operator pods are played by /build/bosun-operator") {
				t.Errorf("box.log:\n%s", got)
			}
		})
	}
}

// TestShippedManifestIsPlayable runs the operator Deployment of
// deploy/bosun.yaml, which users and the end-to-end tests install on the
// box, through what the player does with it: its pods carry the played
// label, every address flag moves to a local port, the image's charts
// become the repository's, the readiness probe resolves to the health
// port's local address, and every downward-API field of its environment is
// supported.
func TestShippedManifestIsPlayable(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "bosun.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var deployment *appsv1.Deployment
	for _, doc := range strings.Split(string(data), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err == nil && d.Kind == "Deployment" {
			deployment = &d
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment in deploy/bosun.yaml")
	}
	tmpl := deployment.Spec.Template
	if tmpl.Labels[operatorLabel.key] != operatorLabel.value {
		t.Errorf("the operator's pods are labelled %v, so the box does not play them (it looks for %s)", tmpl.Labels, operatorLabel)
	}
	container := tmpl.Spec.Containers[0]
	local := map[int32]string{}
	for i, port := range container.Ports {
		local[port.ContainerPort] = fmt.Sprintf("127.0.0.1:%d", 41000+i)
	}
	var args []string
	for _, a := range container.Args {
		args = append(args, operatorArg(a, local, "/repo/resources")...)
	}
	for _, a := range args {
		_, value, _ := strings.Cut(a, "=")
		if _, port, err := net.SplitHostPort(value); err == nil && !strings.HasPrefix(value, "127.0.0.1:41") {
			t.Errorf("argument %q still names port %s of the container, which other pods on this machine share", a, port)
		}
	}
	if !slices.Contains(args, "--resources-dir=/repo/resources") {
		t.Errorf("arguments %q do not read the repository's charts", args)
	}
	url := readinessURL(container, local)
	if !strings.HasPrefix(url, "http://127.0.0.1:41") || !strings.HasSuffix(url, container.ReadinessProbe.HTTPGet.Path) {
		t.Errorf("readiness probe URL %q, want the health port's local address", url)
	}
	pod := &corev1.Pod{}
	for _, e := range container.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			if _, ok := podField(pod, e.ValueFrom.FieldRef.FieldPath); !ok {
				t.Errorf("env %s reads %s, which the player does not support", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		}
	}
}
