package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// runDemo is `bosun dev-cluster --demo`: it picks the Istio version (building its pilot-discovery
// when it never was), starts the cluster in a box with bosun's operator pod played by this
// executable, runs the demo's steps (internal/demo), prints how to keep going and waits for Ctrl-C.
func runDemo(ctx context.Context, cmd *cobra.Command, nodes int) error {
	out := cmd.OutOrStdout()
	root, err := testcluster.RepoRoot()
	if err != nil {
		return fmt.Errorf("the demo runs from bosun's repository (it applies chart/crds/ and deploy/bosun.yaml): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cat := catalog.Embedded()
	istiodDir := istiodBinDir(root)
	fmt.Fprintf(out, "demo: choosing the Istio version: the catalog's default %s if its istiod (pilot-discovery) builds, else the newest that does\n", cat.Default())
	version, err := demo.ChooseVersion(cat, istiodDir, func(v string) error { return buildIstiod(ctx, out, root, istiodDir, v) })
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "demo: starting the cluster in a box: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with %d nodes…\n", nodes)
	startCtx, cancel := context.WithTimeout(ctx, testcluster.DefaultStartTimeout)
	defer cancel()
	cluster, err := testcluster.Start(startCtx, demoClusterOptions(nodes, out, self))
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "demo: stopping every process and removing", cluster.Dir())
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "demo: stopping:", err)
		}
	}()
	fmt.Fprintf(out, "demo: the cluster is up; to watch from another shell: export KUBECONFIG=%s PATH=%s:$PATH\n",
		cluster.KubeconfigPath(), cluster.BinDir())

	err = demo.Run(ctx, demo.Config{
		Kubectl: filepath.Join(cluster.BinDir(), "kubectl"), Kubeconfig: cluster.KubeconfigPath(),
		Root: root, Version: version, Out: out, LogDir: cluster.Dir(),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// The cluster is what explains the failure: keep it for the user to look at.
		fmt.Fprintf(out, "\ndemo: %v\nThe cluster stays up so you can look (export KUBECONFIG=%s PATH=%s:$PATH; logs in %s).\nPress Ctrl-C to stop it.\n",
			err, cluster.KubeconfigPath(), cluster.BinDir(), cluster.Dir())
		<-ctx.Done()
		return err
	}
	demo.Next{
		Kubeconfig: cluster.KubeconfigPath(), BinDir: cluster.BinDir(), LogDir: cluster.Dir(), Version: version,
		Update: demo.UpdateTarget(cat, version.Resolved, func(v string) bool {
			_, err := os.Stat(filepath.Join(istiodDir, v, "pilot-discovery"))
			return err == nil
		}),
	}.Write(out)
	<-ctx.Done()
	return nil
}

// istiodBinDir is where the box finds pilot-discovery: $BOSUN_ISTIOD_BIN, else bin/istiod.
func istiodBinDir(root string) string {
	if dir := os.Getenv(testcluster.IstiodBinDirEnv); dir != "" {
		return dir
	}
	return filepath.Join(root, "bin", "istiod")
}

// buildIstiod builds pilot-discovery of one catalog version with hack/istiodbins, showing its
// progress. hack/istiodbins records a version that cannot be built rather than failing, so the
// caller looks at what it left.
func buildIstiod(ctx context.Context, out io.Writer, root, dir, version string) error {
	fmt.Fprintf(out, "demo: building istiod %s: go run ./hack/istiodbins -version %s (first time: about 10 minutes)\n", version, version)
	build := exec.CommandContext(ctx, "go", "run", "./hack/istiodbins", "-version", version, "-out", dir)
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	return build.Run()
}

// demoClusterOptions is the demo's cluster: full, with the operator's pods played by this executable,
// so that bosun installed from deploy/bosun.yaml runs as its ServiceAccount.
func demoClusterOptions(nodes int, log io.Writer, self string) testcluster.Options {
	return testcluster.Options{Full: true, Nodes: nodes, Log: log, OperatorBinary: self}
}
