//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// nodeAgent is one of the node agents the benchmarks install: a new object of its kind, and an empty
// list to watch it with.
type nodeAgent struct {
	name      string
	namespace string
	new       func() client.Object
	list      func() client.ObjectList
}

// withVersion returns a new object of the agent's kind on another version.
func (a nodeAgent) withVersion(version string) client.Object {
	switch o := a.new().(type) {
	case *v1.IstioCNI:
		o.Spec.Version = v1.IstioVersion(version)
		return o
	case *v1.ZTunnel:
		o.Spec.Version = v1.AmbientVersion(version)
		return o
	}
	panic("unknown node agent " + a.name)
}

var (
	cniAgent = nodeAgent{name: "CNIInstall", namespace: "istio-cni",
		new: func() client.Object {
			return &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: fromVersion, Namespace: "istio-cni"}}
		},
		list: func() client.ObjectList { return &v1.IstioCNIList{} }}
	ztunnelAgent = nodeAgent{name: "ZTunnelInstall", namespace: "ztunnel",
		new: func() client.Object {
			return &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.ZTunnelSpec{Version: fromVersion, Namespace: "ztunnel"}}
		},
		list: func() client.ObjectList { return &v1.ZTunnelList{} }}
)

// BenchmarkCNIInstall creates the IstioCNI default and measures the time until it is Ready (its
// istio-cni-node DaemonSet runs a ready pod on every node), floorRuns times, deleting it in between;
// then changes its version back and forth, floorRuns times, until it is Ready on the new version. The
// floors: the rendered objects applied without the operator until the DaemonSet rolled out, and one
// patch of the DaemonSet's image. For the first install it counts the API writes the operator sent
// until it went quiet.
func BenchmarkCNIInstall(b *testing.B) { benchmarkAgent(b, cniAgent) }

// BenchmarkZTunnelInstall is BenchmarkCNIInstall for the ZTunnel default and its ztunnel DaemonSet.
func BenchmarkZTunnelInstall(b *testing.B) { benchmarkAgent(b, ztunnelAgent) }

func benchmarkAgent(b *testing.B, a nodeAgent) {
	measureOnce(b)
	c := sharedCluster(b)
	p := startOperator(b, c, asTheChartRuns...)
	b.Cleanup(func() { deleteAgent(b, c, a) })
	if err := ensureNamespace(b.Context(), c.client, a.namespace, nil); err != nil {
		b.Fatal(err)
	}
	objs := rendered(b, a.new())
	daemonSets := workloadsOf(objs)
	before := waitQuiet(b, p)
	var install, update stepTimes
	var installs, updates []window
	for i := range floorRuns {
		if i > 0 {
			deleteAgent(b, c, a)
			waitNoPods(b, c, daemonSets)
		}
		start := p.sample(b)
		if err := c.client.Create(b.Context(), a.new()); err != nil {
			b.Fatal(err)
		}
		created := time.Now()
		install.operator = append(install.operator, waitAgentReady(b, c, a).Sub(created))
		installs = append(installs, window{start, p.sample(b)})
		if i > 0 {
			continue
		}
		after := waitQuiet(b, p)
		w := after.metrics.writes().since(before.metrics.writes())
		progress("%s: writes by resource, until quiet: %s", a.name, w)
		report(b, figure{what: "API writes for one install, leases aside", value: w.total(resourceLeases), unit: "writes", target: noTarget})
		report(b, figure{what: "… of which Events", value: w[resourceEvents], unit: "event-writes", target: noTarget})
		report(b, figure{what: "renders for one install", value: renders(after) - renders(before), unit: "renders", target: noTarget})
	}
	container, _ := firstContainer(objs, daemonSets[0])
	images := map[string]string{fromVersion: firstImageOf(objs, daemonSets[0]), toVersion: firstImageOf(rendered(b, a.withVersion(toVersion)), daemonSets[0])}
	for i := range floorRuns {
		version := []string{toVersion, fromVersion}[i%2]
		start := waitQuiet(b, p)
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"version":"`+version+`"}}`))
		if err := c.client.Patch(b.Context(), a.new(), patch); err != nil {
			b.Fatal(err)
		}
		changed := time.Now()
		update.operator = append(update.operator, waitAgentReady(b, c, a).Sub(changed))
		updates = append(updates, window{start, p.sample(b)})
		checkCurrent(b, c, daemonSets[0], images[version])
	}
	progress("%s: install", a.name)
	phaseBreakdown(b, installs)
	progress("%s: version change", a.name)
	phaseBreakdown(b, updates)
	deleteAgent(b, c, a)
	p.stop()
	waitNoPods(b, c, daemonSets)

	install.floor = floorOfInstall(b, c, objs, daemonSets[0])
	if err := applyFloor(b.Context(), c, objs); err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, c, daemonSets[0], "")
	for i := range floorRuns {
		image := images[[]string{toVersion, fromVersion}[i%2]]
		start := time.Now()
		if err := setImage(b.Context(), c, daemonSets[0], container, image); err != nil {
			b.Fatal(err)
		}
		update.floor = append(update.floor, waitRolledOut(b, c, daemonSets[0], image).Sub(start))
	}
	deleteFloor(b, c, objs)
	reportStep(b, "create → Ready, DaemonSet rolled out", install, 0.15, "")
	reportStep(b, "version change → Ready, DaemonSet rolled out", update, 0.15, "")
}

// waitAgentReady watches the node agent until it has reconciled its latest generation and is Ready,
// and returns when this process saw it.
func waitAgentReady(b *testing.B, c *cluster, a nodeAgent) time.Time {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	for ctx.Err() == nil {
		w, err := c.client.Watch(ctx, a.list(), client.MatchingFields{"metadata.name": v1.SingletonName})
		if err != nil {
			b.Fatal(err)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				continue
			}
			var observed int64
			var conds []metav1.Condition
			var gen int64
			switch o := ev.Object.(type) {
			case *v1.IstioCNI:
				gen, observed, conds = o.Generation, o.Status.ObservedGeneration, o.Status.Conditions
			case *v1.ZTunnel:
				gen, observed, conds = o.Generation, o.Status.ObservedGeneration, o.Status.Conditions
			default:
				continue
			}
			if observed == gen && meta.IsStatusConditionTrue(conds, v1.ConditionReady) {
				w.Stop()
				return time.Now()
			}
		}
		w.Stop()
	}
	b.Fatalf("timed out after %s waiting for %s to be Ready", waitTimeout, a.name)
	return time.Time{}
}

// deleteAgent deletes the node agent and waits until it is gone, that is until the operator removed
// what it applied for it.
func deleteAgent(b *testing.B, c *cluster, a nodeAgent) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.client.Delete(ctx, a.new()); client.IgnoreNotFound(err) != nil {
		b.Errorf("deleting %s: %v", a.name, err)
		return
	}
	err := poll(ctx, 200*time.Millisecond, func() error {
		if err := c.client.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, a.new()); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	if err != nil {
		b.Errorf("waiting for %s to be gone: %v", a.name, err)
	}
}
