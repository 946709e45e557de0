//go:build linux

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/meshview"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// The load of BenchmarkScale: scaleNamespaces namespaces of podsPerNamespace Running pods each. Every
// other namespace is labelled istio.io/rev=<revision>, and its pods play pods that Istio's injector
// injected from that revision (see newPod); the other namespaces run plain pods, which the operator
// caches all the same.
const (
	scaleNamespaces  = 2000
	podsPerNamespace = 5
	// scaleNodes fake nodes run the pods; the pods name their node, as the scheduler would, so that the
	// box's scheduler (50 bindings a second) does not set the pace.
	scaleNodes = 4
	// scaleWorkers bounds the harness's concurrent requests: the API server, etcd and kwok share two
	// cores with the operator and the harness.
	scaleWorkers = 16
	// settle is how long the operator is left alone before its idle memory is read: long enough for a
	// few garbage collections and the runtime's return of freed memory to the kernel.
	settle = 30 * time.Second
)

// BenchmarkScale measures the operator's resident memory on a cluster of scaleNamespaces ×
// podsPerNamespace pods: idle after the load arrived while it ran, idle after a restart with the load
// present, and its peak while the control plane moves to a new version the RevisionBased way and the
// workloads follow it (namespaces relabelled, pods re-annotated as a rollout restart would).
func BenchmarkScale(b *testing.B) {
	measureOnce(b)
	prepare(b)
	c, err := startCluster(scaleNodes)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := c.Stop(); err != nil {
			b.Errorf("stopping the cluster: %v", err)
		}
	})
	if err := raisePodCapacity(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	oldRev, newRev := revisionName(fromVersion), revisionName(toVersion)

	p := startOperator(b, c)
	createIstio(b, c, newIstio(v1.UpdateStrategyRevisionBased))
	waitIstio(b, c, istioName, ready(oldRev))
	installed := waitQuiet(b, p)

	createLoad(b, c, oldRev)
	loaded := waitQuiet(b, p)
	w := loaded.metrics.writes().since(installed.metrics.writes())
	progress("Scale: writes while %d pods were created: %s", scaleNamespaces*podsPerNamespace, w)
	report(b, figure{what: "API writes while the 10,000 pods were created, leases aside", value: w.total(resourceLeases), unit: "load-writes", target: noTarget})
	checkInUse(b, c, oldRev)
	measureStatus(b, c)
	time.Sleep(settle)
	idle := p.sample(b)
	reportRSS(b, idle, "RSS at 10,000 pods, idle", "idle-MiB", 64, "186 MB")
	report(b, figure{what: "peak RSS while the 10,000 pods were created", value: mib(idle.memory.peak), unit: "load-peak-MiB", target: noTarget})

	reportCgroup(b, p, idle, "load-")
	progress("Scale: restarting the operator")
	p.stop()
	p = startOperator(b, c)
	started := time.Now()
	restarted := waitQuiet(b, p)
	progress("Scale: the restarted operator went quiet %s after it led; writes %s", restarted.at.Sub(started).Round(time.Second), restarted.metrics.writes())
	time.Sleep(settle)
	idle = p.sample(b)
	reportRSS(b, idle, "RSS at 10,000 pods, idle after a restart", "restart-MiB", 64, "243 MB")
	report(b, figure{what: "peak RSS of the restart (cache filled)", value: mib(idle.memory.peak), unit: "restart-peak-MiB", target: noTarget})

	if err := p.resetPeak(); err != nil {
		b.Fatal(err)
	}
	before := p.sample(b)
	progress("Scale: RevisionBased version change to %s, then the workloads follow", toVersion)
	setVersion(b, c, istioName, toVersion)
	waitIstio(b, c, istioName, ready(newRev))
	moveWorkloads(b, c, oldRev, newRev)
	waitGone(b, c, oldRev)
	after := waitQuiet(b, p)
	w = after.metrics.writes().since(before.metrics.writes())
	progress("Scale: updates took %s; writes %s; operator CPU %s", after.at.Sub(before.at).Round(time.Second), w, after.cpu-before.cpu)
	progress("Scale: after the updates: %s", after.memory)
	report(b, figure{what: "peak RSS at 10,000 pods during updates", value: mib(after.memory.peak), unit: "update-peak-MiB", target: 64, reference: "458 MB"})
	reportCgroup(b, p, after, "update-")
	report(b, figure{what: "API writes during the updates, leases aside", value: w.total(resourceLeases), unit: "update-writes", target: noTarget})
	report(b, figure{what: "operator CPU time during the updates", value: round((after.cpu - before.cpu).Seconds(), 2), unit: "update-cpu-s", target: noTarget})
}

