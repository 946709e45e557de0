package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
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

// TestBinaryLinksNoTestHelpers guards the split of the cluster in a box: the bosun binary uses
// internal/testcluster, and the test helpers that import the testing package live in
// internal/testcluster/clustertest, which no package of the binary may import.
func TestBinaryLinksNoTestHelpers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, "github.com/bosun-mesh/bosun/") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if imp == "testing" || strings.HasSuffix(imp, "/clustertest") {
				t.Errorf("%s imports %s, so the bosun binary links test code", pkg, imp)
			}
		}
	}
}
