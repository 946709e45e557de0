//go:build integration

package operator

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here, with
// bosun's CRDs installed, so that the operator's managers start as they do in a cluster.
var cfg *rest.Config

func TestMain(m *testing.M) {
	// The operators the tests start log their errors; the rest is noise here.
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		cfg.WarningHandler = rest.NoWarnings{}
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}
