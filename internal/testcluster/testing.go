package testcluster

import (
	"strings"
	"testing"
)

// failureLogLines is how much of each component's log a failed test shows:
// enough for the error that explains a failure, short enough to read.
const failureLogLines = 50

// StartForTest starts a cluster for one test and stops it when the test and
// its subtests are done. If the test failed, it first logs the tail of every
// component's log, since Stop removes the logs. Startup lines go to the test
// log unless opts.Log is set. A cluster that cannot start fails the test at
// once.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Log == nil {
		opts.Log = testWriter{t}
	}
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs (%s):\n%s", c.Dir(), c.Logs(failureLogLines))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	return c
}

// testWriter sends each write, one line from Cluster.logf, to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
