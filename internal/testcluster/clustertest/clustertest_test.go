package clustertest

import (
	"testing"
)

// recordingTB is a test whose log lines are kept.
type recordingTB struct {
	testing.TB
	lines []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Log(args ...any) {
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}

// TestTestWriterLogsLines checks that the cluster's startup lines reach the
// test log one per Write, without the newline the test log adds itself, and
// that a line's inner newlines are kept.
func TestTestWriterLogsLines(t *testing.T) {
	tb := &recordingTB{TB: t}
	w := testWriter{tb}
	for _, line := range []string{"testcluster: started etcd (pid 1)\n", "testcluster: no newline", "a\nb\n"} {
		n, err := w.Write([]byte(line))
		if err != nil || n != len(line) {
			t.Errorf("Write(%q) = %d, %v; want all of it written", line, n, err)
		}
	}
	want := []string{"testcluster: started etcd (pid 1)", "testcluster: no newline", "a\nb"}
	if len(tb.lines) != len(want) {
		t.Fatalf("logged %q, want %q", tb.lines, want)
	}
	for i := range want {
		if tb.lines[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, tb.lines[i], want[i])
		}
	}
}
