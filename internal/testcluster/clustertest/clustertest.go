// Package clustertest starts the cluster in a box (internal/testcluster) for Go tests: one cluster per
// test or per test binary, stopped when the tests are done, with the components' logs printed when a
// test fails. It is a package of its own so that only test binaries link the testing package; the
// bosun binary uses internal/testcluster directly.
package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// failureLogLines is how much of each component's log a failed test shows:
// enough for the error that explains a failure, short enough to read.
const failureLogLines = 50

// Start starts a cluster for one test and stops it when the test and
// its subtests are done. If the test failed, it first logs the tail of every
// component's log, since Stop removes the logs. Startup lines go to the test
// log unless opts.Log is set. A cluster that cannot start fails the test at
// once.
func Start(t testing.TB, opts testcluster.Options) *testcluster.Cluster {
	t.Helper()
	if opts.Log == nil {
		opts.Log = testWriter{t}
	}
	c, err := testcluster.Start(t.Context(), opts)
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

// testWriter sends each write, one line from testcluster.Cluster.logf, to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Main starts one cluster for a whole test binary, as a TestMain does, and returns the exit code
// for os.Exit. setup runs once the cluster is ready (to install CRDs, say) and receives its admin
// config; then the tests run, and the cluster is stopped. If the cluster cannot start or setup fails,
// no test runs; if setup or a test fails, the components' logs are printed before they are removed.
func Main(m *testing.M, opts testcluster.Options, setup func(*rest.Config) error) int {
	return MainWith(m, opts, func(c *testcluster.Cluster) error { return setup(c.Config()) })
}

// MainWith is Main for tests that need the cluster itself, not only its admin config: to see the
// processes that play its istiod pods, say.
func MainWith(m *testing.M, opts testcluster.Options, setup func(*testcluster.Cluster) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.DefaultStartTimeout)
	defer cancel()
	c, err := testcluster.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the test cluster: %v\n", err)
		return 1
	}
	defer c.Stop()
	if err := setup(c); err != nil {
		fmt.Fprintf(os.Stderr, "setting up the test cluster: %v\ncluster logs:\n%s\n", err, c.Logs(failureLogLines))
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "cluster logs (%s):\n%s\n", c.Dir(), c.Logs(failureLogLines))
	}
	return code
}
