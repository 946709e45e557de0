package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The box plays some pods with real programs on this machine, as a kubelet
// runs a container: istiod's pods with pilot-discovery (istiod.go), so the
// box's istiod serves sidecar injection and config validation and patches
// its own webhooks as in production, and bosun's operator pods with bosun
// itself (operator.go), so bosun installed from its manifests runs as it
// runs in a cluster, as its ServiceAccount. docs/istiod-in-the-box.md
// describes what this does and does not simulate.
//
// A role says which pods it plays (a label), which program plays a pod and
// with which arguments and identity. For each pod of a role that kwok has
// given an address, its player:
//   - asks the role for the pod's program; without one the pod stays fake and
//     is made Ready at once, as kwok makes every other pod;
//   - materialises the ConfigMaps and Secrets that the container mounts into
//     a directory of its own, at their mount paths, and runs the process in
//     that directory;
//   - runs the program with the container's args (as the role adjusts them:
//     every listener moved to a free loopback port, the role's kubeconfig)
//     and env;
//   - routes the pod's IP and container ports to those ports in the box's pod
//     network, so webhooks and Services reach it;
//   - sets the pod's Ready condition from the container's readiness probe,
//     once a second;
//   - stops the process when the pod goes away, and restarts it, as a kubelet
//     would, if it exits while the pod lives.

// A role is a kind of pod the box plays with a program.
type role interface {
	// name names the role in logs and is the folder of its pods' files.
	name() string
	// label is the label of the pods it plays.
	label() labelPair
	// program returns the program that plays pod, or nil and why the pod
	// stays fake.
	program(ctx context.Context, pod *corev1.Pod) (*program, string)
	// args adjusts the container's arguments for a process run in workDir
	// whose container ports are served at local, and returns the kubeconfig
	// it runs with.
	args(ctx context.Context, pod *corev1.Pod, args []string, local map[int32]string, workDir string) ([]string, string, error)
}

// labelPair is a label's key and value.
type labelPair struct{ key, value string }

func (l labelPair) String() string { return l.key + "=" + l.value }

// playedLabels are the labels of the pods the box plays, which kwok starts
// but leaves to their player to make Ready (stages.go).
var playedLabels = []labelPair{istiodLabel, operatorLabel}

// program is the executable that plays a pod.
type program struct {
	binary string
	// what names it in logs, such as "pilot-discovery v1.25.0".
	what string
}

// podPlayer plays the box's pods of one role.
type podPlayer struct {
	role    role
	client  kubernetes.Interface
	network *podNetwork
	dir     string
	logf    func(format string, args ...any)

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

// probeInterval is how often a played pod's readiness is probed.
const probeInterval = time.Second

// Restarts of a process that exited while its pod lives wait, as a kubelet's
// back-off does, but shorter: firstRestartDelay after a process that had got
// Ready (then crashed or was killed), doubling up to maxRestartDelay while it
// keeps exiting before it is Ready (it cannot start), so a broken program does
// not take the box's CPU.
const (
	firstRestartDelay = time.Second
	maxRestartDelay   = 20 * time.Second
)

// nextRestartDelay is the wait before the next start of a process whose last
// wait was last (zero before the first restart) and which got Ready or not.
func nextRestartDelay(last time.Duration, wasReady bool) time.Duration {
	if last == 0 || wasReady {
		return firstRestartDelay
	}
	return min(2*last, maxRestartDelay)
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

// next handles one queued pod; it returns false once the player stops.
func (p *podPlayer) next(ctx context.Context) bool {
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
		p.logf("%s: %s: %v (retrying)", p.role.name(), key, err)
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

// sync starts or stops the player of one pod so that exactly the pods that
// exist, are not being deleted and have an address are played.
func (p *podPlayer) sync(ctx context.Context, key types.NamespacedName) error {
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

// startPlayer starts playing the pods of r.
func (c *Cluster) startPlayer(r role) (*podPlayer, error) {
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &podPlayer{
		role: r, client: cs, network: c.network, dir: filepath.Join(c.dir, r.name()), logf: c.boxLogf,
		cancel: cancel, done: make(chan struct{}),
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		played: map[types.NamespacedName]*playedPod{}, fake: map[string]bool{},
	}
	p.factory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = r.label().String()
	}))
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			p.queue.Add(types.NamespacedName{Namespace: ns, Name: name})
		}
	}
	if _, err := p.factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		cancel()
		return nil, err
	}
	p.factory.Start(ctx.Done())
	go func() {
		defer close(p.done)
		for p.next(ctx) {
		}
	}()
	return p, nil
}

