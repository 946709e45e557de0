package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cluster networking. Nothing routes these addresses: kwok hands out pod IPs
// from podCIDR without any network behind them. They only need to be valid
// and not to overlap.
const (
	serviceCIDR = "10.96.0.0/16"
	podCIDR     = "10.244.0.0/16"
)

// kubernetesServiceIP is the first address of serviceCIDR, which the API
// server gives the default/kubernetes Service; its serving certificate
// names it as in-cluster clients expect.
var kubernetesServiceIP = net.IPv4(10, 96, 0, 1)

// pollInterval is how often startup checks are retried.
const pollInterval = 100 * time.Millisecond

// run starts a component from the cluster's bin directory with its log in
// <dir>/<name>.log and records it for Stop.
func (c *Cluster) run(name string, args []string, env ...string) error {
	p, err := startProcess(name, filepath.Join(c.bin, name), filepath.Join(c.dir, name+".log"), args, env)
	if err != nil {
		return err
	}
	c.procMu.Lock()
	c.processes = append(c.processes, p)
	c.procMu.Unlock()
	c.logf("started %s (pid %d)", name, p.pid())
	return nil
}

// startEtcd starts a single-member etcd with its data in the cluster
// directory and waits until it reports healthy.
func (c *Cluster) startEtcd(ctx context.Context, clientPort, peerPort int) error {
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	err := c.run(etcdBin, []string{
		"--name=testcluster",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testcluster=" + peerURL,
		// Losing the data of a throwaway cluster on a power cut is fine;
		// fsync on every write makes the API server several times slower.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	return c.waitFor(ctx, "etcd to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, client, clientURL+"/health")
	})
}

// startAPIServer starts kube-apiserver on the loopback address and waits for
// /readyz and for the default namespace, which the API server creates
// shortly after it is ready and which most tests use at once.
//
// With an egress configuration (Full clusters), webhooks are called at the
// pod IPs behind their Service, through the box's pod network.
func (c *Cluster) startAPIServer(ctx context.Context, port, etcdPort int, files pkiFiles, egressConfig string) error {
	args := []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(c.dir, "apiserver"),
		"--tls-cert-file=" + files.servingCert,
		"--tls-private-key-file=" + files.servingKey,
		"--client-ca-file=" + files.caCert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + files.serviceAccountPub,
		"--service-account-signing-key-file=" + files.serviceAccountKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		// TaintNodesByCondition puts the not-ready taint on every new node;
		// only a kubelet-driven node lifecycle removes it again, so fake
		// nodes would stay unschedulable. ServiceAccount admission refuses
		// pods until the controller manager has created the namespace's
		// default ServiceAccount, which never happens without Full, and
		// mounts token volumes that no fake node reads.
		"--disable-admission-plugins=TaintNodesByCondition,ServiceAccount",
		// Istio's CNI and ztunnel pods are privileged.
		"--allow-privileged=true",
		// The API server would publish its loopback address as the
		// endpoint of the kubernetes Service, which Endpoints validation
		// refuses, and then log the failure forever.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	if egressConfig != "" {
		args = append(args,
			"--enable-aggregator-routing=true",
			"--egress-selector-config-file="+egressConfig,
		)
	}
	c.apiServerArgs = args
	if err := c.run(apiServerBin, args); err != nil {
		return err
	}
	if err := c.waitAPIServerReady(ctx); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "the default namespace", func(ctx context.Context) error {
		_, err := client.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		return err
	})
}

// waitAPIServerReady waits until the API server answers /readyz.
func (c *Cluster) waitAPIServerReady(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-apiserver to be ready", func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// RestartAPIServer stops kube-apiserver as a rolling restart of a control plane node does (SIGTERM,
// then SIGKILL after a grace period) and starts it again with the same flags, port, certificates and
// etcd, so that every client keeps its configuration; it returns once the new one is ready. Clients
// see their connections and watches end and must reconnect, as they must in a real cluster. If ctx has
// no deadline, DefaultStartTimeout applies.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	c.procMu.Lock()
	i := slices.IndexFunc(c.processes, func(p *process) bool { return p.name == apiServerBin })
	var old *process
	if i >= 0 {
		old = c.processes[i]
	}
	c.procMu.Unlock()
	if old == nil {
		return errors.New("testcluster: the cluster runs no kube-apiserver")
	}
	if err := old.stop(); err != nil {
		return fmt.Errorf("testcluster: stopping kube-apiserver: %w", err)
	}
	c.logf("stopped %s (pid %d) to restart it", apiServerBin, old.pid())
	p, err := startProcess(apiServerBin, filepath.Join(c.bin, apiServerBin), old.logPath, c.apiServerArgs, nil)
	if err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	c.procMu.Lock()
	c.processes[i] = p
	c.procMu.Unlock()
	c.logf("restarted %s (pid %d)", apiServerBin, p.pid())
	if err := c.waitAPIServerReady(ctx); err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	return nil
}

