//go:build e2e

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestCluster runs `bosun-dev cluster` as make dev-cluster does: it must print a KUBECONFIG that
// reaches a cluster with 3 Ready nodes and bosun's CRDs, and remove everything when interrupted.
func TestCluster(t *testing.T) {
	dc := startDevCluster(t, "cluster", "--nodes", "3", "--operator-binary", operatorBinary(t))
	kubeconfig := dc.waitFor(kubeconfigLine, 3*time.Minute)[1]

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready != 3 {
		t.Errorf("%d Ready nodes, want 3", ready)
	}
	resources, err := client.Discovery().ServerResourcesForGroupVersion("sailoperator.io/v1")
	if err != nil || len(resources.APIResources) == 0 {
		t.Errorf("bosun's API is not served: %v", err)
	}

	dc.interrupt()
	if _, err := os.Stat(kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kubeconfig %s is still there after the interrupt: %v", kubeconfig, err)
	}
}

// kubeconfigLine is what bosun-dev prints for the user's other shell once the cluster is up.
var kubeconfigLine = regexp.MustCompile(`export KUBECONFIG=(\S+)`)

// devCluster is a command of bosun-dev running in the background, as in a user's terminal.
type devCluster struct {
	t         *testing.T
	out       *syncBuffer
	done      chan struct{} // closed when the command has ended, with err
	err       error
	reported  bool // waitFor has reported the end
	interrupt func()
}

// startDevCluster runs bosun-dev with args (its command first) until the test calls interrupt or ends.
func startDevCluster(t *testing.T, args ...string) *devCluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dc := &devCluster{t: t, out: &syncBuffer{}, done: make(chan struct{})}
	cmd := newRootCommand()
	cmd.SetOut(dc.out)
	cmd.SetErr(dc.out)
	cmd.SetArgs(args)
	go func() {
		dc.err = cmd.ExecuteContext(ctx)
		close(dc.done)
	}()
	interrupted := false
	dc.interrupt = func() {
		t.Helper()
		if interrupted {
			return
		}
		interrupted = true
		select {
		case <-dc.done:
			if !dc.reported {
				t.Errorf("bosun-dev %v ended before Ctrl-C: %v\n%s", args, dc.err, dc.out.String())
			}
			return
		default:
		}
		cancel()
		select {
		case <-dc.done:
			if dc.err != nil {
				t.Errorf("bosun-dev %v ended with %v after Ctrl-C", args, dc.err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("bosun-dev %v did not stop within a minute of Ctrl-C", args)
		}
	}
	t.Cleanup(dc.interrupt)
	return dc
}

// waitFor waits until the output matches re and returns the match and its groups. It fails the test
// if the command ends first or nothing matches within timeout.
func (dc *devCluster) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	dc.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := re.FindStringSubmatch(dc.out.String()); m != nil {
			return m
		}
		select {
		case <-dc.done:
			dc.reported = true
			dc.t.Fatalf("bosun-dev ended before it printed %q: %v\n%s", re, dc.err, dc.out.String())
		case <-deadline:
			dc.t.Fatalf("bosun-dev printed nothing like %q within %s:\n%s", re, timeout, dc.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
