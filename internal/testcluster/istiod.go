package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The istiod player runs a real pilot-discovery on this machine for every
// istiod pod that kwok runs, so the box's istiod serves sidecar injection and
// Istio config validation and patches its own webhooks as in production.
// docs/istiod-in-the-box.md describes what it does and does not simulate.
//
// For each pod labelled app=istiod (any revision, any namespace) that kwok
// has given an address, the player:
//   - picks the pilot-discovery built for the pod's Istio version (see
//     istiodBinaries.pick); without one the pod stays fake and is made Ready
//     at once, as kwok makes every other pod;
//   - materialises the ConfigMaps and Secrets that the container mounts into
//     a directory of its own, at their mount paths, and runs the process in
//     that directory: istiod's default file paths (./etc/istio/config/mesh,
//     ./var/lib/istio/inject, ./etc/cacerts) are relative, so they find them;
//   - runs `pilot-discovery` with the container's args and env, the box's
//     admin kubeconfig, and every listener moved to a free loopback port;
//   - routes the pod's IP and container ports to those ports in the box's pod
//     network, so webhooks reach it;
//   - sets the pod's Ready condition from the container's readiness probe
//     (istiod's GET :8080/ready), once a second;
//   - stops the process when the pod goes away, and restarts it, as a kubelet
//     would, if it exits while the pod lives.

// IstiodBinDirEnv names the environment variable that, when set, is the
// directory holding <catalog version>/pilot-discovery, used instead of the
// repository's bin/istiod.
const IstiodBinDirEnv = "BOSUN_ISTIOD_BIN"

// pilotDiscoveryBin is the program's name under bin/istiod/<version>/.
const pilotDiscoveryBin = "pilot-discovery"

// probeInterval is how often a played pod's readiness is probed.
const probeInterval = time.Second

// restartDelay is how long the player waits before restarting a process that
// exited while its pod lives, as a kubelet's back-off does.
const restartDelay = 5 * time.Second

// pilotListeners maps istiod's container ports to the pilot-discovery flags
// that move their listener. Any other container port is routed to nothing.
var pilotListeners = map[int32]string{
	8080:  "--httpAddr",
	15010: "--grpcAddr",
	15012: "--secureGRPCAddr",
	15014: "--monitoringAddr",
	15017: "--httpsAddr",
}

var istioRevisionResource = schema.GroupVersionResource{Group: "sailoperator.io", Version: "v1", Resource: "istiorevisions"}

// istiodPlayer plays the box's istiod pods.
type istiodPlayer struct {
	client     kubernetes.Interface
	dynamic    dynamic.Interface
	network    *podNetwork
	kubeconfig string
	bins       istiodBinaries
	dir        string
	logf       func(format string, args ...any)

	cancel  context.CancelFunc
	done    chan struct{}
	factory informers.SharedInformerFactory
	queue   workqueue.TypedRateLimitingInterface[types.NamespacedName]

	mu      sync.Mutex
	played  map[types.NamespacedName]*playedPod
	history []*process // every process ever started, for Logs
	fake    map[string]bool
	wg      sync.WaitGroup
}

// playedPod is the player of one pod.
type playedPod struct {
	uid    types.UID
	cancel context.CancelFunc
	done   chan struct{}
	// proc is the running process, nil between restarts; guarded by the
	// player's mu.
	proc *process
}

// startIstiodPlayer starts watching istiod pods.
func (c *Cluster) startIstiodPlayer() error {
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return err
	}
	bins, err := findIstiodBinaries(c.opts)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		_, _ = c.boxLog.Write([]byte(line))
		c.logf(format, args...)
	}
	if len(bins) == 0 {
		logf("istiod: no pilot-discovery built (run `make istiod-bins`): istiod pods stay fake")
	} else {
		logf("istiod: pods are played by pilot-discovery %s", strings.Join(bins.versions(), ", "))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &istiodPlayer{
		client: cs, dynamic: dyn, network: c.network, kubeconfig: c.kubeconfig, bins: bins,
		dir: filepath.Join(c.dir, "istiod"), logf: logf,
		cancel: cancel, done: make(chan struct{}),
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		played: map[types.NamespacedName]*playedPod{}, fake: map[string]bool{},
	}
	p.factory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = playedLabel + "=" + playedValue
	}))
	pods := p.factory.Core().V1().Pods()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			p.queue.Add(types.NamespacedName{Namespace: ns, Name: name})
		}
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		cancel()
		return err
	}
	p.factory.Start(ctx.Done())
	go func() {
		defer close(p.done)
		for p.next(ctx) {
		}
	}()
	c.player = p
	return nil
}

