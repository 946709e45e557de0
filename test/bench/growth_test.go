//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// meshCounts are the numbers of meshes BenchmarkMeshes installs and updates together.
var meshCounts = []int{1, 10, 50}

// BenchmarkMeshes installs 1, 10 and 50 meshes together, each an InPlace Istio with its own
// control-plane namespace and discovery selectors, changes all their versions together, and deletes
// them; it reports the time until every one was Ready, the operator's CPU time, and its CPU time per
// reconcile, so that how the cost grows with the meshes shows. The cluster plays istiod pods with
// kwok's fake pods rather than 50 real istiods, which two cores could not run: what grows here is the
// operator's work, not istiod's.
func BenchmarkMeshes(b *testing.B) {
	measureOnce(b)
	prepare(b)
	progress("Meshes: a cluster whose istiod pods are kwok's")
	c, err := startCluster(3, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := c.Stop(); err != nil {
			progress("stopping the meshes' cluster: %v", err)
		}
	})
	p := startOperator(b, c, asTheChartRuns...)
	for _, n := range meshCounts {
		meshes := make([]*v1.Istio, n)
		for i := range meshes {
			name := fmt.Sprintf("mesh%02d", i)
			if err := ensureNamespace(b.Context(), c.client, name+"-system", map[string]string{"mesh": name}); err != nil {
				b.Fatal(err)
			}
			meshes[i] = &v1.Istio{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1.IstioSpec{Namespace: name + "-system", Version: fromVersion,
					Values: &v1.Values{MeshConfig: &v1.MeshConfig{DiscoverySelectors: []v1.LabelSelector{{MatchLabels: map[string]v1.LabelValue{"mesh": v1.LabelValue(name)}}}}}},
			}
		}
		start := waitQuiet(b, p)
		for _, m := range meshes {
			if err := c.client.Create(b.Context(), m.DeepCopy()); err != nil {
				b.Fatal(err)
			}
		}
		installed := waitMeshesReady(b, c, meshes, fromVersion)
		installedAt := p.sample(b)
		reportGrowth(b, n, "install", installed.Sub(start.at), start, installedAt)

		before := waitQuiet(b, p)
		changed := time.Now()
		for _, m := range meshes {
			setVersion(b, c, m.Name, toVersion)
		}
		updated := waitMeshesReady(b, c, meshes, toVersion)
		reportGrowth(b, n, "update", updated.Sub(changed), before, p.sample(b))

		for _, m := range meshes {
			if err := c.client.Delete(b.Context(), m.DeepCopy()); err != nil {
				b.Fatal(err)
			}
		}
		// deleteIstio waits until no revision is left, which here means every mesh's.
		deleteIstio(b, c, meshes[0].Name)
	}
	reportReconcileErrors(b, p)
}

// waitMeshesReady waits until every mesh has reconciled its latest generation, is Ready and runs
// version, and returns when it saw the last one so.
func waitMeshesReady(b *testing.B, c *cluster, meshes []*v1.Istio, version string) time.Time {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	err := poll(ctx, 50*time.Millisecond, func() error {
		var list v1.IstioList
		if err := c.client.List(ctx, &list); err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, istio := range list.Items {
			c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionReady)
			ready[istio.Name] = istio.Status.ObservedGeneration == istio.Generation && c != nil && c.Status == metav1.ConditionTrue &&
				string(istio.Spec.Version) == version
		}
		for _, m := range meshes {
			if !ready[m.Name] {
				return fmt.Errorf("Istio %s is not Ready on %s yet", m.Name, version)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Now()
}

// reportGrowth reports the time a step of n meshes took, the operator's CPU time for it, and that CPU
// time per reconcile.
func reportGrowth(b *testing.B, n int, step string, took time.Duration, before, after sample) {
	b.Helper()
	reconciles := after.metrics.sum("controller_runtime_reconcile_total", nil) - before.metrics.sum("controller_runtime_reconcile_total", nil)
	cpu := (after.cpu - before.cpu).Seconds()
	unit := fmt.Sprintf("%s-%d", step, n)
	report(b, figure{what: fmt.Sprintf("%d meshes: %s, until every one is Ready", n, step), value: round(took.Seconds(), 2), unit: unit + "-s", target: noTarget})
	report(b, figure{what: fmt.Sprintf("%d meshes: %s, operator CPU time", n, step), value: round(cpu, 2), unit: unit + "-cpu-s", target: noTarget})
	report(b, figure{what: fmt.Sprintf("%d meshes: %s, CPU per reconcile (%g reconciles)", n, step, reconciles), value: round(cpu*1000/reconciles, 2), unit: unit + "-cpu-ms/reconcile", target: noTarget})
}

// reportReconcileErrors reports the reconciles that ended in an error: deleting a resource, say, must
// not count as one.
func reportReconcileErrors(b *testing.B, p *operatorProcess) {
	b.Helper()
	s := p.sample(b)
	report(b, figure{what: "reconciles that ended in an error (controller_runtime_reconcile_errors_total)", value: s.metrics.sum("controller_runtime_reconcile_errors_total", nil), unit: "reconcile-errors", target: 0})
}

// heapChanges is how many version changes BenchmarkHeap makes; heapIdle how long it waits idle
// before each measurement.
const (
	heapChanges = 100
	heapIdle    = 60 * time.Second
)

// BenchmarkHeap installs an Istio and measures the operator's anonymous memory after heapIdle, then
// after heapChanges InPlace version changes and heapIdle again: work must not make the operator
// grow. It ends with the operator's heap profile (what holds memory), printed by go tool pprof.
func BenchmarkHeap(b *testing.B) {
	measureOnce(b)
	ports, err := freePorts(1)
	if err != nil {
		b.Fatal(err)
	}
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	c, p := startOnShared(b, "--pprof-bind-address="+pprofAddr)
	createIstio(b, c, newIstio(v1.UpdateStrategyInPlace))
	waitIstio(b, c, istioName, ready(""))
	waitQuiet(b, p)
	time.Sleep(heapIdle)
	first := p.sample(b)
	reportRSS(b, first, fmt.Sprintf("operator RSS %s after the first install", heapIdle), "first-MiB", noTarget, "")
	for i := range heapChanges {
		version := []string{toVersion, fromVersion}[i%2]
		setVersion(b, c, istioName, version)
		waitIstio(b, c, istioName, ready(""))
		if (i+1)%20 == 0 {
			progress("Heap: %d version changes of %d", i+1, heapChanges)
		}
	}
	waitQuiet(b, p)
	time.Sleep(heapIdle)
	last := p.sample(b)
	reportRSS(b, last, fmt.Sprintf("operator RSS %s after %d version changes", heapIdle, heapChanges), "after-MiB", noTarget, "")
	report(b, figure{what: fmt.Sprintf("anonymous memory after %d version changes, as a share of after the first install", heapChanges),
		value: round(float64(last.memory.anon)/float64(first.memory.anon), 3), unit: "anon-ratio", target: 1.10})
	printHeapProfile(b, pprofAddr)
}

// printHeapProfile prints the top of the operator's heap profile (space in use), which names what
// holds its memory.
func printHeapProfile(b *testing.B, addr string) {
	b.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	path := filepath.Join(env.dir, "heap.pprof")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=inuse_space", env.operator, path).CombinedOutput()
	if err != nil {
		b.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	progress("Heap: the operator's heap in use, by function:\n%s", strings.TrimSpace(string(out)))
}
