package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLineMux: the builds running side by side in `bosun dev-cluster --demo` write to one output, and
// each of their lines comes out whole, however their writes are split and interleaved.
func TestLineMux(t *testing.T) {
	var out bytes.Buffer
	mux := &lineMux{out: &out}
	cluster, istiod := mux.writer(), mux.writer()
	fmt.Fprint(cluster, "cluster-bins: etcd ")
	fmt.Fprint(istiod, "istiod-bins: building")
	fmt.Fprint(cluster, "is up to date\ncluster-bins: kwok")
	fmt.Fprint(istiod, "…\n")
	fmt.Fprint(cluster, " is up to date\n")
	want := "cluster-bins: etcd is up to date\nistiod-bins: building…\ncluster-bins: kwok is up to date\n"
	if out.String() != want {
		t.Errorf("the output is\n%s\nwant\n%s", out.String(), want)
	}
}

// TestDevClusterDemo runs `bosun dev-cluster --demo` as make demo does: the operator's pod is played
// by this executable (the test binary, which runs bosun's main when runMainEnv is set), the demo ends
// with Istio Healthy and bookinfo's pods injected, the hints give a KUBECONFIG, and Ctrl-C removes
// the cluster's files.
func TestDevClusterDemo(t *testing.T) {
	t.Setenv(runMainEnv, "1")
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	out := &syncBuffer{}
	cmd := newDevClusterCommand()
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs([]string{"--demo", "--nodes", "1"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("the demo ended before it was done: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("the demo did not finish within 5 minutes:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	shown := out.String()
	var missing []string
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`played by bosun operator \(pid \d+`),
		regexp.MustCompile(`(?m)^istio\.sailoperator\.io/default +1 +1 +1 +default +Healthy `),
		regexp.MustCompile(`(?m)^productpage-v1-\S+ +Running +\S+ +productpage,istio-proxy +default$`),
	} {
		if !want.MatchString(shown) {
			missing = append(missing, want.String())
		}
	}
	if len(missing) > 0 {
		t.Errorf("the demo printed nothing like:\n  %s\nIt printed:\n%s", strings.Join(missing, "\n  "), shown)
	}
	m := regexp.MustCompile(`export KUBECONFIG=(\S+)`).FindStringSubmatch(shown)
	if m == nil {
		t.Fatalf("the demo printed no KUBECONFIG:\n%s", shown)
	}
	kubeconfig := m[1]

	interrupt()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the demo ended with %v after Ctrl-C", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop within a minute of Ctrl-C")
	}
	if _, err := os.Stat(filepath.Dir(kubeconfig)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there after Ctrl-C: %v", err)
	}
}
