//go:build e2e

// Package e2e runs OpenShift Service Mesh 3's procedures, and what bosun promises beyond them, against
// the cluster in a box (kube-apiserver, etcd, controller-manager, scheduler, and kwok playing kubelet).
//
// The box plays every istiod pod with a real pilot-discovery process (docs/istiod-in-the-box.md), so
// every workload pod here is injected by Istio's own webhook and Istio config is validated by istiod.
// It plays bosun's operator pods too, with bosun-operator built from this tree: tests that install
// bosun from deploy/bosun.yaml (installBosun) run the operator as it runs in a cluster, a separate
// process with only the chart's RBAC. Tests that read the operator's metrics and logs closely run it
// in the test process instead (startOperator), exactly as bosun-operator builds it.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

var (
	// cfg reaches the cluster TestMain starts for every test here.
	cfg *rest.Config
	// resources holds the charts of the test catalogs' versions.
	resources string
	// operatorBinary is bosun-operator built from this tree; the box plays the operator's pods with it.
	operatorBinary string
	// bosunBinary is bosun, the users' command-line tool, built from this tree (bosun render).
	bosunBinary string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bosun-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	operatorBinary, bosunBinary = filepath.Join(dir, "bosun-operator"), filepath.Join(dir, "bosun")
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := clustertest.MainWith(m, testcluster.Options{Full: true, Nodes: 1, OperatorBinary: operatorBinary}, func(cluster *testcluster.Cluster) error {
		box, cfg = cluster, cluster.Config()
		c := cfg
		resources = filepath.Join(dir, "resources")
		if err := prepareResources(resources); err != nil {
			return err
		}
		return crd.Install(context.Background(), c, crdTimeout)
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds bosun-operator and bosun from this tree into dir.
func build(dir string) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/bosun-operator", "./cmd/bosun")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/bosun-operator ./cmd/bosun: %w\n%s", err, out)
	}
	return nil
}

// The versions of the documents' procedures. The box has no Istio 1.24 release, so these versions are
// played by copies of the 1.25 snapshot's charts whose images are tagged with the version's number:
// what bosun does with them (names, revisions, rollouts) depends on the version's name and charts, not
// on what the images contain.
const (
	v1243 = "v1.24.3"
	v1244 = "v1.24.4"
	// v127 is a real snapshot of the built-in catalog, three minor versions ahead.
	v127 = "v1.27.0-snapshot.b9159ca3"
	// playedBy is the snapshot whose charts play v1.24.x.
	playedBy = clustertest.PlayedBy
)

// prepareResources lays out the test catalogs' charts: the snapshots the repository fetched (make
// charts) and the two played versions.
func prepareResources(dir string) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	fetched := filepath.Join(root, "resources")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, v := range []string{v127, playedBy} {
		if err := os.Symlink(filepath.Join(fetched, v), filepath.Join(dir, v)); err != nil {
			return err
		}
	}
	return clustertest.PlayVersions(fetched, dir, v1243, v1244)
}

// catalogYAML is a test catalog: the played 1.24 versions with v1.24-latest pointing at latest124,
// the 1.27 snapshot, and end-of-life 1.23.
func catalogYAML(latest124 string) string {
	return `default: v1.24-latest
versions:
  - {name: ` + v127 + `, module: istio.io/istio, moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5}
  - {name: ` + v1244 + `, module: istio.io/istio, moduleVersion: ` + clustertest.PlayedByModule + `}
  - {name: ` + v1243 + `, module: istio.io/istio, moduleVersion: ` + clustertest.PlayedByModule + `}
aliases:
  - {name: v1.24-latest, ref: ` + latest124 + `}
  - {name: v1.27-latest, ref: ` + v127 + `}
endOfLife: [v1.23-latest, v1.23.0]
`
}