// startControllerManager starts kube-controller-manager with the admin
// kubeconfig and waits for its /healthz. Leader election is off: it is the
// only instance, and electing would delay the start by a lease period.
//
// Neither it nor the scheduler gets --authentication-kubeconfig: delegated
// authentication would need the API server's front-proxy CA, which nothing
// here uses, and without it they log an error every few seconds. /healthz
// needs no authentication either way.
func (c *Cluster) startControllerManager(ctx context.Context, port int, files pkiFiles) error {
	err := c.run(controllerManagerBin, []string{
		"--kubeconfig=" + c.kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(c.dir, "kube-controller-manager"),
		// Without the key the token controller does not run and no
		// ServiceAccount token Secrets can be created.
		"--service-account-private-key-file=" + files.serviceAccountKey,
		// Published as the kube-root-ca.crt ConfigMap in every namespace,
		// which Istio's workloads mount.
		"--root-ca-file=" + files.caCert,
		"--cluster-signing-cert-file=" + files.caCert,
		"--cluster-signing-key-file=" + files.caKey,
		"--profiling=false",
	})
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-controller-manager to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, selfSignedClient, fmt.Sprintf("https://127.0.0.1:%d/healthz", port))
	})
}

// startScheduler starts kube-scheduler and waits for its /healthz.
func (c *Cluster) startScheduler(ctx context.Context, port int) error {
	err := c.run(schedulerBin, []string{
		"--kubeconfig=" + c.kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(c.dir, "kube-scheduler"),
		"--profiling=false",
	})
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-scheduler to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, selfSignedClient, fmt.Sprintf("https://127.0.0.1:%d/healthz", port))
	})
}

// startKwok starts kwok for the nodes that carry fakeNodeAnnotation, with the
// stage files copied by `make cluster-bins`. kwok has no health endpoint
// unless it serves one on yet another port; the nodes becoming Ready (see
// EnsureNodes) is the proof that it works.
//
// istiod's and bosun's operator pods get a stage of their own (see
// stages.go): kwok starts them but leaves their readiness to their player.
func (c *Cluster) startKwok() error {
	stages, err := writePlayedStages(filepath.Join(c.bin, kwokStagesDir), filepath.Join(c.dir, kwokStagesDir))
	if err != nil {
		return err
	}
	return c.run(kwokBin, []string{
		"--kubeconfig=" + c.kubeconfig,
		"--config=" + strings.Join(stages, ","),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation + "=" + fakeNodeAnnotationValue,
		// kwok renews each node's Lease, so the node lifecycle controller
		// keeps the nodes Ready; 40s is the kubelet's default.
		"--node-lease-duration-seconds=40",
		"--cidr=" + podCIDR,
	},
		// kwok also reads ~/.kwok/kwok.yaml if it exists; a work directory
		// of its own keeps a developer's kwok setup out of the tests.
		"KWOK_WORKDIR="+filepath.Join(c.dir, "kwok"),
	)
}

// waitFor calls check every pollInterval until it returns nil. It fails
// when ctx ends, with check's last error, or as soon as any component has
// exited, since then the cluster cannot become ready.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	c.logf("waiting for %s", what)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		for _, p := range c.processes {
			if err := p.exitError(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		// Each attempt is bounded so that one hung request cannot use up
		// the whole start timeout.
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// selfSignedClient probes the health endpoints of the controller manager and
// scheduler. They serve with certificates they generate for themselves at
// start, which nothing could verify, and the probe carries no secrets.
var selfSignedClient = &http.Client{
	Timeout: time.Second,
	Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	},
}

// httpOK returns nil if GET url answers 200.
func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
