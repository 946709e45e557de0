package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/internal/demo"
)

// bosunBinaryName is the users' executable, as make build names it in bin/.
const bosunBinaryName = "bosun"

func newDemoMulticlusterCommand() *cobra.Command {
	var f boxFlags
	cmd := &cobra.Command{
		Use:   "demo-multicluster",
		Short: "Run two clusters in a box with one multi-primary mesh, and show what each istiod knows (make demo-multicluster)",
		Long: `demo-multicluster starts two clusters in a box side by side, each with its own etcd, API server,
controller manager, scheduler and kwok, and installs bosun on each as a user does (see bosun-dev demo
--help). On each it installs an istiod of one multi-primary mesh (the same meshID, the cluster's own
name, one network) and a service; then it lets each istiod read the other cluster with bosun
create-remote-secret (bosun beside this executable), and prints what each istiod knows: every
service of both clusters, with its endpoints by cluster. It runs until Ctrl-C, which stops every
process and removes its files (docs/topologies.md#multi-primary).`,
		Args: cobra.NoArgs,
		RunE: f.runUntilInterrupted(runDemoMulticluster),
	}
	f.add(cmd, 1)
	return cmd
}

// runDemoMulticluster is bosun-dev demo-multicluster.
func runDemoMulticluster(ctx context.Context, cmd *cobra.Command, nodes int, operator string) error {
	out := cmd.OutOrStdout()
	bosun := filepath.Join(filepath.Dir(operator), bosunBinaryName)
	if _, err := os.Stat(bosun); err != nil {
		return fmt.Errorf("bosun, whose create-remote-secret joins the clusters: %w (make build builds it into bin/)", err)
	}
	s, err := setUp(ctx, out)
	if err != nil {
		return err
	}
	root, version := s.root, s.version
	var clusters []demo.Config
	for i := range 2 {
		fmt.Fprintf(out, "demo: starting %s in a box with %d nodes…\n", demo.ClusterName(i), nodes)
		cluster, stop, err := startBox(ctx, cmd, nodes, operator)
		if err != nil {
			return err
		}
		defer stop()
		clusters = append(clusters, demo.Config{
			Kubectl: filepath.Join(cluster.BinDir(), "kubectl"), Kubeconfig: cluster.KubeconfigPath(),
			Root: root, Version: version, Out: out, LogDir: cluster.Dir(),
		})
	}
	err = demo.RunMulticluster(ctx, demo.MulticlusterConfig{Clusters: clusters, Bosun: bosun})
	switch {
	case err != nil && ctx.Err() != nil:
		return nil
	case err != nil:
		fmt.Fprintf(out, "\ndemo: %v\nThe clusters stay up so you can look (KUBECONFIG=%s or %s). Press Ctrl-C to stop them.\n",
			err, clusters[0].Kubeconfig, clusters[1].Kubeconfig)
		<-ctx.Done()
		return err
	}
	fmt.Fprintf(out, "\nThe clusters run until Ctrl-C. To look around:\n  export PATH=%s:$PATH\n", filepath.Dir(clusters[0].Kubectl))
	for i, c := range clusters {
		fmt.Fprintf(out, "  kubectl --kubeconfig %s get istio,istiorevision   # %s\n", c.Kubeconfig, demo.ClusterName(i))
	}
	<-ctx.Done()
	return nil
}
