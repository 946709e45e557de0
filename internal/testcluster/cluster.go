// Package testcluster runs a real Kubernetes cluster on one machine, for
// integration and end-to-end tests and for `bosun-dev cluster`.
//
// The components are real programs built from Go modules by
// `make cluster-bins` (see hack/clusterbins): etcd and kube-apiserver always;
// with Options.Full also kube-controller-manager, kube-scheduler and kwok,
// which plays kubelet for fake nodes so that Deployments roll out and
// DaemonSets get a ready pod per node without any container running. Each
// cluster has its own temporary directory, free ports and freshly generated
// certificates, so clusters of parallel test binaries do not interfere.
// On Linux the components die with the process that started them, even one
// killed without running Stop, and the next Start removes the directory such
// a process left behind.
//
// Where the cluster differs from a production one, it is on purpose: the
// ServiceAccount and TaintNodesByCondition admission plugins are off (pods
// get no token volumes, new nodes no not-ready taint; in a full cluster a
// mutating admission policy names the "default" ServiceAccount in pods that
// name none), the kubernetes Service
// has no endpoints, and no address in it routes anywhere. Authorization is
// Node,RBAC, so RBAC rules are enforced for every identity but the admin.
//
// A full cluster plays some pods with real processes on this machine
// (player.go): istiod's with pilot-discovery, and bosun's operator's with a
// bosun-operator executable acting as the pod's ServiceAccount
// (docs/istiod-in-the-box.md).
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Options says which cluster to start.
type Options struct {
	// Full starts kube-controller-manager, kube-scheduler and kwok next to
	// the API server, so workloads are scheduled and their pods become
	// ready. Without it only etcd and the API server run: objects are
	// stored and validated, but no controller acts on them.
	Full bool
	// Nodes is the number of fake nodes to create and wait for, all Ready.
	// It needs Full.
	Nodes int
	// BinDir is the directory holding the programs. Empty means
	// $BOSUN_CLUSTER_BIN, else bin/cluster/<KubeVersion> in the repository.
	BinDir string
	// IstiodBinDir is the directory holding <catalog version>/pilot-discovery,
	// the programs that play istiod pods in a Full cluster. Empty means
	// $BOSUN_ISTIOD_BIN, else bin/istiod in the repository. A version without
	// a build leaves its istiod pods fake.
	IstiodBinDir string
	// OperatorBinary is the bosun-operator executable that plays bosun's operator
	// pods in a Full cluster (see operatorRole): installed from its
	// manifests, the operator then runs for real, as its ServiceAccount.
	// Empty leaves them fake.
	OperatorBinary string
	// OperatorResources is the folder of charts a played operator reads
	// where its container names the image's (/resources). Empty means
	// resources/ in the repository.
	OperatorResources string
	// Log receives one line per startup step. Nil discards them. Component
	// output never goes here; it is in log files in Dir.
	Log io.Writer
}

// DefaultStartTimeout bounds Start when its context has no deadline. A full
// cluster starts in well under a minute on two cores; the margin covers a
// loaded machine running several test binaries at once.
const DefaultStartTimeout = 3 * time.Minute

// Cluster is a running cluster. Stop it when done.
type Cluster struct {
	opts       Options
	bin        string
	dir        string
	config     *rest.Config
	kubeconfig string
	// processes in start order; Stop stops them in reverse. procMu guards the
	// slice, whose API server entry RestartAPIServer replaces.
	procMu    sync.Mutex
	processes []*process
	// apiServerArgs are kube-apiserver's flags, for RestartAPIServer.
	apiServerArgs []string
	// network and players exist in Full clusters: the API server reaches
	// pods through network, and players run the programs of istiod's and
	// bosun's pods (player.go).
	network *podNetwork
	players []*podPlayer
	// boxLog receives what the network and the players do, one line per
	// event; it is boxLogName in Dir.
	boxLog *lockedFile

	stopOnce sync.Once
	stopErr  error
}

// Start starts a cluster and returns once it is usable: the API server is
// ready, the default namespace exists and, with Options.Full, the
// controller manager and scheduler are healthy and every fake node is
// Ready. If ctx has no deadline, DefaultStartTimeout applies. On error
// nothing is left running, and the error ends with the tail of each
// component's log.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Nodes < 0 || opts.Nodes > maxNodes || (opts.Nodes > 0 && !opts.Full) {
		return nil, fmt.Errorf("testcluster: Options.Nodes must be 0, or between 1 and %d with Options.Full; got %d", maxNodes, opts.Nodes)
	}
	bin, err := binDir(opts)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if err := checkBinaries(bin, opts.Full); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}

	removeAbandoned(os.TempDir())
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	c := &Cluster{opts: opts, bin: bin, dir: dir}
	defer func() {
		if err != nil {
			logs := c.Logs(30)
			err = errors.Join(fmt.Errorf("testcluster: %w", err), c.Stop())
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()

	started := time.Now()
	if err := writeOwner(dir); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	c.logf("cluster ready in %s (kubeconfig %s)", time.Since(started).Round(100*time.Millisecond), c.kubeconfig)
	return c, nil
}

// start runs the components one after the other, each waiting for the one
// before it to serve.
func (c *Cluster) start(ctx context.Context) error {
	// Every port is chosen at once, so that no two components get the same
	// one. Another process asking for a free port at the same moment could
	// still take one before its component binds it; the component then
	// fails to start and its log says so. Outgoing connections, such as the
	// API server's many to etcd, hardly compete: Linux gives them ports of
	// the other parity first.
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedulerPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	p, err := newPKI(kubernetesServiceIP)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	files, err := p.writeFiles(filepath.Join(c.dir, "pki"))
	if err != nil {
		return err
	}
	c.config = adminConfig(fmt.Sprintf("https://127.0.0.1:%d", apiPort), p)
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := writeKubeconfig(c.kubeconfig, c.config); err != nil {
		return err
	}

	var egressConfig string
	if c.opts.Full {
		if egressConfig, err = c.startPodNetwork(); err != nil {
			return err
		}
	}
	if err := c.startEtcd(ctx, etcdClient, etcdPeer); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, apiPort, etcdClient, files, egressConfig); err != nil {
		return err
	}
	if !c.opts.Full {
		return nil
	}
	if err := c.installServiceAccountDefault(ctx); err != nil {
		return err
	}
	if err := c.startControllerManager(ctx, kcmPort, files); err != nil {
		return err
	}
	if err := c.startScheduler(ctx, schedulerPort); err != nil {
		return err
	}
	if err := c.startKwok(); err != nil {
		return err
	}
	if err := c.EnsureNodes(ctx, c.opts.Nodes); err != nil {
		return err
	}
	return c.startPlayers()
}