// next handles one queued pod; it returns false once the player stops.
func (p *istiodPlayer) next(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	if err := p.sync(ctx, key); err != nil {
		if ctx.Err() != nil {
			p.queue.Forget(key)
			return true
		}
		p.logf("istiod: %s: %v (retrying)", key, err)
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

// sync starts or stops the player of one pod so that exactly the pods that
// exist, are not being deleted and have an address are played.
func (p *istiodPlayer) sync(ctx context.Context, key types.NamespacedName) error {
	pod, err := p.factory.Core().V1().Pods().Lister().Pods(key.Namespace).Get(key.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	live := err == nil && pod.DeletionTimestamp == nil && pod.Status.PodIP != "" && pod.Status.Phase == corev1.PodRunning
	p.mu.Lock()
	current := p.played[key]
	p.mu.Unlock()
	if current != nil && (!live || current.uid != pod.UID) {
		p.stopPod(key, current)
		current = nil
	}
	if !live || current != nil {
		return nil
	}
	return p.startPod(ctx, pod.DeepCopy())
}

// startPod starts playing pod: a process if a pilot-discovery fits its
// version, else only its readiness.
func (p *istiodPlayer) startPod(ctx context.Context, pod *corev1.Pod) error {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	version := p.version(ctx, pod)
	binary, played := p.bins.pick(version)
	if !played {
		p.mu.Lock()
		first := !p.fake[version]
		p.fake[version] = true
		p.mu.Unlock()
		if first {
			p.logf("istiod: no pilot-discovery built for Istio %q: its pods stay fake (Ready without a process)", version)
		}
		return p.setReady(ctx, pod, true)
	}
	podCtx, cancel := context.WithCancel(ctx)
	pp := &playedPod{uid: pod.UID, cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	p.played[key] = pp
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(pp.done)
		p.play(podCtx, pp, pod, version, binary)
	}()
	return nil
}

// stopPod stops a pod's process and waits for it to exit.
func (p *istiodPlayer) stopPod(key types.NamespacedName, pp *playedPod) {
	pp.cancel()
	<-pp.done
	p.mu.Lock()
	if p.played[key] == pp {
		delete(p.played, key)
	}
	p.mu.Unlock()
}

// stop stops watching and every process, and returns once they have exited.
func (p *istiodPlayer) stop() {
	p.cancel()
	p.queue.ShutDown()
	<-p.done
	p.factory.Shutdown()
	p.mu.Lock()
	played := make(map[types.NamespacedName]*playedPod, len(p.played))
	for k, v := range p.played {
		played[k] = v
	}
	p.mu.Unlock()
	for k, pp := range played {
		p.stopPod(k, pp)
	}
	p.wg.Wait()
}

func (p *istiodPlayer) setProcess(pp *playedPod, proc *process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp.proc = proc
}

// running returns the process id playing each pod, by namespace/name.
func (p *istiodPlayer) running() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := map[string]int{}
	for key, pp := range p.played {
		if pp.proc != nil {
			pids[key.String()] = pp.proc.pid()
		}
	}
	return pids
}

// processes returns every process the player has started, in start order.
func (p *istiodPlayer) processes() []*process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.history)
}

// version is the Istio version of an istiod pod: its IstioRevision's
// spec.version, found through the pod's istio.io/rev label, or else its
// image's tag.
func (p *istiodPlayer) version(ctx context.Context, pod *corev1.Pod) string {
	if rev := pod.Labels["istio.io/rev"]; rev != "" {
		obj, err := p.dynamic.Resource(istioRevisionResource).Get(ctx, rev, metav1.GetOptions{})
		if err == nil {
			if v, ok, _ := unstructuredString(obj.Object, "spec", "version"); ok && v != "" {
				return v
			}
		}
	}
	if len(pod.Spec.Containers) > 0 {
		image := pod.Spec.Containers[0].Image
		if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
			return "v" + strings.TrimPrefix(image[i+1:], "v")
		}
	}
	return ""
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur, ok = m[f]
		if !ok {
			return "", false, nil
		}
	}
	s, ok := cur.(string)
	return s, ok, nil
}

