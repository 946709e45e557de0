package testcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/workqueue"
)

// stubRole is a role whose decisions a test sets. Its args records what it
// was given and fails with argsErr, so that no process is ever started.
type stubRole struct {
	prog    *program
	why     string
	argsErr error

	mu    sync.Mutex
	calls []stubArgsCall
}

type stubArgsCall struct {
	args    []string
	local   map[int32]string
	workDir string
}

func (r *stubRole) name() string     { return "stub" }
func (r *stubRole) label() labelPair { return labelPair{"app", "stub"} }

func (r *stubRole) program(context.Context, *corev1.Pod) (*program, string) { return r.prog, r.why }

func (r *stubRole) args(_ context.Context, _ *corev1.Pod, args []string, local map[int32]string, workDir string) ([]string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, stubArgsCall{args: slices.Clone(args), local: local, workDir: workDir})
	if r.argsErr == nil {
		return nil, "", errors.New("stubRole starts no process")
	}
	return nil, "", r.argsErr
}

func (r *stubRole) argsCalls() []stubArgsCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// testPlayer is a player of r that is not watching: a test puts pods in its
// lister and calls sync itself. Its client is a fake clientset holding
// objs. It is stopped when the test ends.
func testPlayer(t *testing.T, r role, objs ...runtime.Object) (*podPlayer, *fake.Clientset, *syncBuffer) {
	t.Helper()
	client := fake.NewClientset(objs...)
	log := &syncBuffer{}
	done := make(chan struct{})
	close(done)
	p := &podPlayer{
		role: r, client: client, network: &podNetwork{routes: map[string]string{}}, dir: t.TempDir(),
		logf: func(format string, args ...any) {
			_, _ = fmt.Fprintf(log, format+"\n", args...)
		},
		cancel: func() {}, done: done,
		factory: informers.NewSharedInformerFactory(client, 0),
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		played:  map[types.NamespacedName]*playedPod{}, fake: map[string]bool{},
	}
	t.Cleanup(p.stop)
	return p, client, log
}

// know puts pods in the player's lister, as its informer would.
func know(t *testing.T, p *podPlayer, pods ...*corev1.Pod) {
	t.Helper()
	for _, pod := range pods {
		if err := p.factory.Core().V1().Pods().Informer().GetIndexer().Add(pod); err != nil {
			t.Fatal(err)
		}
	}
}

// runningPod is a pod as kwok's played-pod stage leaves it: Running, with an
// address, not Ready; its container has two ports and an HTTP readiness
// probe on the first.
func runningPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system", UID: types.UID(name + "-uid"), Labels: map[string]string{"app": "stub"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "main",
			Image: "example.com/main:1.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "webhook", ContainerPort: 15017}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)},
			}},
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.244.0.7",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
		},
	}
}

// waitForLine waits until the log contains want: the player logs from its
// own goroutines.
func waitForLine(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(log.String(), want) {
		select {
		case <-ctx.Done():
			t.Fatalf("the player's log does not say %q:\n%s", want, log.String())
		case <-tick.C:
		}
	}
}

// patches returns the status patches the player sent.
func patches(client *fake.Clientset) []k8stesting.PatchAction {
	var out []k8stesting.PatchAction
	for _, a := range client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetSubresource() == "status" {
			out = append(out, p)
		}
	}
	return out
}

