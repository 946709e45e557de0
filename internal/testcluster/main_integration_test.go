//go:build integration

package testcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// The integration tests of this package share one API-server-only cluster
// (etcd and kube-apiserver, Options{}), started by the first test that needs
// it and stopped after the last. The package's own tests cannot use
// clustertest, which imports this package.
var shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// helperEnv, when set in the environment of this test binary, makes it a
// helper process instead of running tests (see TestMain).
const helperEnv = "BOSUN_TESTCLUSTER_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the shared cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// sharedCluster returns the package's API-server-only cluster, starting it
// on first use. A test that fails prints the components' logs.
func sharedCluster(t *testing.T) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		shared.cluster, shared.err = Start(context.Background(), Options{})
	})
	if shared.err != nil {
		t.Fatalf("starting the shared cluster: %v", shared.err)
	}
	c := shared.cluster
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs (%s):\n%s", c.Dir(), c.Logs(30))
		}
	})
	return c
}

// eventually calls cond until it returns nil, failing the test with its
// last error after a minute.
func eventually(t *testing.T, what string, cond func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-tick.C:
		}
	}
}
