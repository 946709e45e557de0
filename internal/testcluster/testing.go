package testcluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
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

// RunTests starts one cluster for a whole test binary, as a TestMain does, and returns the exit code
// for os.Exit. setup runs once the cluster is ready (to install CRDs, say) and receives its admin
// config; then the tests run, and the cluster is stopped. If the cluster cannot start or setup fails,
// no test runs; if setup or a test fails, the components' logs are printed before they are removed.
func RunTests(m *testing.M, opts Options, setup func(*rest.Config) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the test cluster: %v\n", err)
		return 1
	}
	defer c.Stop()
	if err := setup(c.Config()); err != nil {
		fmt.Fprintf(os.Stderr, "setting up the test cluster: %v\ncluster logs:\n%s\n", err, c.Logs(failureLogLines))
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "cluster logs (%s):\n%s\n", c.Dir(), c.Logs(failureLogLines))
	}
	return code
}
