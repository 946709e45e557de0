//go:build e2e

package testcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// waitTimeout bounds every wait for the cluster to converge. Convergence
// takes seconds; the margin is for a loaded two-core machine.
const waitTimeout = 2 * time.Minute

// TestKubeVersionMatchesClusterBins guards against bumping Kubernetes in
// hack/clusterbins without bumping KubeVersion: the programs would then be
// built into a directory this package does not look in.
func TestKubeVersionMatchesClusterBins(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "hack", "clusterbins", "programs", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var required string
	for s := bufio.NewScanner(f); s.Scan(); {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			required = fields[1]
		}
	}
	if required != KubeVersion {
		t.Errorf("hack/clusterbins/programs/go.mod requires k8s.io/kubernetes %q, KubeVersion is %q", required, KubeVersion)
	}
}

func TestStartWithoutBinariesSaysHowToBuildThem(t *testing.T) {
	_, err := Start(context.Background(), Options{BinDir: t.TempDir(), Full: true})
	if err == nil || !strings.Contains(err.Error(), "make cluster-bins") {
		t.Fatalf("Start with an empty BinDir: got error %v, want one that says to run make cluster-bins", err)
	}
}

// TestStartReportsAComponentThatExits checks that a component dying during
// startup fails Start at once, with that component's log in the error, and
// leaves nothing behind.
func TestStartReportsAComponentThatExits(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{etcdBin, apiServerBin} {
		script := "#!/bin/sh\necho " + name + ": cannot start >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Start(t.Context(), Options{BinDir: bin})
	if err == nil {
		t.Fatal("Start with an etcd that exits: got no error")
	}
	for _, want := range []string{"etcd exited", "exit status 3", "etcd: cannot start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error does not contain %q:\n%v", want, err)
		}
	}
	// The error names the log file, in the cluster directory.
	logPath := regexp.MustCompile(`\S+/etcd\.log`).FindString(err.Error())
	if logPath == "" {
		t.Fatal("Start error does not name etcd's log file")
	}
	if _, err := os.Stat(filepath.Dir(logPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s after a failed Start: %v, want it removed", filepath.Dir(logPath), err)
	}
}

