package testcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// KubeVersion is the Kubernetes version of the cluster's components. It must
// match the k8s.io/kubernetes version in hack/clusterbins/programs/go.mod, because
// `make cluster-bins` puts the programs in bin/cluster/<KubeVersion>/.
const KubeVersion = "v1.36.3"

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
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("locating the cluster programs: %w (set %s or Options.BinDir)", err, BinDirEnv)
	}
	return filepath.Join(root, "bin", "cluster", KubeVersion), nil
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