// createLoad creates the namespaces and pods of the load and waits until every pod is Running.
func createLoad(b *testing.B, c *cluster, rev string) {
	b.Helper()
	parallel(b, "namespaces created", scaleNamespaces, func(ctx context.Context, i int) error {
		return ensureNamespace(ctx, c.client, namespaceName(i), namespaceLabels(i, rev))
	})
	parallel(b, "pods created", scaleNamespaces*podsPerNamespace, func(ctx context.Context, i int) error {
		err := c.client.Create(ctx, newPod(i, rev))
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	want := scaleNamespaces * podsPerNamespace
	ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute)
	defer cancel()
	lastReport := time.Now()
	err := poll(ctx, 5*time.Second, func() error {
		running, err := countRunningPods(ctx, c)
		if err != nil {
			return err
		}
		if time.Since(lastReport) >= 10*time.Second || running >= want {
			progress("Scale: %d of %d pods Running", running, want)
			lastReport = time.Now()
		}
		if running < want {
			return fmt.Errorf("%d of %d pods Running", running, want)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// nodePodCapacity is how many pods each fake node takes. testcluster's nodes take a kubelet's
// default of 110, too few for the load and the istiod pods the scheduler must still place.
const nodePodCapacity = "5000"

// raisePodCapacity raises the pod capacity of the cluster's fake nodes to nodePodCapacity; kwok keeps
// a node's capacity as it finds it.
func raisePodCapacity(ctx context.Context, c *cluster) error {
	patch := []byte(`{"status":{"capacity":{"pods":"` + nodePodCapacity + `"},"allocatable":{"pods":"` + nodePodCapacity + `"}}}`)
	for i := range scaleNodes {
		if _, err := c.clientset.CoreV1().Nodes().Patch(ctx, testcluster.NodeName(i), types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			return fmt.Errorf("raising the pod capacity of node %s: %w", testcluster.NodeName(i), err)
		}
	}
	return nil
}

// countRunningPods counts the Running pods of the load's namespaces, a page of metadata at a time.
func countRunningPods(ctx context.Context, c *cluster) (int, error) {
	n := 0
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	for {
		if err := c.client.List(ctx, list, client.MatchingFields{"status.phase": string(corev1.PodRunning)}, client.Limit(2000), client.Continue(list.Continue)); err != nil {
			return 0, err
		}
		for _, p := range list.Items {
			if strings.HasPrefix(p.Namespace, namespacePrefix) {
				n++
			}
		}
		if list.Continue == "" {
			return n, nil
		}
	}
}

// moveWorkloads does what a user does after a RevisionBased version change: relabels the namespaces
// from the old revision to the new one and restarts their pods, which Istio's injector then injects
// from the new revision. The restart is played by re-annotating the pods in place: the operator sees
// the same change of what each pod references, without the box creating 5,000 pods again.
func moveWorkloads(b *testing.B, c *cluster, oldRev, newRev string) {
	b.Helper()
	relabel := fmt.Sprintf(`{"metadata":{"labels":{"istio.io/rev":%q}}}`, newRev)
	parallel(b, "namespaces relabelled", scaleNamespaces/2, func(ctx context.Context, i int) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(2 * i)}}
		return c.client.Patch(ctx, ns, client.RawPatch(types.MergePatchType, []byte(relabel)))
	})
	reannotate := fmt.Sprintf(`{"metadata":{"annotations":{"istio.io/rev":%q,"sidecar.istio.io/status":%q}}}`, newRev, sidecarStatus(newRev))
	parallel(b, "pods re-annotated", scaleNamespaces/2*podsPerNamespace, func(ctx context.Context, i int) error {
		// The i-th pod of the labelled (even) namespaces.
		ns := 2 * (i / podsPerNamespace)
		pod := newPod(ns*podsPerNamespace+i%podsPerNamespace, oldRev)
		return c.client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(reannotate)))
	})
}

// checkInUse fails the benchmark unless the operator counts the load's references to the revision.
func checkInUse(b *testing.B, c *cluster, rev string) {
	b.Helper()
	cond, err := revisionCondition(b.Context(), c.client, rev, v1.ConditionInUse)
	if err != nil {
		b.Fatal(err)
	}
	if cond == nil || cond.Status != metav1.ConditionTrue {
		b.Fatalf("revision %s: InUse %+v, want True", rev, cond)
	}
	progress("Scale: revision %s InUse: %s", rev, cond.Message)
}

const namespacePrefix = "shop-"

func namespaceName(i int) string { return fmt.Sprintf("%s%04d", namespacePrefix, i) }

