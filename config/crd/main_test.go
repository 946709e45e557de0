package crd_test

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		// The deprecation warning of v1alpha1 ZTunnel is asserted where it matters, not logged for
		// every call.
		cfg.WarningHandler = rest.NoWarnings{}
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}
