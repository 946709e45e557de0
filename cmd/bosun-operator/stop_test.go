//go:build integration && unix

package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that runTests starts for the tests here, and
// kubeconfig is the file that names it, for bosun-operator run as a process.
var (
	cfg        *rest.Config
	kubeconfig string
)

func init() {
	runTests = func(m *testing.M) int {
		return clustertest.MainWith(m, testcluster.Options{}, func(c *testcluster.Cluster) error {
			cfg, kubeconfig = c.Config(), c.KubeconfigPath()
			return crd.Install(context.Background(), cfg, time.Minute)
		})
	}
}

// TestOperatorReleasesItsLeaseOnSIGTERM runs bosun-operator as a process with leader election, as
// the chart runs it, and sends it SIGTERM once it leads and is ready: it stops its controllers,
// releases its Lease (nobody holds it, so another replica takes it at once) and exits with status 0,
// within the shutdown grace.
func TestOperatorReleasesItsLeaseOnSIGTERM(t *testing.T) {
	c := kubernetes.NewForConfigOrDie(cfg)
	ns, err := c.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "operator-stop-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })

	health := freeAddress(t)
	cmd := exec.Command(os.Args[0], "--kubeconfig", kubeconfig, "--resources-dir", chartstest.Dir(t),
		"--platform", "kubernetes", "--metrics-bind-address", "0", "--health-probe-bind-address", health,
		"--leader-elect=true", "--leader-election-namespace", ns.Name)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("operator log:\n%s", logs.String())
		}
	})

	// The operator leads once the Lease names it.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w, err := c.CoordinationV1().Leases(ns.Name).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", operator.LeaderElectionID).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for leading := false; !leading; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the operator did not lead: %v", ctx.Err())
			}
			lease, ok := ev.Object.(*coordinationv1.Lease)
			leading = ok && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
		case <-exited:
			t.Fatalf("the operator exited before it led: %v", cmd.ProcessState)
		}
	}
	w.Stop()
	// A leader is ready once its controllers run and its version policies are in force.
	for ready := false; !ready; {
		resp, err := http.Get("http://" + health + "/readyz")
		if err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		select {
		case <-exited:
			t.Fatalf("the operator exited before it was ready: %v", cmd.ProcessState)
		case <-ctx.Done():
			t.Fatal("the operator did not become ready")
		case <-time.After(50 * time.Millisecond):
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(operator.ShutdownGrace + 10*time.Second):
		t.Fatalf("the operator did not exit within %s of SIGTERM", operator.ShutdownGrace+10*time.Second)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the operator exited with status %d after SIGTERM, want 0", code)
	}
	lease, err := c.CoordinationV1().Leases(ns.Name).Get(t.Context(), operator.LeaderElectionID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("the operator exited on SIGTERM without releasing its Lease: %s holds it", *h)
	}
}

// freeAddress is a loopback address with a port nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
