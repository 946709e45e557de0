//go:build integration

package crd_test

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here, with
// bosun's CRDs and the built-in catalog's version policies installed.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		// The deprecation warning of v1alpha1 ZTunnel is asserted where it matters, not logged for
		// every call.
		cfg.WarningHandler = rest.NoWarnings{}
		if err := crd.Install(context.Background(), cfg, time.Minute); err != nil {
			return err
		}
		// The API is the CRDs and the version policies the operator installs from its catalog; the
		// tests here see it as a user does with the built-in catalog.
		return versionpolicy.Install(context.Background(), cfg, catalog.Embedded(), time.Minute, nil)
	}))
}