// startPlayers starts playing istiod's and bosun's pods.
func (c *Cluster) startPlayers() error {
	istiod, err := c.newIstiodRole()
	if err != nil {
		return err
	}
	operator, err := c.newOperatorRole()
	if err != nil {
		return err
	}
	for _, r := range []role{istiod, operator} {
		p, err := c.startPlayer(r)
		if err != nil {
			return err
		}
		c.players = append(c.players, p)
	}
	return nil
}

// boxLogf writes one line, with the time, to the box's log (boxLogName in
// Dir) and to Options.Log.
func (c *Cluster) boxLogf(format string, args ...any) {
	line := fmt.Sprintf(time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	_, _ = c.boxLog.Write([]byte(line))
	c.logf(format, args...)
}

// startPodNetwork opens the box's pod network (see network.go) and returns
// the API server's egress configuration file that sends webhook calls
// through it.
func (c *Cluster) startPodNetwork() (string, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, boxLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	c.boxLog = &lockedFile{f: f}
	socket := filepath.Join(c.dir, egressSocketName)
	if c.network, err = startPodNetwork(socket, c.boxLog); err != nil {
		return "", err
	}
	return writeEgressConfig(c.dir, socket)
}

// Config returns a copy of the admin's client configuration. The admin is in
// system:masters, so it may do anything.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// KubeconfigPath is the admin's kubeconfig file, with embedded credentials.
// It is removed by Stop.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// Played is the local address at which the process that plays a pod listens
// for podAddr (podIP:port), as the box's API server reaches it; false when no
// process plays it, or the cluster is not Full.
func (c *Cluster) Played(podAddr string) (string, bool) {
	if c.network == nil {
		return "", false
	}
	return c.network.lookup(podAddr)
}

// Route makes the connections this cluster's API server opens to addr
// (ip:port) reach local, as a gateway between clusters would: another box's
// played pod, say (Played). It replaces an earlier route to addr. It needs a
// Full cluster.
func (c *Cluster) Route(addr, local string) error {
	if c.network == nil {
		return errors.New("only a Full cluster routes its API server's connections")
	}
	c.network.route(addr, local)
	return nil
}

// BinDir is the directory of the programs the cluster runs, kubectl among them.
func (c *Cluster) BinDir() string { return c.bin }

// Dir is the cluster's temporary directory, holding data, certificates and
// one <component>.log per component. It is removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

// Stop stops every component, last started first, each with SIGTERM and,
// after a bounded grace period, SIGKILL; it returns once all have exited,
// then removes Dir. Calling it again returns the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		// Played pods first, while the API server they talk to still runs.
		for _, p := range c.players {
			p.stop()
		}
		c.procMu.Lock()
		processes := slices.Clone(c.processes)
		c.procMu.Unlock()
		for i := len(processes) - 1; i >= 0; i-- {
			errs = append(errs, processes[i].stop())
		}
		if c.network != nil {
			errs = append(errs, c.network.close())
		}
		if c.boxLog != nil {
			errs = append(errs, c.boxLog.close())
		}
		errs = append(errs, os.RemoveAll(c.dir))
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// Logs returns the last lines of every component's log, each under a
// header naming the component. Call it before Stop, which removes the logs.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, p := range c.allProcesses() {
		fmt.Fprintf(&b, "==> %s (pid %d), last %d lines of %s <==\n", p.name, p.pid(), lines, p.logPath)
		b.WriteString(p.tail(lines))
	}
	if c.boxLog != nil {
		path := filepath.Join(c.dir, boxLogName)
		fmt.Fprintf(&b, "==> pod network and played pods, last %d lines of %s <==\n", lines, path)
		b.WriteString(tailFile(path, lines))
	}
	return b.String()
}

// allProcesses lists the components, then every process that played a pod.
func (c *Cluster) allProcesses() []*process {
	c.procMu.Lock()
	all := slices.Clone(c.processes)
	c.procMu.Unlock()
	for _, p := range c.players {
		all = append(all, p.processes()...)
	}
	return all
}

// PlayedProcesses returns the process ids of the processes that play pods
// (pilot-discovery for istiod's, bosun for the operator's), by pod
// (namespace/name), for the pods played now.
func (c *Cluster) PlayedProcesses() map[string]int {
	pids := map[string]int{}
	for _, p := range c.players {
		maps.Copy(pids, p.running())
	}
	return pids
}

// logf writes one line to Options.Log, in a single Write so that a writer
// that logs each Write (like the one clustertest.Start uses) gets whole lines.
func (c *Cluster) logf(format string, args ...any) {
	_, _ = c.opts.Log.Write([]byte(fmt.Sprintf("testcluster: "+format+"\n", args...)))
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners are open at the same time so the kernel cannot hand out the
// same port twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
