package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/platform"
)

// operatorOptions are the flags of `bosun operator`.
type operatorOptions struct {
	kubeconfig              string
	metricsAddr, healthAddr string
	leaderElect             bool
	leaderElectionNamespace string
	versionsFile            string
	resources               string
	platform                string
	logLevel                int
	logJSON                 bool
	adopt                   []string
}

func newOperatorCommand() *cobra.Command {
	o := &operatorOptions{}
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the operator: reconcile Istio, IstioRevision and the other sailoperator.io resources",
		Long: `operator runs bosun's controllers against a cluster until it receives SIGTERM or SIGINT.
In a cluster it uses the pod's service account; elsewhere --kubeconfig or $KUBECONFIG.

Several replicas may run: one leads (a Lease in --leader-election-namespace) and the others wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runOperator(o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 turns it off")
	f.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	f.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader among replicas, so that one reconciles at a time")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", defaultNamespace(), "namespace of the leader election Lease (default: $POD_NAMESPACE, else kube-system)")
	f.StringVar(&o.versionsFile, "versions-file", "", "version catalog to use instead of the built-in one (also $"+catalog.EnvFile+")")
	f.StringVar(&o.resources, "resources-dir", "", "folder of fetched charts (default: $BOSUN_RESOURCES, else ./resources)")
	f.StringVar(&o.platform, "platform", "auto", "platform to render for: auto (detect), kubernetes or openshift")
	f.StringSliceVar(&o.adopt, "adopt-from", nil, "field managers (such as helm or sail-operator) whose objects bosun may take over when its charts render an object that already exists; without it, such an object is refused with a condition naming its managers")
	f.IntVar(&o.logLevel, "log-level", 0, "log verbosity: 0 logs changes to the cluster, 1 every reconcile, 2 and up more detail")
	f.BoolVar(&o.logJSON, "log-json", false, "log as JSON lines instead of text")
	return cmd
}

// defaultNamespace is the operator pod's namespace, from the downward API, else kube-system, which
// every cluster has.
func defaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "kube-system"
}

func runOperator(o *operatorOptions) error {
	log := newLogger(o.logLevel, o.logJSON)
	ctrl.SetLogger(log)
	klog.SetLogger(log)

	plat, auto, err := platform.Parse(o.platform)
	if err != nil {
		return err
	}
	if auto {
		plat = ""
	}
	cat, charts, err := catalogAndCharts(o.versionsFile, o.resources)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
		&clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("loading the cluster's client configuration: %w", err)
	}
	mgr, err := operator.New(cfg, operator.Options{
		Catalog: cat, Resources: charts, Platform: plat, BosunVersion: buildVersion(),
		MetricsAddr: o.metricsAddr, HealthAddr: o.healthAddr,
		LeaderElection: o.leaderElect, LeaderElectionNamespace: o.leaderElectionNamespace,
		Adopt: o.adopt,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("starting bosun operator", "version", buildVersion(), "catalog default", cat.Default())
	return mgr.Start(ctx)
}

// newLogger logs with the standard library's slog: level 0 is Info, each level above is one step of
// logr verbosity (V(1) is slog's Debug).
func newLogger(level int, json bool) logr.Logger {
	opts := &slog.HandlerOptions{Level: slog.Level(-level)}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if json {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return logr.FromSlogHandler(h)
}
