package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubeVersion is the Kubernetes version of the cluster's components. It must
// match the k8s.io/kubernetes version in hack/clusterbins/kube/go.mod, because
// `make cluster-bins` puts the programs in bin/cluster/<KubeVersion>/.
const KubeVersion = "v1.36.3"

// ProgramGCFlags are the compiler flags of the programs the box runs, built
// from other projects' modules (hack/clusterbins, hack/istiodbins): no DWARF
// debug information, which their linker flags (-s -w) throw away anyway.
// Not generating it costs about 15% less CPU time, a minute or two of a fresh
// machine's make demo and make test on two cores.
const ProgramGCFlags = "all=-dwarf=false"

// BinDirEnv names the environment variable that, when set, is the directory
// holding the cluster programs, used instead of the repository's
// bin/cluster/<KubeVersion>.
const BinDirEnv = "BOSUN_CLUSTER_BIN"

// The programs a cluster runs, as `make cluster-bins` names them.
const (
	etcdBin              = "etcd"
	apiServerBin         = "kube-apiserver"
	controllerManagerBin = "kube-controller-manager"
	schedulerBin         = "kube-scheduler"
	kwokBin              = "kwok"
	// kwokStagesDir holds kwok's Stage files, which define how fake nodes and
	// pods move through their lifecycle.
	kwokStagesDir = "kwok-stages"
)

// binDir returns the directory of the cluster programs: opts.BinDir, else
// $BOSUN_CLUSTER_BIN, else bin/cluster/<KubeVersion> under the repository
// root found by walking up from the working directory. Tests run in their
// package's directory, so the walk finds the root from anywhere in the tree.
func binDir(opts Options) (string, error) {
	if opts.BinDir != "" {
		return opts.BinDir, nil
	}
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("locating the cluster programs: %w (set %s or Options.BinDir)", err, BinDirEnv)
	}
	return filepath.Join(root, "bin", "cluster", KubeVersion), nil
}

// RepoRoot walks up from the working directory to the directory whose go.mod
// declares bosun's module. Nested modules (hack/clusterbins/*) are passed by.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/bosun-mesh/bosun\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bosun's go.mod not found above the working directory; run from the repository")
		}
		dir = parent
	}
}

// checkBinaries reports, in one error that says how to fix it, every program
// of the requested mode that is missing from dir.
func checkBinaries(dir string, full bool) error {
	names := []string{etcdBin, apiServerBin}
	if full {
		names = append(names, controllerManagerBin, schedulerBin, kwokBin, kwokStagesDir)
	}
	var missing []string
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cluster programs %v not found in %s: run `make cluster-bins`", missing, dir)
	}
	return nil
}