// startPod starts playing pod: a process if the role has a program for it,
// else only its readiness.
func (p *podPlayer) startPod(ctx context.Context, pod *corev1.Pod) error {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	prog, why := p.role.program(ctx, pod)
	if prog == nil {
		p.mu.Lock()
		first := !p.fake[why]
		p.fake[why] = true
		p.mu.Unlock()
		if first {
			p.logf("%s: %s: its pods stay fake (Ready without a process)", p.role.name(), why)
		}
		if ready(pod) {
			return nil // every later event of the pod would otherwise rewrite its status
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
		p.play(podCtx, pp, pod, prog)
	}()
	return nil
}

// ready reports whether the pod's Ready condition is True.
func ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// stopPod stops a pod's process and waits for it to exit.
func (p *podPlayer) stopPod(key types.NamespacedName, pp *playedPod) {
	pp.cancel()
	<-pp.done
	p.mu.Lock()
	if p.played[key] == pp {
		delete(p.played, key)
	}
	p.mu.Unlock()
}

// stop stops watching and every process, and returns once they have exited.
func (p *podPlayer) stop() {
	p.cancel()
	p.queue.ShutDown()
	<-p.done
	p.factory.Shutdown()
	p.mu.Lock()
	played := maps.Clone(p.played)
	p.mu.Unlock()
	for k, pp := range played {
		p.stopPod(k, pp)
	}
	p.wg.Wait()
}

func (p *podPlayer) setProcess(pp *playedPod, proc *process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp.proc = proc
}

// running returns the process id playing each pod, by namespace/name.
func (p *podPlayer) running() map[string]int {
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
func (p *podPlayer) processes() []*process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.history)
}

// play runs pod's process until ctx ends, restarting it if it exits, and
// keeps the pod's Ready condition equal to its probe.
func (p *podPlayer) play(ctx context.Context, pp *playedPod, pod *corev1.Pod, prog *program) {
	key := pod.Namespace + "/" + pod.Name
	role := p.role.name()
	workDir := filepath.Join(p.dir, pod.Namespace+"_"+pod.Name)
	ready := false
	setReady := func(r bool) {
		if r == ready {
			return
		}
		if err := p.setReady(ctx, pod, r); err != nil {
			if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				p.logf("%s: %s: setting Ready=%t: %v", role, key, r, err)
			}
			return
		}
		ready = r
		p.logf("%s: %s is Ready=%t", role, key, r)
	}
	var delay time.Duration
	for ctx.Err() == nil {
		if delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
		run, err := p.launch(ctx, pod, prog, workDir)
		if err != nil {
			delay = nextRestartDelay(delay, false)
			p.logf("%s: %s: %v; retrying in %s", role, key, err, delay)
			continue
		}
		p.logf("%s: %s played by %s (pid %d, ports %s, log %s)", role, key, prog.what, run.proc.pid(), run.ports(), run.proc.logPath)
		p.setProcess(pp, run.proc)
		wasReady := false
		p.watchProcess(ctx, run, func(r bool) {
			wasReady = wasReady || r
			setReady(r)
		})
		p.network.unroute(run.podAddrs...)
		if ctx.Err() != nil {
			if err := run.proc.stop(); err != nil {
				p.logf("%s: %s: %v", role, key, err)
			}
			p.setProcess(pp, nil)
			p.logf("%s: %s: pod gone, %s (pid %d) stopped", role, key, prog.what, run.proc.pid())
			return
		}
		p.setProcess(pp, nil)
		setReady(false)
		delay = nextRestartDelay(delay, wasReady)
		p.logf("%s: %s: %v; restarting in %s", role, key, run.proc.exitError(), delay)
	}
}

