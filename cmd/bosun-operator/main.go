// Command bosun-operator is bosun's operator: it reconciles Istio, IstioRevision, IstioRevisionTag,
// IstioCNI and ZTunnel until it receives SIGTERM or SIGINT. It is the program of bosun's image, which
// the chart's Deployment runs; it has no subcommands, only the flags below.
//
// It links only what the operator runs. The commands for users (bosun render) are the bosun binary
// (cmd/bosun), and the cluster in a box and the demo are bosun-dev's (cmd/bosun-dev); a test of this
// package fails if the operator links the box, the demo or test helpers.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/bosun-mesh/bosun/internal/buildinfo"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/platform"
)

// program is the binary's name: the image's entrypoint is /bosun-operator.
const program = "bosun-operator"

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// operatorOptions are the flags of bosun-operator.
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
	manageIstioCRDs         bool
	externalNodeComponents  []string
	memoryLimit             string
	pprofAddr               string
	lease                   operator.LeaseTimings
	inUseRefreshInterval    time.Duration
	apiQPS                  float32
	apiBurst                int
}

func newCommand() *cobra.Command {
	o := &operatorOptions{}
	cmd := &cobra.Command{
		Use:   program + " [flags]",
		Short: "bosun's operator: reconcile Istio, IstioRevision and the other sailoperator.io resources",
		Long: fmt.Sprintf(`bosun-operator runs bosun's controllers against a cluster until it receives SIGTERM or SIGINT.
In a cluster it uses the pod's service account; elsewhere --kubeconfig or $KUBECONFIG.

Several replicas may run: one leads (a Lease in --leader-election-namespace) and the others wait.
On SIGTERM the leader stops its controllers (reconciles under way are cancelled; it waits up to %s
for them to return), releases the Lease and exits; another replica takes over at once.`, operator.ShutdownGrace),
		Args:          cobra.NoArgs,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runOperator(o) },
	}
	cmd.SetVersionTemplate(buildinfo.String(program) + "\n")
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 turns it off")
	f.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	f.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader among replicas, so that one reconciles at a time")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", defaultNamespace(), "namespace of the leader election Lease (default: $POD_NAMESPACE, else kube-system)")
	f.DurationVar(&o.lease.Duration, "leader-election-lease-duration", operator.DefaultLease.Duration, "how long after it saw the leader's last renewal another replica may take the Lease (whole seconds); longer than the renew deadline plus the retry period")
	f.DurationVar(&o.lease.RenewDeadline, "leader-election-renew-deadline", operator.DefaultLease.RenewDeadline, "how long the leader keeps trying to renew the Lease (through an API server outage, say) before it stops leading and exits")
	f.DurationVar(&o.lease.RetryPeriod, "leader-election-retry-period", operator.DefaultLease.RetryPeriod, "how often the leader renews the Lease; the other replicas watch it and take it once it is released or expires, and try this often only when they cannot watch it")
	f.DurationVar(&o.inUseRefreshInterval, "in-use-refresh-interval", controller.CountRefreshInterval, "how often, at most, a revision's or tag's InUse condition is rewritten when only its namespace and pod counts changed (at least 1s; 0 means the default); "+
		"shorter shows the counts sooner during a migration, at the cost of more status writes while pods roll")
	f.StringVar(&o.versionsFile, "versions-file", "", "version catalog to use instead of the built-in one (also $"+catalog.EnvFile+")")
	f.StringVar(&o.resources, "resources-dir", "", "folder of fetched charts (default: $"+catalog.EnvResources+", else ./resources)")
	f.StringVar(&o.platform, "platform", "auto", "platform to render for: auto (detect), kubernetes or openshift")
	f.StringSliceVar(&o.adopt, "adopt-from", nil, "field managers (such as helm or sail-operator) whose objects bosun may take over when its charts render an object that already exists; without it, such an object is refused with a condition naming its managers")
	f.BoolVar(&o.manageIstioCRDs, "manage-istio-crds", true, "keep Istio's CRDs (VirtualService, AuthorizationPolicy, …) at the newest Istio version in use; false when another tool installs them, and bosun then touches no CRD")
	f.StringSliceVar(&o.externalNodeComponents, "external-node-components", nil, "node components another tool manages, of cni and ztunnel: control planes that need them "+
		"do not wait for an IstioCNI or ZTunnel resource, and DependenciesHealthy does not check them (see docs/node-components.md)")
	f.IntVar(&o.logLevel, "log-level", 0, "log verbosity: 0 logs changes to the cluster, 1 every reconcile, 2 and up more detail")
	f.BoolVar(&o.logJSON, "log-json", false, "log as JSON lines instead of text")
	f.StringVar(&o.memoryLimit, "memory-limit", "auto", "memory the operator may use, such as 128Mi: the Go runtime collects garbage more often as its memory nears "+
		"this limit less 32Mi kept for the binary's own pages. auto reads the container's limit (cgroup memory.max); none sets no limit. $GOMEMLIMIT, when set, wins")
	f.Float32Var(&o.apiQPS, "kube-api-qps", 50, "requests per second the operator sends to the API server for each kind of object, on average; "+
		"client-go's default (5) held ten meshes installed together for seconds")
	f.IntVar(&o.apiBurst, "kube-api-burst", 100, "requests the operator may send to the API server at once for each kind of object, above --kube-api-qps")
	f.StringVar(&o.pprofAddr, "pprof-bind-address", "", "address of Go's profiling endpoints (/debug/pprof/), to investigate the operator's CPU and memory; empty turns them off")
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

	memoryLimit, err := setMemoryLimit(o.memoryLimit)
	if err != nil {
		return err
	}
	plat, auto, err := platform.Parse(o.platform)
	if err != nil {
		return err
	}
	if auto {
		plat = ""
	}
	cat, err := catalog.Load(o.versionsFile)
	if err != nil {
		return err
	}
	charts, err := catalog.Charts(o.resources)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
		&clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("loading the cluster's client configuration: %w", err)
	}
	if o.apiQPS <= 0 || o.apiBurst <= 0 {
		return fmt.Errorf("--kube-api-qps (%g) and --kube-api-burst (%d) must be positive", o.apiQPS, o.apiBurst)
	}
	cfg.QPS, cfg.Burst = o.apiQPS, o.apiBurst
	mgr, err := operator.New(cfg, operator.Options{
		Catalog: cat, Resources: charts, Platform: plat, BosunVersion: buildinfo.Version(),
		MetricsAddr: o.metricsAddr, HealthAddr: o.healthAddr,
		LeaderElection: o.leaderElect, LeaderElectionNamespace: o.leaderElectionNamespace,
		Adopt: o.adopt, LeaveIstioCRDs: !o.manageIstioCRDs, ExternalNodeComponents: o.externalNodeComponents,
		Lease: o.lease, InUseRefreshInterval: o.inUseRefreshInterval,
	})
	if err != nil {
		return err
	}
	// SIGTERM (the kubelet stopping the pod) cancels the manager's context: it cancels the
	// reconciles, waits for them (internal/operator.ShutdownGrace), then releases the Lease.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if o.pprofAddr != "" {
		if err := servePprof(ctx, o.pprofAddr, log); err != nil {
			return err
		}
	}
	log.Info("starting bosun-operator", "version", buildinfo.Version(), "catalog default", cat.Default(), "go memory limit", memoryLimit)
	go releaseWhenIdle(ctx, log)
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

// servePprof serves Go's profiling endpoints on addr until ctx ends. They are off unless asked for:
// a CPU profile or a trace costs the operator while it runs.
func servePprof(ctx context.Context, addr string, log logr.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-bind-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "serving the profiling endpoints")
		}
	}()
	log.Info("serving Go's profiling endpoints", "address", l.Addr().String())
	return nil
}
