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

// TestDevCluster runs `bosun dev-cluster` as the README's first command does: it must print a
// KUBECONFIG that reaches a cluster with 3 Ready nodes and bosun's CRDs, and remove everything when
// interrupted.
func TestDevCluster(t *testing.T) {
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	out := &syncBuffer{}
	cmd := newDevClusterCommand()
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs([]string{"--nodes", "3"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	kubeconfigLine := regexp.MustCompile(`export KUBECONFIG=(\S+)`)
	var kubeconfig string
	deadline := time.After(3 * time.Minute)
	for kubeconfig == "" {
		select {
		case err := <-done:
			t.Fatalf("dev-cluster ended before it was ready: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("dev-cluster printed no KUBECONFIG within 3 minutes:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
			if m := kubeconfigLine.FindStringSubmatch(out.String()); m != nil {
				kubeconfig = m[1]
			}
		}
	}

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

	interrupt()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev-cluster ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev-cluster did not stop within a minute of the interrupt")
	}
	if _, err := os.Stat(kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kubeconfig %s is still there after the interrupt: %v", kubeconfig, err)
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
