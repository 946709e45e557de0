package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

func newClusterCommand() *cobra.Command {
	var f boxFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local cluster in a box with bosun's CRDs until interrupted",
		Long: `cluster starts a real Kubernetes cluster on this machine: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok, which plays kubelet for fake nodes, so
Deployments roll out and DaemonSets get a pod per node without running any container.
It installs bosun's CRDs, prints the KUBECONFIG to use, and runs until Ctrl-C, when
it stops every process and removes its files.

istiod is real: every istiod pod kwok runs is played by a pilot-discovery process on
this machine, reachable at the pod's IP, so once a mesh is installed Istio's own webhook
injects pods ('kubectl run' in a namespace labelled istio-injection=enabled prints a pod
with an istio-proxy container) and Istio's own validation refuses invalid config. That
needs a version whose pilot-discovery is built (every version of the built-in catalog
builds); an istiod of another version stays fake and its webhooks cannot be reached. No
Envoy runs and no traffic flows: see docs/istiod-in-the-box.md.

bosun's operator is real too: install it from its manifests (kubectl apply --server-side
-f chart/crds -f deploy/bosun.yaml) and the box runs its pod with the bosun-operator
executable (--operator-binary), as the chart's ServiceAccount, with the Deployment's
arguments.

The cluster's programs, and pilot-discovery for each catalog version that builds, are
built by 'make cluster-bins' (make dev-cluster does that first, and builds bosun-operator).`,
		Args: cobra.NoArgs,
		RunE: f.runUntilInterrupted(runCluster),
	}
	f.add(cmd, 3)
	return cmd
}

// runCluster is bosun-dev cluster: the box with bosun's operator pods played by operator, and bosun's
// CRDs, until ctx ends.
func runCluster(ctx context.Context, cmd *cobra.Command, nodes int, operator string) error {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "cluster: starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with %d nodes…\n", nodes)
	startCtx, cancel := context.WithTimeout(ctx, testcluster.DefaultStartTimeout)
	defer cancel()
	// The box plays bosun's operator pods with the operator's executable, so bosun installed from its
	// manifests (deploy/bosun.yaml) runs for real, as its ServiceAccount.
	cluster, err := testcluster.Start(startCtx, testcluster.Options{Full: true, Nodes: nodes, Log: out, OperatorBinary: operator})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "cluster: stopping")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "cluster: stopping:", err)
		}
	}()

	fmt.Fprintln(out, "cluster: installing bosun's CRDs")
	if err := crd.Install(startCtx, cluster.Config(), time.Minute); err != nil {
		return err
	}

	fmt.Fprintf(out, `
The cluster is ready. In another shell:

  export KUBECONFIG=%s
  export PATH=%s:$PATH   # kubectl, built with the cluster
  kubectl get nodes
  kubectl get istio-io

Component logs are in %s (istiod's under istiod/, bosun's operator's
under operator/, what the box's network and pod players did in box.log). Press Ctrl-C to stop the cluster.
`, cluster.KubeconfigPath(), cluster.BinDir(), cluster.Dir())
	<-ctx.Done()
	return nil
}
