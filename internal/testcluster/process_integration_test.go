//go:build integration

package testcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable shell script into a new directory and
// returns its path.
func script(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitExited waits until p has exited and been reaped.
func waitExited(t *testing.T, p *process) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit", p.name)
	}
}

// TestProcessOutputGoesToItsLog checks what a component's log holds: its
// standard output and error, with the environment it was given on top of
// this process's, run in the directory asked for; a process started again
// with the same log (a restarted API server or played pod) appends to it,
// so the first run's lines are still there.
func TestProcessOutputGoesToItsLog(t *testing.T) {
	bin := script(t, "component", `echo "out $1 $COMPONENT_SETTING $HOME_SEEN"; echo "err $(pwd)" >&2`)
	work := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "component.log")
	env := []string{"COMPONENT_SETTING=on", "HOME_SEEN=" + os.Getenv("HOME")}
	for _, run := range []string{"first", "second"} {
		p, err := startProcessIn(work, "component", bin, logPath, []string{run}, env)
		if err != nil {
			t.Fatal(err)
		}
		waitExited(t, p)
		if err := p.exitError(); err == nil || err.Error() != "component exited" {
			t.Errorf("exitError after a clean exit = %v, want component exited", err)
		}
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	home := os.Getenv("HOME")
	want := fmt.Sprintf("out first on %s\nerr %s\nout second on %s\nerr %s\n", home, work, home, work)
	if string(data) != want {
		t.Errorf("log\n%s\nwant\n%s", data, want)
	}
}

// TestProcessExitStatusIsReported checks that a component that fails says
// how: the exit status is in exitError, as waitFor reports it.
func TestProcessExitStatusIsReported(t *testing.T) {
	p, err := startProcess("etcd", script(t, "etcd", "exit 3\n"), filepath.Join(t.TempDir(), "etcd.log"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitExited(t, p)
	if err := p.exitError(); err == nil || err.Error() != "etcd exited: exit status 3" {
		t.Errorf("exitError = %v, want etcd exited: exit status 3", err)
	}
}

// TestStartProcessFailures checks the errors of a component that cannot be
// started at all: a missing program names the component, and a log that
// cannot be created fails before anything runs.
func TestStartProcessFailures(t *testing.T) {
	dir := t.TempDir()
	_, err := startProcess("kwok", filepath.Join(dir, "kwok"), filepath.Join(dir, "kwok.log"), nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "starting kwok: ") {
		t.Errorf("a missing program: %v, want an error starting with 'starting kwok: '", err)
	}
	_, err = startProcess("etcd", script(t, "etcd", "sleep 60\n"), filepath.Join(dir, "no", "such", "etcd.log"), nil, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a log in a missing directory: %v, want not exist", err)
	}
}

// TestStopEndsAProcessWithSIGTERM checks Stop's way of ending a component:
// SIGTERM first, so the API server can drain; a component that exits on it
// is reaped and reported as stopped, not as failed; stopping it again is a
// no-op.
func TestStopEndsAProcessWithSIGTERM(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "terminated")
	bin := script(t, "kube-apiserver", fmt.Sprintf(`trap 'echo TERM > %s; exit 0' TERM
echo started
while :; do sleep 0.1; done
`, marker))
	logPath := filepath.Join(t.TempDir(), "kube-apiserver.log")
	p, err := startProcess("kube-apiserver", bin, logPath, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the script to run", func(context.Context) error {
		if !strings.Contains(tailFile(logPath, 1), "started") {
			return errors.New("not started")
		}
		return nil
	})
	if err := p.exitError(); err != nil {
		t.Fatalf("exitError of a running process = %v", err)
	}
	start := time.Now()
	if err := p.stop(); err != nil {
		t.Fatalf("stop = %v, want nil for a process that exits on SIGTERM", err)
	}
	if elapsed := time.Since(start); elapsed >= stopGrace {
		t.Errorf("stop took %s: the process was killed, not terminated", elapsed)
	}
	if data, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(data)) != "TERM" {
		t.Errorf("the process did not see SIGTERM: %q, %v", data, err)
	}
	select {
	case <-p.done:
	default:
		t.Error("stop returned before the process was reaped")
	}
	if err := p.stop(); err != nil {
		t.Errorf("a second stop = %v", err)
	}
	if err := syscall.Kill(p.pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d after stop: kill(0) = %v, want it gone", p.pid(), err)
	}
}

// TestComponentsDieWithTheirStarter checks the promise that lets a killed
// test binary leave nothing running: a component started by a process that
// is then killed with SIGKILL (no Stop, no clean-up) is killed by the
// kernel too.
func TestComponentsDieWithTheirStarter(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=start-a-component", "HELPER_LOG="+filepath.Join(t.TempDir(), "etcd.log"))
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = helper.Process.Kill()
		t.Fatalf("reading the component's pid from the helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		_ = helper.Process.Kill()
		t.Fatalf("the helper wrote %q, want a pid", line)
	}
	if !alive(pid) {
		t.Fatalf("the component %d is not running before its starter is killed", pid)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	eventually(t, fmt.Sprintf("component %d to die with its starter", pid), func(context.Context) error {
		if alive(pid) {
			return fmt.Errorf("process %d still runs", pid)
		}
		return nil
	})
}

// alive reports whether pid runs: it exists and is not a zombie waiting to
// be reaped by whoever adopted it.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// runHelper runs this test binary as a helper process (see TestMain) and
// returns its exit code.
func runHelper(mode string) int {
	switch mode {
	case "start-a-component":
		// A component, started as the cluster starts them, that would run
		// for minutes; its pid goes to the test, then this process waits
		// to be killed.
		p, err := startProcess("etcd", "/bin/sleep", os.Getenv("HELPER_LOG"), []string{"300"}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(p.pid())
		select {}
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
}