// play runs pod's process until ctx ends, restarting it if it exits, and
// keeps the pod's Ready condition equal to its probe.
func (p *istiodPlayer) play(ctx context.Context, pp *playedPod, pod *corev1.Pod, version, binary string) {
	key := pod.Namespace + "/" + pod.Name
	workDir := filepath.Join(p.dir, pod.Namespace+"_"+pod.Name)
	ready := false
	setReady := func(r bool) {
		if r == ready {
			return
		}
		if err := p.setReady(ctx, pod, r); err != nil {
			if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				p.logf("istiod: %s: setting Ready=%t: %v", key, r, err)
			}
			return
		}
		ready = r
		p.logf("istiod: %s is Ready=%t", key, r)
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(restartDelay):
			}
		}
		run, err := p.launch(ctx, pod, version, binary, workDir)
		if err != nil {
			p.logf("istiod: %s: %v", key, err)
			continue
		}
		p.logf("istiod: %s played by pilot-discovery %s (pid %d, webhook at %s, log %s)", key, version, run.proc.pid(), run.webhook, run.proc.logPath)
		p.setProcess(pp, run.proc)
		p.watchProcess(ctx, run, setReady)
		p.network.unroute(run.podAddrs...)
		if ctx.Err() != nil {
			if err := run.proc.stop(); err != nil {
				p.logf("istiod: %s: %v", key, err)
			}
			p.setProcess(pp, nil)
			p.logf("istiod: %s: pod gone, pilot-discovery (pid %d) stopped", key, run.proc.pid())
			return
		}
		p.setProcess(pp, nil)
		setReady(false)
		p.logf("istiod: %s: %v; restarting in %s", key, run.proc.exitError(), restartDelay)
	}
}

// watchProcess probes run until it exits or ctx ends.
func (p *istiodPlayer) watchProcess(ctx context.Context, run *pilotRun, setReady func(bool)) {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-run.proc.done:
			return
		case <-ticker.C:
			probeCtx, cancel := context.WithTimeout(ctx, probeInterval)
			err := httpOK(probeCtx, probeClient, run.probeURL)
			cancel()
			setReady(err == nil)
		}
	}
}

// probeClient probes played pods; a probe is a plain HTTP GET, as the
// kubelet's.
var probeClient = &http.Client{Timeout: probeInterval}

// pilotRun is one running process of a played pod.
type pilotRun struct {
	proc     *process
	podAddrs []string
	probeURL string
	webhook  string
}

// launch prepares workDir and starts pilot-discovery for pod.
func (p *istiodPlayer) launch(ctx context.Context, pod *corev1.Pod, version, binary, workDir string) (*pilotRun, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, errors.New("the pod has no container")
	}
	container := pod.Spec.Containers[0]
	if err := os.RemoveAll(workDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	if err := p.materialise(ctx, pod, container, workDir); err != nil {
		return nil, err
	}
	env, err := p.env(ctx, pod, container)
	if err != nil {
		return nil, err
	}

	// Every listener moves to a free loopback port: several istiods run on
	// one machine, and their pod ports all collide. ctrlz (9876) is not a
	// pod port but would collide too.
	ports, err := freePorts(len(container.Ports) + 1)
	if err != nil {
		return nil, err
	}
	args := slices.Clone(container.Args)
	if len(container.Command) > 1 {
		// A command with arguments (for example a wrapper) is not what the
		// istiod chart renders; run only the program's arguments.
		args = append(slices.Clone(container.Command[1:]), args...)
	}
	run := &pilotRun{}
	local := map[int32]string{}
	for i, port := range container.Ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i]))
		local[port.ContainerPort] = addr
		if flag, ok := pilotListeners[port.ContainerPort]; ok {
			args = append(args, flag+"="+addr)
		}
	}
	args = append(args,
		"--kubeconfig="+p.kubeconfig,
		"--ctrlz_port="+strconv.Itoa(ports[len(ports)-1]),
		// The pod is gone when the player stops the process; istiod's
		// default 10 seconds of draining serve no client here.
		"--shutdownDuration=1s",
	)
	run.probeURL = readinessURL(container, local)
	if run.probeURL == "" {
		return nil, errors.New("the container has no HTTP readiness probe on a container port")
	}
	run.webhook = local[15017]

	proc, err := startProcessIn(workDir, "istiod "+pod.Namespace+"/"+pod.Name, binary,
		filepath.Join(p.dir, pod.Namespace+"_"+pod.Name+".log"), args, env)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.history = append(p.history, proc)
	p.mu.Unlock()
	run.proc = proc
	for port, addr := range local {
		podAddr := net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port)))
		p.network.route(podAddr, addr)
		run.podAddrs = append(run.podAddrs, podAddr)
	}
	return run, nil
}