// watchProcess probes run until it exits or ctx ends.
func (p *podPlayer) watchProcess(ctx context.Context, run *playedRun, setReady func(bool)) {
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

// playedRun is one running process of a played pod.
type playedRun struct {
	proc     *process
	podAddrs []string
	local    map[int32]string
	probeURL string
}

// ports lists the pod's ports and the local addresses they reach, for logs.
func (r *playedRun) ports() string {
	var out []string
	for _, port := range slices.Sorted(maps.Keys(r.local)) {
		out = append(out, fmt.Sprintf("%d→%s", port, r.local[port]))
	}
	return strings.Join(out, " ")
}

// launch prepares workDir and starts the pod's program.
func (p *podPlayer) launch(ctx context.Context, pod *corev1.Pod, prog *program, workDir string) (*playedRun, error) {
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
	// Every listener moves to a free loopback port: several pods run on one
	// machine, and their container ports collide.
	ports, err := freePorts(len(container.Ports))
	if err != nil {
		return nil, err
	}
	run := &playedRun{local: map[int32]string{}}
	for i, port := range container.Ports {
		run.local[port.ContainerPort] = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i]))
	}
	run.probeURL = readinessURL(container, run.local)
	if run.probeURL == "" {
		return nil, errors.New("the container has no HTTP readiness probe on a container port")
	}
	args := slices.Clone(container.Args)
	if len(container.Command) > 1 {
		// A command with arguments (a wrapper, say): run only the
		// program's arguments.
		args = append(slices.Clone(container.Command[1:]), args...)
	}
	args, kubeconfig, err := p.role.args(ctx, pod, args, run.local, workDir)
	if err != nil {
		return nil, err
	}
	env, err := p.env(ctx, pod, container, kubeconfig)
	if err != nil {
		return nil, err
	}
	proc, err := startProcessIn(workDir, p.role.name()+" "+pod.Namespace+"/"+pod.Name, prog.binary,
		filepath.Join(p.dir, pod.Namespace+"_"+pod.Name+".log"), args, env)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.history = append(p.history, proc)
	p.mu.Unlock()
	run.proc = proc
	for port, addr := range run.local {
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
func (p *podPlayer) materialise(ctx context.Context, pod *corev1.Pod, container corev1.Container, workDir string) error {
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

// env is the container's environment as the kubelet would give it, with
// kubeconfig, the identity the role gives the process. Resource fields (GOMAXPROCS, GOMEMLIMIT from limits) are
// left out: the kubelet would give a container without limits the node's
// capacity, which on a fake node is not this machine's.
func (p *podPlayer) env(ctx context.Context, pod *corev1.Pod, c corev1.Container, kubeconfig string) ([]string, error) {
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
				v, ok := cm.Data[from.ConfigMapKeyRef.Key]
				if !ok && (from.ConfigMapKeyRef.Optional == nil || !*from.ConfigMapKeyRef.Optional) {
					// A kubelet would not start the container: the box must not hide the mistake.
					return nil, fmt.Errorf("env %s: ConfigMap %s/%s has no key %s", e.Name, pod.Namespace, from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key)
				}
				if !ok {
					continue
				}
				value = v
			case from.SecretKeyRef != nil:
				s, err := p.client.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) && from.SecretKeyRef.Optional != nil && *from.SecretKeyRef.Optional {
						continue
					}
					return nil, fmt.Errorf("env %s: %w", e.Name, err)
				}
				v, ok := s.Data[from.SecretKeyRef.Key]
				if !ok && (from.SecretKeyRef.Optional == nil || !*from.SecretKeyRef.Optional) {
					return nil, fmt.Errorf("env %s: Secret %s/%s has no key %s", e.Name, pod.Namespace, from.SecretKeyRef.Name, from.SecretKeyRef.Key)
				}
				if !ok {
					continue
				}
				value = string(v)
			default:
				continue
			}
		}
		env = append(env, e.Name+"="+value)
	}
	return append(env,
		"KUBECONFIG="+kubeconfig,
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
func (p *podPlayer) setReady(ctx context.Context, pod *corev1.Pod, ready bool) error {
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
