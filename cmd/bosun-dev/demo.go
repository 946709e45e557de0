package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

func newDemoCommand() *cobra.Command {
	var f boxFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Install bosun as a user does on the cluster in a box, then a mesh and bookinfo, and show them (make demo)",
		Long: `demo starts the cluster in a box (see bosun-dev cluster --help) and installs bosun as a
user does: the CRDs and deploy/bosun.yaml with kubectl apply --server-side, the operator
running in its pod as its ServiceAccount, played by the bosun-operator executable
(--operator-binary); then an IstioCNI and an Istio, and the bookinfo sample in a namespace
labelled istio-injection=enabled, printing every kubectl command and its output
(docs/demo.md). It runs until Ctrl-C, which stops every process and removes its files.

The Istio version is the catalog's default if its pilot-discovery builds, else the newest
that does. What is missing is built from the repository first: the cluster's programs
(go run ./hack/clusterbins) beside that one version's pilot-discovery
(go run ./hack/istiodbins -version <version>).`,
		Args: cobra.NoArgs,
		RunE: f.runUntilInterrupted(runDemo),
	}
	f.add(cmd, 3)
	return cmd
}

// runDemo is bosun-dev demo: it picks the Istio version (building its pilot-discovery when it never
// was), starts the cluster in a box with bosun's operator pod played by operator, runs the demo's
// steps (internal/demo), prints how to keep going and waits for Ctrl-C.
func runDemo(ctx context.Context, cmd *cobra.Command, nodes int, operator string) error {
	out := cmd.OutOrStdout()
	s, err := setUp(ctx, out)
	if err != nil {
		return err
	}
	root, cat, istiodDir, version := s.root, s.cat, s.istiodDir, s.version

	fmt.Fprintf(out, "demo: starting the cluster in a box: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with %d nodes…\n", nodes)
	cluster, stop, err := startBox(ctx, cmd, nodes, operator)
	if err != nil {
		return err
	}
	defer stop()
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
			ok, _ := demo.IstiodReady(istiodDir, v, nil)
			return ok
		}),
	}.Write(out)
	<-ctx.Done()
	return nil
}

// demoSetup is what both demos start from: bosun's repository, the catalog, where istiod's builds are,
// and the Istio version to install.
type demoSetup struct {
	root, istiodDir string
	cat             *catalog.Catalog
	version         demo.Version
}

// setUp finds the repository and builds what the demo needs and is missing (prepare).
func setUp(ctx context.Context, out io.Writer) (demoSetup, error) {
	root, err := repo.Root()
	if err != nil {
		return demoSetup{}, fmt.Errorf("the demo runs from bosun's repository (it applies chart/crds/ and deploy/bosun.yaml): %w", err)
	}
	s := demoSetup{root: root, cat: catalog.Embedded()}
	if s.istiodDir, err = testcluster.IstiodBinDir(testcluster.Options{}); err != nil {
		return s, err
	}
	s.version, err = prepare(ctx, out, root, s.cat, s.istiodDir)
	return s, err
}

// prepare builds what the demo runs and is missing, the cluster's programs beside istiod: on a fresh
// machine both take minutes, and while one downloads modules or links, the other compiles. It
// returns the Istio version to install. Their output lines are kept whole.
func prepare(ctx context.Context, out io.Writer, root string, cat *catalog.Catalog, istiodDir string) (demo.Version, error) {
	shared := &lineMux{out: out}
	programs := make(chan error, 1)
	if os.Getenv(testcluster.BinDirEnv) != "" {
		programs <- nil // the user gives the cluster's programs
	} else {
		go func() { programs <- goRun(ctx, shared.writer(), root, "./hack/clusterbins") }()
	}
	w := shared.writer()
	fmt.Fprintf(w, "demo: choosing the Istio version: the catalog's default %s if its istiod (pilot-discovery) builds, else the newest that does\n", cat.Default())
	version, chooseErr := demo.ChooseVersion(cat, istiodDir, func(v string) error {
		fmt.Fprintf(w, "demo: building istiod %s (first time: about 10 minutes)\n", v)
		return goRun(ctx, w, root, "./hack/istiodbins", "-version", v, "-out", istiodDir)
	})
	if err := <-programs; err != nil {
		return demo.Version{}, fmt.Errorf("building the cluster's programs (go run ./hack/clusterbins): %w", err)
	}
	return version, chooseErr
}

// goRun runs `go run <args>` in the repository, its output to out. The go command and what it runs
// (a builder, which runs go build in turn) share a process group of their own, and all of it is
// killed when ctx ends: killing the go command alone would leave the builder writing into bin/.
func goRun(ctx context.Context, out io.Writer, root string, args ...string) error {
	fmt.Fprintf(out, "demo: go run %s\n", strings.Join(args, " "))
	build := exec.CommandContext(ctx, "go", append([]string{"run"}, args...)...)
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	ownProcessGroup(build)
	return build.Run()
}

// lineMux writes the lines of several writers to out, each line whole.
type lineMux struct {
	mu  sync.Mutex
	out io.Writer
}

func (m *lineMux) writer() io.Writer { return &lineWriter{mux: m} }

// lineWriter holds a partial line until its end arrives.
type lineWriter struct {
	mux     *lineMux
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.mux.mu.Lock()
		_, err := w.mux.out.Write(w.partial[:i+1])
		w.mux.mu.Unlock()
		w.partial = w.partial[i+1:]
		if err != nil {
			return len(p), err
		}
	}
}

// startBox starts a demo's cluster and returns it with the function that stops it and removes its
// files, saying so.
func startBox(ctx context.Context, cmd *cobra.Command, nodes int, operator string) (*testcluster.Cluster, func(), error) {
	out := cmd.OutOrStdout()
	startCtx, cancel := context.WithTimeout(ctx, testcluster.DefaultStartTimeout)
	defer cancel()
	cluster, err := testcluster.Start(startCtx, demoClusterOptions(nodes, out, operator))
	if err != nil {
		return nil, nil, err
	}
	return cluster, func() {
		fmt.Fprintln(out, "demo: stopping every process and removing", cluster.Dir())
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "demo: stopping:", err)
		}
	}, nil
}

// demoClusterOptions is the demo's cluster: full, with the operator's pods played by operator, so that
// bosun installed from deploy/bosun.yaml runs as its ServiceAccount.
func demoClusterOptions(nodes int, log io.Writer, operator string) testcluster.Options {
	return testcluster.Options{Full: true, Nodes: nodes, Log: log, OperatorBinary: operator}
}
