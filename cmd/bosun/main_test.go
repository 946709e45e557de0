package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for the tests here.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := testcluster.Start(ctx, testcluster.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the API server: %v\n", err)
		return 1
	}
	defer cluster.Stop()
	cfg = cluster.Config()
	cfg.WarningHandler = rest.NoWarnings{}
	if err := crd.Install(ctx, cfg, time.Minute); err != nil {
		fmt.Fprintf(os.Stderr, "installing CRDs: %v\n", err)
		return 1
	}
	return m.Run()
}