// readinessURL is the URL of the container's HTTP readiness probe at the
// local address of its port.
func readinessURL(c corev1.Container, local map[int32]string) string {
	probe := c.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		return ""
	}
	port := probe.HTTPGet.Port.IntVal
	if probe.HTTPGet.Port.StrVal != "" {
		for _, p := range c.Ports {
			if p.Name == probe.HTTPGet.Port.StrVal {
				port = p.ContainerPort
			}
		}
	}
	addr, ok := local[port]
	if !ok {
		return ""
	}
	return "http://" + addr + probe.HTTPGet.Path
}

// materialise writes the ConfigMaps and Secrets that container mounts into
// workDir at their mount paths, and creates the directories of its other
// mounts. An optional ConfigMap or Secret that does not exist is left out,
// as the kubelet leaves its directory empty.
func (p *istiodPlayer) materialise(ctx context.Context, pod *corev1.Pod, container corev1.Container, workDir string) error {
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range container.VolumeMounts {
		dir := filepath.Join(workDir, filepath.FromSlash(m.MountPath))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		v, ok := volumes[m.Name]
		if !ok {
			continue
		}
		var files map[string][]byte
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			cm, err := p.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && v.ConfigMap.Optional != nil && *v.ConfigMap.Optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("volume %s: %w", m.Name, err)
			}
			files = map[string][]byte{}
			for k, s := range cm.Data {
				files[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				files[k] = b
			}
			items = v.ConfigMap.Items
		case v.Secret != nil:
			s, err := p.client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && v.Secret.Optional != nil && *v.Secret.Optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("volume %s: %w", m.Name, err)
			}
			files = s.Data
			items = v.Secret.Items
		default:
			// emptyDir and projected token volumes: the directory is enough.
			continue
		}
		if len(items) > 0 {
			picked := map[string][]byte{}
			for _, it := range items {
				if data, ok := files[it.Key]; ok {
					picked[it.Path] = data
				}
			}
			files = picked
		}
		for name, data := range files {
			if m.SubPath != "" && m.SubPath != name {
				continue
			}
			path := filepath.Join(dir, filepath.FromSlash(name))
			if m.SubPath != "" {
				path = dir
				if err := os.Remove(dir); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// env is the container's environment as the kubelet would give it, with the
// box's kubeconfig. Resource fields (GOMAXPROCS, GOMEMLIMIT from limits) are
// left out: the kubelet would give a container without limits the node's
// capacity, which on a fake node is not this machine's.
func (p *istiodPlayer) env(ctx context.Context, pod *corev1.Pod, c corev1.Container) ([]string, error) {
	var env []string
	for _, e := range c.Env {
		value := e.Value
		if from := e.ValueFrom; from != nil {
			switch {
			case from.FieldRef != nil:
				v, ok := podField(pod, from.FieldRef.FieldPath)
				if !ok {
					return nil, fmt.Errorf("env %s: field %s is not supported", e.Name, from.FieldRef.FieldPath)
				}
				value = v
			case from.ConfigMapKeyRef != nil:
				cm, err := p.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) && from.ConfigMapKeyRef.Optional != nil && *from.ConfigMapKeyRef.Optional {
						continue
					}
					return nil, fmt.Errorf("env %s: %w", e.Name, err)
				}
				value = cm.Data[from.ConfigMapKeyRef.Key]
			case from.SecretKeyRef != nil:
				s, err := p.client.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) && from.SecretKeyRef.Optional != nil && *from.SecretKeyRef.Optional {
						continue
					}
					return nil, fmt.Errorf("env %s: %w", e.Name, err)
				}
				value = string(s.Data[from.SecretKeyRef.Key])
			default:
				continue
			}
		}
		env = append(env, e.Name+"="+value)
	}
	return append(env,
		"KUBECONFIG="+p.kubeconfig,
		"POD_NAME="+pod.Name,
		"POD_NAMESPACE="+pod.Namespace,
	), nil
}

