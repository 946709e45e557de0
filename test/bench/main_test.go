//go:build linux

package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// operatorArgs are extra flags for every bosun-operator the benchmarks start, to compare settings:
// go test ./test/bench -run '^$' -bench . -benchtime 1x -args -operator-args='--memory-limit=75Mi'.
var operatorArgs = flag.String("operator-args", "", "extra flags for bosun-operator, separated by spaces")

// keep leaves the benchmarks' directory, with the operators' logs, in place.
var keep = flag.Bool("keep", false, "keep the directory of the operator binary and logs, and print its path")

// The versions the benchmarks install. The box has no Istio 1.24 release: these two versions are played
// by copies of the 1.25 snapshot's charts whose images are tagged with the version's number, as in
// test/e2e. What the operator does for a version change (render, apply, roll out istiod) depends on the
// charts and the version's name, not on what the images contain.
const (
	fromVersion = "v1.24.3"
	toVersion   = "v1.24.4"
	// playedByModule is the istio.io/istio module version of the snapshot whose charts play both
	// versions (clustertest.PlayVersions).
	playedByModule = clustertest.PlayedByModule
	// sharedNodes is the number of fake nodes of the shared cluster.
	sharedNodes = 3
)

// env is what every benchmark shares: the operator binary, the charts and catalog it runs with, and a
// cluster in a box for the benchmarks that need no load. Each is made on first use, so that a run
// without -bench makes nothing.
var env struct {
	setup    sync.Once
	setupErr error
	// dir holds the binary, charts, catalog and operator logs; TestMain removes it.
	dir      string
	operator string
	// bosun is the users' CLI, for `bosun status` at scale.
	bosun        string
	resources    string
	versionsFile string

	shared    sync.Once
	sharedErr error
	cluster   *cluster
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.cluster != nil {
		if err := env.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the cluster:", err)
		}
	}
	switch {
	case env.dir == "":
	case *keep:
		fmt.Fprintln(os.Stderr, "kept the operator's binary and logs in", env.dir)
	default:
		os.RemoveAll(env.dir)
	}
	printFigures(os.Stdout)
	os.Exit(code)
}

// prepare builds the operator, lays out the charts of the benchmark catalog and writes the catalog, once.
func prepare(b *testing.B) {
	b.Helper()
	env.setup.Do(func() {
		env.setupErr = func() error {
			dir, err := os.MkdirTemp("", "bosun-bench-")
			if err != nil {
				return err
			}
			env.dir = dir
			root, err := repo.Root()
			if err != nil {
				return err
			}
			env.operator = filepath.Join(dir, "bosun-operator")
			progress("building bosun-operator into %s", env.operator)
			// As `make build` does (BOSUN_BUILD): the binary is the one the image runs.
			args := append([]string{"build"}, repo.ProgramBuildFlags...)
			build := exec.Command("go", append(args, "-o", env.operator, "./cmd/bosun-operator")...)
			build.Dir = root
			build.Env = append(os.Environ(), repo.ProgramEnv...)
			if out, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("building bosun-operator: %v\n%s", err, out)
			}
			env.bosun = filepath.Join(dir, "bosun")
			build = exec.Command("go", append(args, "-o", env.bosun, "./cmd/bosun")...)
			build.Dir = root
			build.Env = append(os.Environ(), repo.ProgramEnv...)
			if out, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("building bosun: %v\n%s", err, out)
			}
			// As an image's files are, the executable is on disk, not only in the page cache: the
			// operator can then hand the pages it no longer runs back to the kernel (dirty pages
			// cannot be dropped from the page cache).
			if err := syncFile(env.operator); err != nil {
				return err
			}
			env.resources = filepath.Join(dir, "resources")
			if err := clustertest.PlayVersions(filepath.Join(root, "resources"), env.resources, fromVersion, toVersion); err != nil {
				return err
			}
			env.versionsFile = filepath.Join(dir, "versions.yaml")
			return os.WriteFile(env.versionsFile, []byte(catalogYAML), 0o644)
		}()
	})
	if env.setupErr != nil {
		b.Fatal(env.setupErr)
	}
}

// syncFile writes a file's pages from the page cache to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// sharedCluster returns the cluster the unloaded benchmarks share, starting it on first use.
func sharedCluster(b *testing.B) *cluster {
	b.Helper()
	prepare(b)
	env.shared.Do(func() {
		env.cluster, env.sharedErr = startCluster(sharedNodes)
	})
	if env.sharedErr != nil {
		b.Fatal(env.sharedErr)
	}
	return env.cluster
}

// catalogYAML is the benchmark catalog: the two played versions.
const catalogYAML = `default: ` + fromVersion + `
versions:
  - {name: ` + toVersion + `, module: istio.io/istio, moduleVersion: ` + playedByModule + `}
  - {name: ` + fromVersion + `, module: istio.io/istio, moduleVersion: ` + playedByModule + `}
aliases:
  - {name: v1.24-latest, ref: ` + toVersion + `}
`

// cluster is a cluster in a box with bosun's CRDs installed, and clients of its admin.
type cluster struct {
	*testcluster.Cluster
	client    client.WithWatch
	clientset kubernetes.Interface
}

// startCluster starts a full cluster with fake nodes and installs bosun's CRDs, as a user does before
// starting the operator. Its istiod pods run real istiods unless istiodBinDir names a folder without
// them (then kwok plays them as any other pod).
func startCluster(nodes int, istiodBinDir ...string) (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.DefaultStartTimeout)
	defer cancel()
	progress("starting a cluster in a box with %d fake nodes", nodes)
	opts := testcluster.Options{Full: true, Nodes: nodes, Log: progressWriter{}}
	if len(istiodBinDir) > 0 {
		opts.IstiodBinDir = istiodBinDir[0]
	}
	tc, err := testcluster.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	c, err := newCluster(tc)
	if err != nil {
		return nil, err
	}
	if err := crd.Install(ctx, c.Config(), time.Minute); err != nil {
		return nil, fmt.Errorf("installing bosun's CRDs: %w\n%s", err, c.Logs(20))
	}
	return c, nil
}

func newCluster(tc *testcluster.Cluster) (*cluster, error) {
	cfg := tc.Config()
	// The harness creates thousands of objects; client-go's default of 5 requests a second would make
	// the client, not the cluster, the bottleneck.
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &cluster{Cluster: tc, client: c, clientset: cs}, nil
}

// progress prints a line about the slow parts as they happen; the figures come at the end.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// progressWriter passes the cluster's startup lines to progress.
type progressWriter struct{}

func (progressWriter) Write(p []byte) (int, error) {
	progress("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