func TestStartRefusesNodesWithoutFull(t *testing.T) {
	if _, err := Start(context.Background(), Options{Nodes: 1}); err == nil {
		t.Fatal("Start with Nodes but not Full: got no error")
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{name: "fewer lines than asked", content: "a\nb\n", n: 5, want: "a\nb\n"},
		{name: "last lines", content: "a\nb\nc\nd\n", n: 2, want: "c\nd\n"},
		{name: "no final newline", content: "a\nb\nc", n: 2, want: "b\nc\n"},
		{name: "empty", content: "", n: 3, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := (&process{logPath: path}).tail(tt.n); got != tt.want {
				t.Errorf("tail(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

// TestRemoveAbandoned checks that the directory of a cluster whose test
// binary died is cleaned up, and that nothing else is.
func TestRemoveAbandoned(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := strconv.Itoa(dead.ProcessState.Pid())

	parent := t.TempDir()
	tests := []struct {
		name, owner string
		wantKept    bool
	}{
		{name: dirPrefix + "abandoned", owner: deadPID, wantKept: false},
		{name: dirPrefix + "running", owner: strconv.Itoa(os.Getpid()), wantKept: true},
		{name: dirPrefix + "starting", owner: "", wantKept: true},
		{name: "someone-elses", owner: deadPID, wantKept: true},
	}
	for _, tt := range tests {
		dir := filepath.Join(parent, tt.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if tt.owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(tt.owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeAbandoned(parent)
	for _, tt := range tests {
		_, err := os.Stat(filepath.Join(parent, tt.name))
		if kept := err == nil; kept != tt.wantKept {
			t.Errorf("%s (owner %q): kept = %v, want %v", tt.name, tt.owner, kept, tt.wantKept)
		}
	}
}

// TestAPIServerOnly checks the mode that integration tests use: the API
// server answers, through both Config and the kubeconfig file, and reports
// the Kubernetes version the programs were built as.
func TestAPIServerOnly(t *testing.T) {
	c := start(t, Options{})

	fromFile, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*rest.Config{"Config": c.Config(), "kubeconfig": fromFile} {
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		version, err := client.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("server version through %s: %v", name, err)
		}
		if version.GitVersion != KubeVersion {
			t.Errorf("server version through %s = %q, want %q", name, version.GitVersion, KubeVersion)
		}
	}
}

// TestFullCluster checks that a full cluster behaves like a real one for
// what bosun relies on: fake nodes become Ready, Deployments and DaemonSets
// roll out, `kubectl rollout restart` completes, and Stop leaves nothing
// behind.
func TestFullCluster(t *testing.T) {
	const nodes = 3
	c := start(t, Options{Full: true, Nodes: nodes})
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	nodeList, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for i := range nodeList.Items {
		if nodeReady(&nodeList.Items[i]) {
			ready++
		}
	}
	if ready != nodes {
		t.Fatalf("%d of %d nodes are Ready after Start", ready, nodes)
	}

	deployments := client.AppsV1().Deployments(metav1.NamespaceDefault)
	if _, err := deployments.Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	daemonSets := client.AppsV1().DaemonSets(metav1.NamespaceDefault)
	if _, err := daemonSets.Create(ctx, daemonSet("agent"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Deployment web to be available", func(ctx context.Context) error {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		return rolledOut(d)
	})
	waitUntil(t, "DaemonSet agent to have a ready pod on every node", func(ctx context.Context) error {
		ds, err := daemonSets.Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ds.Status.NumberReady != nodes || ds.Status.DesiredNumberScheduled != nodes {
			return fmt.Errorf("desired %d, ready %d", ds.Status.DesiredNumberScheduled, ds.Status.NumberReady)
		}
		return nil
	})

	// A rollout restart, as kubectl does it: a new pod template annotation,
	// which makes a new ReplicaSet that replaces every pod.
	before, err := replicaSetsOf(ctx, client, "web")
	if err != nil {
		t.Fatal(err)
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`,
		time.Now().Format(time.RFC3339))
	if _, err := deployments.Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the restart of Deployment web to complete", func(ctx context.Context) error {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := rolledOut(d); err != nil {
			return err
		}
		after, err := replicaSetsOf(ctx, client, "web")
		if err != nil {
			return err
		}
		for name := range after {
			if _, old := before[name]; !old {
				return nil
			}
		}
		return errors.New("no new ReplicaSet")
	})

	pids := make([]int, 0, len(c.processes))
	for _, p := range c.processes {
		pids = append(pids, p.pid())
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, pid := range pids {
		waitUntil(t, fmt.Sprintf("process %d to be gone", pid), func(context.Context) error {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("kill(%d, 0) = %v", pid, err)
			}
			return nil
		})
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s after Stop: %v, want it removed", c.Dir(), err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// rolledOut returns nil when d's rollout is complete, by the rules of
// `kubectl rollout status`: the controller has seen the latest spec, and
// every replica is updated and available with no old ones left.
func rolledOut(d *appsv1.Deployment) error {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.Replicas != want || s.AvailableReplicas != want {
		return fmt.Errorf("generation %d observed %d, replicas %d updated %d available %d, want %d",
			d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, want)
	}
	return nil
}

// replicaSetsOf returns the names of the ReplicaSets owned by Deployment name
// in the default namespace.
func replicaSetsOf(ctx context.Context, client kubernetes.Interface, name string) (map[string]bool, error) {
	list, err := client.AppsV1().ReplicaSets(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, rs := range list.Items {
		if owner := metav1.GetControllerOf(&rs); owner != nil && owner.Kind == "Deployment" && owner.Name == name {
			names[rs.Name] = true
		}
	}
	return names, nil
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels),
		},
	}
}

func daemonSet(name string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels),
		},
	}
}

// podTemplate runs an image that no fake node ever pulls.
func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// waitUntil polls cond until it returns nil, failing the test with cond's
// last error after waitTimeout.
func waitUntil(t *testing.T, what string, cond func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %v)", what, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// start starts a cluster for one test of this package. The package's own tests cannot use
// clustertest.Start, which imports this package; this is the same minus the startup log.
func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs (%s):\n%s", c.Dir(), c.Logs(50))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	return c
}