// podField is the value of a downward-API field of pod.
func podField(pod *corev1.Pod, path string) (string, bool) {
	switch path {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "status.podIP":
		return pod.Status.PodIP, true
	case "status.hostIP":
		return pod.Status.HostIP, true
	}
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(path, "']") {
			k := strings.TrimSuffix(strings.TrimPrefix(path, prefix), "']")
			if strings.HasPrefix(prefix, "metadata.labels") {
				return pod.Labels[k], true
			}
			return pod.Annotations[k], true
		}
	}
	return "", false
}

// setReady sets the pod's Ready and ContainersReady conditions and its
// containers' ready flags, as the kubelet reports a readiness probe.
func (p *istiodPlayer) setReady(ctx context.Context, pod *corev1.Pod, ready bool) error {
	status := corev1.ConditionFalse
	reason := "ContainersNotReady"
	if ready {
		status, reason = corev1.ConditionTrue, ""
	}
	now := metav1.Now()
	current, err := p.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if current.UID != pod.UID {
		return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
	}
	statuses := slices.Clone(current.Status.ContainerStatuses)
	for i := range statuses {
		statuses[i].Ready = ready
	}
	patch := map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status": map[string]any{
			"conditions": []map[string]any{
				{"type": string(corev1.PodReady), "status": status, "reason": reason, "lastTransitionTime": now},
				{"type": string(corev1.ContainersReady), "status": status, "reason": reason, "lastTransitionTime": now},
			},
			"containerStatuses": statuses,
		},
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = p.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	return err
}

// istiodBinaries maps catalog versions to their pilot-discovery.
type istiodBinaries map[string]string

// istiodBinDir is the directory of the pilot-discovery builds:
// Options.IstiodBinDir, else $BOSUN_ISTIOD_BIN, else bin/istiod in the
// repository.
func istiodBinDir(opts Options) (string, error) {
	if opts.IstiodBinDir != "" {
		return opts.IstiodBinDir, nil
	}
	if dir := os.Getenv(IstiodBinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("locating pilot-discovery: %w (set %s or Options.IstiodBinDir)", err, IstiodBinDirEnv)
	}
	return filepath.Join(root, "bin", "istiod"), nil
}

// findIstiodBinaries lists <dir>/<version>/pilot-discovery. A missing
// directory means none were built.
func findIstiodBinaries(opts Options) (istiodBinaries, error) {
	dir, err := istiodBinDir(opts)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return istiodBinaries{}, nil
	}
	if err != nil {
		return nil, err
	}
	bins := istiodBinaries{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name(), pilotDiscoveryBin)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			bins[e.Name()] = path
		}
	}
	return bins, nil
}

// versions lists the versions with a build, sorted.
func (b istiodBinaries) versions() []string {
	var vs []string
	for v := range b {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// pick returns the pilot-discovery for an Istio version: the build of that
// version; else one of the same minor version; else one of the next minor
// version, because the end-to-end tests play patch versions of 1.24 with the
// 1.25 snapshot's charts (clustertest.PlayVersions), and those charts are
// what the pod runs. Any other version stays fake: an istiod run against
// charts of a distant version would test nothing real.
func (b istiodBinaries) pick(version string) (string, bool) {
	if path, ok := b[version]; ok {
		return path, true
	}
	major, minor, ok := minorOf(version)
	if !ok {
		return "", false
	}
	for _, want := range []int{minor, minor + 1} {
		for _, v := range b.versions() {
			if ma, mi, ok := minorOf(v); ok && ma == major && mi == want {
				return b[v], true
			}
		}
	}
	return "", false
}

// minorOf parses the major and minor numbers of vX.Y[.Z[-suffix]].
func minorOf(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}
