package testcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// loggedProcess is a process record, as startProcess leaves one, whose log
// holds lines; no process runs.
func loggedProcess(t *testing.T, dir, name string, pid int, lines ...string) *process {
	t.Helper()
	path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &process{name: name, cmd: &exec.Cmd{Process: &os.Process{Pid: pid}}, logPath: path, done: make(chan struct{})}
}

// TestLogsShowEveryComponentThenPlayedPodsThenTheBox checks what a failed
// test prints (Cluster.Logs): the components in start order, then every
// process that played a pod (those since restarted included), then box.log,
// each under a header naming it, its process id and its file, with only
// the last lines asked for.
func TestLogsShowEveryComponentThenPlayedPodsThenTheBox(t *testing.T) {
	c, _ := loggingCluster(t, Options{})
	c.processes = []*process{
		loggedProcess(t, c.dir, etcdBin, 101, "etcd 1", "etcd 2", "etcd 3"),
		loggedProcess(t, c.dir, apiServerBin, 102, "apiserver 1", "apiserver 2"),
	}
	// A restarted pod's processes append to one log, as launch opens it.
	first := loggedProcess(t, c.dir, "istiod istio-system/istiod-1", 201, "first run", "second run")
	second := &process{name: first.name, cmd: &exec.Cmd{Process: &os.Process{Pid: 202}}, logPath: first.logPath}
	c.players = []*podPlayer{{history: []*process{first, second}}}
	if _, err := c.boxLog.Write([]byte("box 1\nbox 2\nbox 3\n")); err != nil {
		t.Fatal(err)
	}

	got := c.Logs(2)
	headers := regexp.MustCompile(`(?m)^==> (.*) <==$`).FindAllStringSubmatch(got, -1)
	var names []string
	for _, h := range headers {
		names = append(names, h[1])
	}
	want := []string{
		fmt.Sprintf("etcd (pid 101), last 2 lines of %s", c.processes[0].logPath),
		fmt.Sprintf("kube-apiserver (pid 102), last 2 lines of %s", c.processes[1].logPath),
		fmt.Sprintf("istiod istio-system/istiod-1 (pid 201), last 2 lines of %s", first.logPath),
		fmt.Sprintf("istiod istio-system/istiod-1 (pid 202), last 2 lines of %s", second.logPath),
		fmt.Sprintf("pod network and played pods, last 2 lines of %s", filepath.Join(c.dir, boxLogName)),
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("headers\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range []string{"etcd 2\netcd 3\n", "apiserver 1\napiserver 2\n", "first run\nsecond run\n", "box 2\nbox 3\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("Logs does not show %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "etcd 1") || strings.Contains(got, "box 1") {
		t.Errorf("Logs shows more than the last 2 lines:\n%s", got)
	}
}

// TestLogsOfAnAPIServerOnlyCluster checks that a cluster without a box
// network (integration tests) prints its components and no box.log
// section.
func TestLogsOfAnAPIServerOnlyCluster(t *testing.T) {
	c := &Cluster{dir: t.TempDir()}
	c.processes = []*process{loggedProcess(t, c.dir, etcdBin, 101, "ready")}
	got := c.Logs(5)
	if !strings.Contains(got, "==> etcd (pid 101)") || strings.Contains(got, "pod network") {
		t.Errorf("Logs:\n%s", got)
	}
}

// TestPlayedProcessesListsRunningOnes checks PlayedProcesses, which tests
// use to find and kill the process of a pod: every pod of every role with a
// running process, by namespace/name, and not a pod between restarts.
func TestPlayedProcessesListsRunningOnes(t *testing.T) {
	dir := t.TempDir()
	istiod := &podPlayer{played: map[types.NamespacedName]*playedPod{
		{Namespace: "istio-system", Name: "istiod-1"}: {proc: loggedProcess(t, dir, "a", 301)},
		{Namespace: "istio-system", Name: "istiod-2"}: {},
	}}
	operator := &podPlayer{played: map[types.NamespacedName]*playedPod{
		{Namespace: "bosun-system", Name: "bosun-1"}: {proc: loggedProcess(t, dir, "b", 302)},
	}}
	c := &Cluster{players: []*podPlayer{istiod, operator}}
	got := c.PlayedProcesses()
	want := map[string]int{"istio-system/istiod-1": 301, "bosun-system/bosun-1": 302}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PlayedProcesses = %v, want %v", got, want)
	}
	if got := (&Cluster{}).PlayedProcesses(); got == nil || len(got) != 0 {
		t.Errorf("PlayedProcesses of a cluster without players = %v, want an empty map", got)
	}
}

// TestLogLinesAreWhole checks the lines Options.Log gets (clustertest sends
// each Write to the test log as a line): one Write per line, prefixed with
// the package, ending in a newline; and that box.log lines carry the time
// and go to Options.Log too.
func TestLogLinesAreWhole(t *testing.T) {
	w := &writeRecorder{}
	c, box := loggingCluster(t, Options{Log: w})
	c.logf("started %s (pid %d)", "etcd", 42)
	c.boxLogf("istiod: %s is Ready=%t", "istio-system/istiod-1", true)
	want := []string{"testcluster: started etcd (pid 42)\n", "testcluster: istiod: istio-system/istiod-1 is Ready=true\n"}
	if strings.Join(w.writes, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", w.writes, want)
	}
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} istiod: istio-system/istiod-1 is Ready=true\n$`).MatchString(box()) {
		t.Errorf("box.log %q, want one line with the time", box())
	}
}

// writeRecorder keeps each Write apart.
type writeRecorder struct{ writes []string }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestTailFileEdges checks the log tails a failed test prints at their
// edges: trailing empty lines are not lines, a missing file says so
// instead of failing, and a log larger than tailBytes is read from its end
// only.
func TestTailFileEdges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if got := tailFile(write("blank-end", "a\nb\n\n\n"), 1); got != "b\n" {
		t.Errorf("tail of a log ending in blank lines = %q, want b", got)
	}
	if got := tailFile(write("one", "only"), 1); got != "only\n" {
		t.Errorf("tail of a one-line log = %q", got)
	}
	missing := filepath.Join(dir, "missing.log")
	if got := tailFile(missing, 3); !strings.HasPrefix(got, "(cannot read "+missing+": ") || !strings.HasSuffix(got, ")\n") {
		t.Errorf("tail of a missing log = %q, want a line saying it cannot be read", got)
	}

	var b strings.Builder
	for i := 0; b.Len() < 2*tailBytes; i++ {
		fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("x", 100))
	}
	content := b.String()
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	got := tailFile(write("big", content), 3)
	if want := strings.Join(lines[len(lines)-3:], "\n") + "\n"; got != want {
		t.Errorf("tail of a big log = %q, want its last 3 lines", got)
	}
	all := tailFile(write("big2", content), len(lines))
	if len(all) > tailBytes {
		t.Errorf("asked for every line of a %d-byte log, got %d bytes; want at most %d", len(content), len(all), tailBytes)
	}
	if !strings.HasSuffix(all, lines[len(lines)-1]+"\n") {
		t.Error("the tail of a big log does not end with its last line")
	}
}