// namespaceLabels labels every other namespace for injection by the revision.
func namespaceLabels(i int, rev string) map[string]string {
	labels := map[string]string{"team": fmt.Sprintf("team-%d", i%40)}
	if i%2 == 0 {
		labels["istio.io/rev"] = rev
	}
	return labels
}

// newPod is the i-th pod of the load. In a labelled namespace it carries what Istio's injector writes
// on a pod it injects from rev (labels, annotations, the istio-proxy container and istio-init), plus
// sidecar.istio.io/inject=false, which keeps the box's injection webhook away from the pod: 10,000
// calls to the box's istiod would measure istiod, not the operator.
func newPod(i int, rev string) *corev1.Pod {
	ns := i / podsPerNamespace
	app := "web"
	if i%podsPerNamespace >= 3 {
		app = "worker"
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-7d9f8b6c5-%05d", app, i),
			Namespace: namespaceName(ns),
			Labels:    map[string]string{"app": app, "version": "v1", "pod-template-hash": "7d9f8b6c5"},
		},
		Spec: corev1.PodSpec{
			NodeName:   testcluster.NodeName(i % scaleNodes),
			Containers: []corev1.Container{{Name: app, Image: "registry.example.com/shop/" + app + ":1.4.2", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
		},
	}
	if ns%2 != 0 {
		return pod
	}
	for k, v := range map[string]string{
		"sidecar.istio.io/inject":             "false",
		"security.istio.io/tlsMode":           "istio",
		"service.istio.io/canonical-name":     app,
		"service.istio.io/canonical-revision": "v1",
	} {
		pod.Labels[k] = v
	}
	pod.Annotations = map[string]string{
		"istio.io/rev":                                 rev,
		"sidecar.istio.io/status":                      sidecarStatus(rev),
		"kubectl.kubernetes.io/default-container":      app,
		"kubectl.kubernetes.io/default-logs-container": app,
		"prometheus.io/path":                           "/stats/prometheus",
		"prometheus.io/port":                           "15020",
		"prometheus.io/scrape":                         "true",
	}
	proxy := corev1.Container{
		Name:  "istio-proxy",
		Image: "docker.io/istio/proxyv2:1.24.3",
		Args:  []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"},
		Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}},
	}
	pod.Spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: proxy.Image, Args: []string{"istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"}}}
	pod.Spec.Containers = append(pod.Spec.Containers, proxy)
	return pod
}

// sidecarStatus is the sidecar.istio.io/status annotation Istio's injector writes.
func sidecarStatus(rev string) string {
	return `{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"` + rev + `"}`
}

// parallel calls f for 0 ≤ i < n from scaleWorkers goroutines, retrying each call a few times (the API
// server sheds load with 429s and timeouts), and prints its progress every 10 seconds.
func parallel(b *testing.B, what string, n int, f func(ctx context.Context, i int) error) {
	b.Helper()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range scaleWorkers {
		wg.Go(func() {
			for i := range next {
				var err error
				for attempt := range 5 {
					if err = f(ctx, i); err == nil || ctx.Err() != nil {
						break
					}
					time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
				}
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				done.Add(1)
			}
		})
	}
	start := time.Now()
	ticker := time.NewTicker(10 * time.Second)
	defer ticker.Stop()
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		case <-ticker.C:
			progress("Scale: %d of %d %s (%.0f a second)", done.Load(), n, what, float64(done.Load())/time.Since(start).Seconds())
			select {
			case next <- i:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("%s: %v", what, firstErr)
	}
	progress("Scale: %d %s in %s", n, what, time.Since(start).Round(time.Second))
}

// measureStatus runs `bosun status -o json` as a user does against the loaded cluster, and reports its
// wall time and the largest resident memory the process reached (the kernel's rusage).
func measureStatus(b *testing.B, c *cluster) {
	b.Helper()
	cmd := exec.Command(env.bosun, "status", "--kubeconfig", c.KubeconfigPath(), "-o", "json")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("bosun status: %v\n%s", err, errOut.String())
	}
	var st meshview.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		b.Fatal(err)
	}
	pods := 0
	for _, r := range st.Revisions {
		pods += r.Pods
	}
	rusage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for bosun status")
	}
	maxRSS := float64(rusage.Maxrss) / 1024 // KiB on Linux
	progress("Scale: bosun status counted %d pods in use in %s, max RSS %.1f MiB", pods, took.Round(time.Millisecond), maxRSS)
	report(b, figure{what: "bosun status at 10,000 pods: wall time", value: round(took.Seconds(), 2), unit: "status-s", target: 2})
	report(b, figure{what: "bosun status at 10,000 pods: max RSS", value: round(maxRSS, 1), unit: "status-MiB", target: 100})
}
