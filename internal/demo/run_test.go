package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// scriptKubectl writes a kubectl that runs body, a shell script, with kubectl's arguments in "$*".
func scriptKubectl(t *testing.T, body string) string {
	t.Helper()
	kubectl := filepath.Join(t.TempDir(), "kubectl")
	writeFile(t, kubectl, "#!/bin/sh\n"+body)
	return kubectl
}

// TestAFailedCommandSaysWhy: the demo's error names the step and ends with the last line kubectl
// wrote to stderr, which is where kubectl puts its reason, or with kubectl's exit status when it said
// nothing.
func TestAFailedCommandSaysWhy(t *testing.T) {
	cases := []struct {
		name, script, want string
	}{
		{name: "the last line of stderr",
			script: `case "$*" in *"apply --server-side -f chart/crds/"*) echo "Warning: one" >&2; echo "error: the server could not find the requested resource" >&2; exit 1;; esac`,
			want:   "demo step 1 (Install bosun's CRDs (docs/install.md, plain YAML; server-side, they are large)): kubectl apply: exit status 1: error: the server could not find the requested resource"},
		{name: "nothing on stderr",
			script: `case "$*" in *"label namespace"*) echo "labelled?"; exit 3;; esac`,
			want:   "demo step 8 (Label it for sidecar injection): kubectl label: exit status 3"},
		{name: "no kubectl at all", want: "demo step 1 (Install bosun's CRDs (docs/install.md, plain YAML; server-side, they are large)): kubectl apply: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kubectl := filepath.Join(t.TempDir(), "absent")
			if tc.script != "" {
				kubectl = scriptKubectl(t, tc.script+"\necho ok\n")
			}
			var out bytes.Buffer
			err := Run(context.Background(), Config{Kubectl: kubectl, Kubeconfig: "k", Root: t.TempDir(), Out: &out,
				Version: Version{Name: "v1.27-latest", Resolved: v127}})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || tc.script != "" && err.Error() != tc.want {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
		})
	}
}

// TestCancelledDemoStopsAtOnce: Ctrl-C during a wait ends the demo without the wait's own timeout,
// and without diagnosing a failure that is not one.
func TestCancelledDemoStopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	if err := syscall.Mkfifo(started, 0o600); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls")
	kubectl := scriptKubectl(t, fmt.Sprintf(`echo "$*" >> %[1]s
case "$*" in *"deployment/bosun-operator"*) echo waiting > %[2]s; exec sleep 600;; esac
echo ok
`, calls, started))
	logDir := t.TempDir()
	writeFile(t, filepath.Join(logDir, "operator", "bosun-system_bosun-operator-1.log"), "the operator's log\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Kubectl: kubectl, Kubeconfig: "k", Root: t.TempDir(), Out: &out, LogDir: logDir,
			Version: Version{Name: "v1.27-latest", Resolved: v127}})
	}()
	fifo, err := os.Open(started) // returns once kubectl wait has started
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(fifo).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fifo.Close()
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "demo step 4") {
		t.Errorf("Run = %v, want step 4 cancelled", err)
	}
	shown := out.String()
	for _, unwanted := range []string{"--- to see why", "the operator's log"} {
		if strings.Contains(shown, unwanted) {
			t.Errorf("a cancelled demo shows %q:\n%s", unwanted, shown)
		}
	}
	if data, _ := os.ReadFile(calls); strings.Contains(string(data), "get deployment,pods") {
		t.Errorf("a cancelled demo ran the diagnosis:\n%s", data)
	}
}

// TestFailureShowsTheEndOfEachOperatorLog: a failed step shows the last ten lines of every played
// operator pod's log, which kubectl logs cannot reach in the box, and nothing when there is no box.
func TestFailureShowsTheEndOfEachOperatorLog(t *testing.T) {
	logDir := t.TempDir()
	var long []string
	for i := 1; i <= 25; i++ {
		long = append(long, fmt.Sprintf("line %02d", i))
	}
	writeFile(t, filepath.Join(logDir, "operator", "bosun-system_bosun-operator-1.log"), strings.Join(long, "\n")+"\n")
	writeFile(t, filepath.Join(logDir, "operator", "bosun-system_bosun-operator-2.log"), "standby: waiting for the lease\n")
	writeFile(t, filepath.Join(logDir, "istiod", "istio-system_istiod-1.log"), "istiod's log\n")

	for _, tc := range []struct {
		logDir       string
		want, absent []string
	}{
		{logDir: logDir,
			want:   []string{"last 10 lines of " + filepath.Join(logDir, "operator", "bosun-system_bosun-operator-1.log"), "line 16\nline 17", "line 25\n", "standby: waiting for the lease"},
			absent: []string{"line 15", "istiod's log"}},
		{logDir: "", absent: []string{"the operator's log"}},
	} {
		kubectl, _ := fakeKubectl(t, "--for=condition=Available")
		var out bytes.Buffer
		err := Run(context.Background(), Config{Kubectl: kubectl, Kubeconfig: "k", Root: t.TempDir(), Out: &out, LogDir: tc.logDir,
			Version: Version{Name: "v1.27-latest", Resolved: v127}})
		if err == nil {
			t.Fatal("the failed wait did not fail the demo")
		}
		for _, s := range tc.want {
			if !strings.Contains(out.String(), s) {
				t.Errorf("LogDir %q: the failure does not show %q:\n%s", tc.logDir, s, out.String())
			}
		}
		for _, s := range tc.absent {
			if strings.Contains(out.String(), s) {
				t.Errorf("LogDir %q: the failure shows %q:\n%s", tc.logDir, s, out.String())
			}
		}
	}
}