// TestSyncPlaysOnlyLivePods checks which pods a player acts on: only a pod
// that exists, is not being deleted, runs and has an address. A pod its
// role has no program for is made Ready without a process, once: a pod
// already Ready gets no status write on its next event.
func TestSyncPlaysOnlyLivePods(t *testing.T) {
	deleting := runningPod("deleting")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	noIP := runningPod("no-ip")
	noIP.Status.PodIP = ""
	pending := runningPod("pending")
	pending.Status.Phase = corev1.PodPending
	succeeded := runningPod("succeeded")
	succeeded.Status.Phase = corev1.PodSucceeded
	live := runningPod("live")
	alreadyReady := runningPod("already-ready")
	alreadyReady.Status.Conditions[0].Status = corev1.ConditionTrue

	tests := []struct {
		name      string
		pod       *corev1.Pod // nil: the pod is gone
		wantReady bool
	}{
		{name: "gone"},
		{name: "deleting", pod: deleting},
		{name: "no address yet", pod: noIP},
		{name: "pending", pod: pending},
		{name: "finished", pod: succeeded},
		{name: "live", pod: live, wantReady: true},
		{name: "already Ready", pod: alreadyReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			key := types.NamespacedName{Namespace: "istio-system", Name: "gone"}
			if tt.pod != nil {
				objs = append(objs, tt.pod.DeepCopy())
				key.Name = tt.pod.Name
			}
			p, client, _ := testPlayer(t, &stubRole{why: "no build"}, objs...)
			if tt.pod != nil {
				know(t, p, tt.pod)
			}
			if err := p.sync(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			sent := patches(client)
			if got := len(sent) > 0; got != tt.wantReady {
				t.Fatalf("status patches %d, want a Ready patch: %v", len(sent), tt.wantReady)
			}
			if !tt.wantReady {
				return
			}
			pod, err := client.CoreV1().Pods(key.Namespace).Get(t.Context(), key.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !ready(pod) {
				t.Errorf("a fake pod's conditions after sync: %+v, want Ready", pod.Status.Conditions)
			}
			if len(p.running()) != 0 {
				t.Errorf("a fake pod has a process: %v", p.running())
			}
		})
	}
}

// TestFakePodsAreExplainedOncePerReason checks that box.log says why pods
// stay fake once per reason, not once per pod or per event.
func TestFakePodsAreExplainedOncePerReason(t *testing.T) {
	a, b := runningPod("a"), runningPod("b")
	r := &stubRole{why: `no pilot-discovery built for Istio "v1.23.0"`}
	p, _, log := testPlayer(t, r, a.DeepCopy(), b.DeepCopy())
	know(t, p, a, b)
	for _, name := range []string{"a", "b", "a"} {
		if err := p.sync(t.Context(), types.NamespacedName{Namespace: "istio-system", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	r.why = "another reason"
	if err := p.sync(t.Context(), types.NamespacedName{Namespace: "istio-system", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if n := strings.Count(got, `stub: no pilot-discovery built for Istio "v1.23.0": its pods stay fake (Ready without a process)`); n != 1 {
		t.Errorf("the first reason is logged %d times, want once:\n%s", n, got)
	}
	if n := strings.Count(got, "stub: another reason: its pods stay fake"); n != 1 {
		t.Errorf("the second reason is logged %d times, want once:\n%s", n, got)
	}
}

// TestSyncFollowsThePodsLife checks the player of a pod with a program
// across the pod's life: the pod is played once however many events it
// gets; a new pod of the same name (a StatefulSet's, or one created again
// by hand) replaces the old one's player; and a pod that goes away stops
// its player.
func TestSyncFollowsThePodsLife(t *testing.T) {
	r := &stubRole{prog: &program{binary: "/nonexistent", what: "stub-program"}, argsErr: errors.New("no process in unit tests")}
	pod := runningPod("istiod-1")
	p, _, log := testPlayer(t, r, pod.DeepCopy())
	know(t, p, pod)
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}

	for range 3 {
		if err := p.sync(t.Context(), key); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	first := p.played[key]
	n := len(p.played)
	p.mu.Unlock()
	if first == nil || first.uid != pod.UID || n != 1 {
		t.Fatalf("after three events: %d played pods, %+v; want one, of uid %s", n, first, pod.UID)
	}
	waitForLine(t, log, "stub: istio-system/istiod-1: no process in unit tests; retrying in 1s")

	replaced := runningPod("istiod-1")
	replaced.UID = "second-uid"
	know(t, p, replaced)
	if err := p.sync(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
	default:
		t.Error("the player of the replaced pod still runs")
	}
	p.mu.Lock()
	second := p.played[key]
	p.mu.Unlock()
	if second == nil || second.uid != "second-uid" {
		t.Fatalf("after the pod was replaced: %+v, want a player of uid second-uid", second)
	}

	if err := p.factory.Core().V1().Pods().Informer().GetIndexer().Delete(replaced); err != nil {
		t.Fatal(err)
	}
	if err := p.sync(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
	default:
		t.Error("the player of a deleted pod still runs")
	}
	p.mu.Lock()
	n = len(p.played)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pods played after the pod went away", n)
	}
}

// TestFailedStartsBackOff checks that a pod whose program cannot be started
// is retried as a kubelet retries a container, a second later and then
// twice as long, and that the pod going away ends the wait at once.
func TestFailedStartsBackOff(t *testing.T) {
	r := &stubRole{prog: &program{binary: "/nonexistent", what: "stub-program"}, argsErr: errors.New("cannot start")}
	pod := runningPod("istiod-1")
	p, _, log := testPlayer(t, r, pod.DeepCopy())
	know(t, p, pod)
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if err := p.sync(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, log, "stub: istio-system/istiod-1: cannot start; retrying in 1s")
	waitForLine(t, log, "stub: istio-system/istiod-1: cannot start; retrying in 2s")

	p.mu.Lock()
	pp := p.played[key]
	p.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		p.stopPod(key, pp)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		t.Fatal("stopping a pod waited for its next restart")
	}
	if calls := len(r.argsCalls()); calls != 2 {
		t.Errorf("%d starts, want 2 in the first second", calls)
	}
}

// TestLaunchPreparesThePod checks what launch gives the role before any
// process starts: a fresh work directory (nothing left from a previous
// run), the arguments of a wrapper command followed by the container's
// args, and a distinct loopback address for every container port.
func TestLaunchPreparesThePod(t *testing.T) {
	r := &stubRole{argsErr: errors.New("stop here")}
	p, _, _ := testPlayer(t, r)
	pod := runningPod("istiod-1")
	pod.Spec.Containers[0].Command = []string{"/usr/local/bin/pilot-discovery", "discovery"}
	pod.Spec.Containers[0].Args = []string{"--monitoringAddr=:15014", "--log_output_level=default:info"}
	workDir := filepath.Join(p.dir, "istio-system_istiod-1")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(workDir, "stale")
	if err := os.WriteFile(stale, []byte("from the last run"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := p.launch(t.Context(), pod, &program{binary: "/nonexistent"}, workDir)
	if err == nil || err.Error() != "stop here" {
		t.Fatalf("launch = %v, want the role's error", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file of the previous run is still in the work directory: %v", err)
	}
	calls := r.argsCalls()
	if len(calls) != 1 {
		t.Fatalf("%d calls of the role's args, want 1", len(calls))
	}
	want := []string{"discovery", "--monitoringAddr=:15014", "--log_output_level=default:info"}
	if !slices.Equal(calls[0].args, want) {
		t.Errorf("args %q, want %q (the command's arguments, then the container's)", calls[0].args, want)
	}
	if calls[0].workDir != workDir {
		t.Errorf("work directory %q, want %q", calls[0].workDir, workDir)
	}
	local := calls[0].local
	if len(local) != 2 || local[8080] == "" || local[15017] == "" || local[8080] == local[15017] {
		t.Fatalf("local addresses %v, want a distinct one for 8080 and 15017", local)
	}
	for port, addr := range local {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Errorf("port %d plays at %q, want a loopback address", port, addr)
		}
	}
	if len(p.processes()) != 0 {
		t.Errorf("processes started: %v", p.processes())
	}
}

// TestLaunchRefusesUnplayablePods checks the pods launch cannot play, each
// with the error that goes to box.log: one without a container, and one
// whose readiness cannot be probed, since its Ready would then never be
// known.
func TestLaunchRefusesUnplayablePods(t *testing.T) {
	noContainer := runningPod("none")
	noContainer.Spec.Containers = nil
	noProbe := runningPod("no-probe")
	noProbe.Spec.Containers[0].ReadinessProbe = nil
	execProbe := runningPod("exec-probe")
	execProbe.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	otherPort := runningPod("other-port")
	otherPort.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromInt32(9999)

	tests := []struct {
		pod  *corev1.Pod
		want string
	}{
		{noContainer, "the pod has no container"},
		{noProbe, "the container has no HTTP readiness probe on a container port"},
		{execProbe, "the container has no HTTP readiness probe on a container port"},
		{otherPort, "the container has no HTTP readiness probe on a container port"},
	}
	for _, tt := range tests {
		t.Run(tt.pod.Name, func(t *testing.T) {
			r := &stubRole{argsErr: errors.New("the role was asked")}
			p, _, _ := testPlayer(t, r)
			_, err := p.launch(t.Context(), tt.pod, &program{binary: "/nonexistent"}, filepath.Join(p.dir, tt.pod.Name))
			if err == nil || err.Error() != tt.want {
				t.Errorf("launch = %v, want %q", err, tt.want)
			}
			if len(r.argsCalls()) != 0 {
				t.Error("the role was asked for arguments of a pod that cannot be played")
			}
		})
	}
}

// TestReadinessURL checks which URL a played pod's readiness is probed at:
// its HTTP probe's path at the local address of the probed port, named or
// numbered; and none when the probe is missing, not HTTP, or on a port the
// container does not declare.
func TestReadinessURL(t *testing.T) {
	local := map[int32]string{8080: "127.0.0.1:40001", 8081: "127.0.0.1:40002"}
	ports := []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8080}, {Name: "health", ContainerPort: 8081}}
	httpProbe := func(path string, port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}}
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		want  string
	}{
		{"numbered port", httpProbe("/ready", intstr.FromInt32(8080)), "http://127.0.0.1:40001/ready"},
		{"named port", httpProbe("/readyz", intstr.FromString("health")), "http://127.0.0.1:40002/readyz"},
		{"no path", httpProbe("", intstr.FromInt32(8081)), "http://127.0.0.1:40002"},
		{"unknown name", httpProbe("/readyz", intstr.FromString("admin")), ""},
		{"undeclared port", httpProbe("/ready", intstr.FromInt32(15021)), ""},
		{"no probe", nil, ""},
		{"TCP probe", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Ports: ports, ReadinessProbe: tt.probe}
			if got := readinessURL(c, local); got != tt.want {
				t.Errorf("readinessURL = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReady checks how a pod's readiness is read: its Ready condition, and
// not Ready without one.
func TestReady(t *testing.T) {
	tests := []struct {
		name       string
		conditions []corev1.PodCondition
		want       bool
	}{
		{"no conditions", nil, false},
		{"Ready", []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}, true},
		{"not Ready", []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}, false},
		{"only ContainersReady", []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}, false},
		{"Ready after others", []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}, true},
	}
	for _, tt := range tests {
		pod := &corev1.Pod{Status: corev1.PodStatus{Conditions: tt.conditions}}
		if got := ready(pod); got != tt.want {
			t.Errorf("%s: ready = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRestartDelayBounds checks the edges of the restart back-off: the
// first wait, the doubling that stops at the limit rather than past it, and
// the reset to a second after a process that got Ready, whatever the wait
// before.
func TestRestartDelayBounds(t *testing.T) {
	s := time.Second
	tests := []struct {
		last     time.Duration
		wasReady bool
		want     time.Duration
	}{
		{0, false, firstRestartDelay},
		{0, true, firstRestartDelay},
		{s, false, 2 * s},
		{15 * s, false, maxRestartDelay},
		{maxRestartDelay, false, maxRestartDelay},
		{maxRestartDelay, true, firstRestartDelay},
		{8 * s, true, firstRestartDelay},
	}
	for _, tt := range tests {
		if got := nextRestartDelay(tt.last, tt.wasReady); got != tt.want {
			t.Errorf("nextRestartDelay(%s, %v) = %s, want %s", tt.last, tt.wasReady, got, tt.want)
		}
	}
	if firstRestartDelay != s || maxRestartDelay != 20*s {
		t.Errorf("back-off from %s to %s; docs/istiod-in-the-box.md promises 1 s up to 20 s", firstRestartDelay, maxRestartDelay)
	}
}
