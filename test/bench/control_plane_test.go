//go:build linux

package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
)

// startOnShared starts an operator on the shared cluster and, when the benchmark ends, deletes the
// benchmark's Istio while the operator still runs, so that the next benchmark finds the cluster as
// this one did.
func startOnShared(b *testing.B, extra ...string) (*cluster, *operatorProcess) {
	b.Helper()
	c := sharedCluster(b)
	p := startOperator(b, c, extra...)
	b.Cleanup(func() { deleteIstio(b, c, istioName) })
	return c, p
}

// asTheChartRuns are the flags that make the operator run as the chart runs it, for the latency
// benchmarks: with the container's memory limit (chart/values.yaml, resources.limits.memory), from which
// the operator sets the Go runtime's soft memory limit and leaves the collector at its default pace.
// Without a limit the operator collects garbage four times as often (GOGC 25, cmd/bosun-operator), to
// stay small on a large cluster, which makes a render about three times as slow.
var asTheChartRuns = []string{"--memory-limit=160Mi"}

// istiodOf is the istiod Deployment of a revision.
func istiodOf(revision string) workload {
	name := "istiod"
	if revision != istioName {
		name += "-" + revision
	}
	return workload{gvk: appsv1.SchemeGroupVersion.WithKind("Deployment"), namespace: controlPlaneNamespace, name: name}
}

// withVersion returns a copy of an Istio on another version.
func withVersion(istio *v1.Istio, version string) *v1.Istio {
	out := istio.DeepCopy()
	out.Spec.Version = v1.IstioVersion(version)
	return out
}

// countInstallWrites reports the API writes of the operator's first install, against what an install
// needs: its objects, the IstioRevision, and two status writes each for the Istio and the revision
// (not Ready, then Ready). Events are counted apart, and so are Istio's CRDs, which the first install
// in a cluster applies once for every control plane.
func countInstallWrites(b *testing.B, w writes, objects int) {
	b.Helper()
	progress("Install: writes by resource, until quiet: %s", w)
	needed := float64(objects + 1 + 4)
	report(b, figure{what: fmt.Sprintf("API writes for one install, leases, Events and Istio's CRDs aside (%d objects)", objects),
		value: w.total(resourceLeases, resourceEvents, "customresourcedefinitions"), unit: "writes", target: needed, reference: "41–59"})
	report(b, figure{what: "… Events", value: w[resourceEvents], unit: "event-writes", target: noTarget})
	report(b, figure{what: "… Secrets", value: w[resourceSecrets], unit: "secret-writes", target: 0, reference: "10 (Helm release Secrets)"})
}

// BenchmarkInstall creates an Istio (InPlace, named default, as OpenShift Service Mesh's procedure
// does) and measures the time until it is Ready, floorRuns times, deleting it in between; then the
// floor: the same objects applied without the operator until istiod rolled out. For the first install
// it counts the API writes the operator sent until it went quiet, by resource.
func BenchmarkInstall(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b, asTheChartRuns...)
	istio := newIstio(v1.UpdateStrategyInPlace)
	objs := rendered(b, istio)
	istiod := istiodOf(istioName)
	// Once it leads, the operator installs its version policies (internal/versionpolicy): writes of its
	// start, not of the install.
	before := waitQuiet(b, p)
	progress("Install: writes at start-up, until quiet: %s", before.metrics.writes())
	var t stepTimes
	var windows []window
	for i := range floorRuns {
		if i > 0 {
			deleteIstio(b, c, istioName)
			waitNoPods(b, c, []workload{istiod})
		}
		start := p.sample(b)
		created := createIstio(b, c, istio.DeepCopy())
		readyAt, _ := waitIstio(b, c, istioName, ready(""))
		t.operator = append(t.operator, readyAt.Sub(created))
		windows = append(windows, window{start, p.sample(b)})
		if i == 0 {
			after := waitQuiet(b, p)
			countInstallWrites(b, after.metrics.writes().since(before.metrics.writes()), len(objs))
			report(b, figure{what: "renders for one install", value: renders(after) - renders(before), unit: "renders", target: noTarget})
		}
	}
	phaseBreakdown(b, windows)
	deleteIstio(b, c, istioName)
	p.stop()
	waitNoPods(b, c, []workload{istiod})
	t.floor = floorOfInstall(b, c, objs, istiod)
	reportStep(b, "create Istio → Ready, istiod rolled out", t, 0.15, "0.45 s")
}

// BenchmarkInPlaceVersionChange changes an InPlace Istio's version, floorRuns times back and forth,
// and measures the time until the new istiod has rolled out and the Istio is Ready again; then the
// floor: one patch of istiod's image, back and forth, until it rolled out. For the first change it
// counts the API writes until the operator went quiet.
func BenchmarkInPlaceVersionChange(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b, asTheChartRuns...)
	istio := newIstio(v1.UpdateStrategyInPlace)
	istiod := istiodOf(istioName)
	objs := rendered(b, istio)
	container, fromImage := firstContainer(objs, istiod)
	images := map[string]string{fromVersion: fromImage, toVersion: firstImageOf(rendered(b, withVersion(istio, toVersion)), istiod)}
	createIstio(b, c, istio.DeepCopy())
	waitIstio(b, c, istioName, ready(""))
	var t stepTimes
	var windows []window
	for i := range floorRuns {
		version := []string{toVersion, fromVersion}[i%2]
		before := waitQuiet(b, p)
		changed := setVersion(b, c, istioName, version)
		readyAt, _ := waitIstio(b, c, istioName, ready(""))
		t.operator = append(t.operator, readyAt.Sub(changed))
		windows = append(windows, window{before, p.sample(b)})
		checkCurrent(b, c, istiod, images[version])
		if i > 0 {
			continue
		}
		after := waitQuiet(b, p)
		w := after.metrics.writes().since(before.metrics.writes())
		progress("InPlaceVersionChange: writes by resource, until quiet: %s", w)
		report(b, figure{what: "API writes for an InPlace version change, leases aside", value: w.total(resourceLeases), unit: "writes", target: noTarget})
	}
	phaseBreakdown(b, windows)
	deleteIstio(b, c, istioName)
	p.stop()
	waitNoPods(b, c, []workload{istiod})

	if err := applyFloor(b.Context(), c, objs); err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, c, istiod, "")
	for i := range floorRuns {
		image := images[[]string{toVersion, fromVersion}[i%2]]
		start := time.Now()
		if err := setImage(b.Context(), c, istiod, container, image); err != nil {
			b.Fatal(err)
		}
		t.floor = append(t.floor, waitRolledOut(b, c, istiod, image).Sub(start))
	}
	deleteFloor(b, c, objs)
	reportStep(b, "InPlace version change → new istiod rolled out, Ready", t, 0.15, "0.79 s")
}

// BenchmarkRevisionBasedVersionChange changes a RevisionBased Istio's version, floorRuns times back
// and forth, and measures the time until the new revision is the active one and Ready. Between changes
// it waits for the operator to delete the old revision, unused for its grace period, so that every
// change creates a revision. For the install and the first change (until the old revision is gone) it
// counts the API writes. The floor: the new revision's objects applied beside the old one's until its
// istiod rolled out.
func BenchmarkRevisionBasedVersionChange(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b, asTheChartRuns...)
	before := waitQuiet(b, p)
	istio := newIstio(v1.UpdateStrategyRevisionBased)
	old := rendered(b, istio)
	objs := rendered(b, withVersion(istio, toVersion))
	images := map[string]string{fromVersion: firstImageOf(old, istiodOf(revisionName(fromVersion))), toVersion: firstImageOf(objs, istiodOf(revisionName(toVersion)))}
	createIstio(b, c, istio.DeepCopy())
	waitIstio(b, c, istioName, ready(revisionName(fromVersion)))
	installed := waitQuiet(b, p)
	w := installed.metrics.writes().since(before.metrics.writes())
	progress("RevisionBasedVersionChange: install writes by resource, until quiet: %s", w)
	report(b, figure{what: "API writes for one RevisionBased install, leases aside", value: w.total(resourceLeases), unit: "install-writes", target: noTarget})

	var t stepTimes
	var windows []window
	for i := range floorRuns {
		from, to := fromVersion, toVersion
		if i%2 == 1 {
			from, to = to, from
		}
		before := waitQuiet(b, p)
		changed := setVersion(b, c, istioName, to)
		readyAt, _ := waitIstio(b, c, istioName, ready(revisionName(to)))
		t.operator = append(t.operator, readyAt.Sub(changed))
		windows = append(windows, window{before, p.sample(b)})
		checkCurrent(b, c, istiodOf(revisionName(to)), images[to])
		waitGone(b, c, revisionName(from))
		if i > 0 {
			continue
		}
		after := waitQuiet(b, p)
		w := after.metrics.writes().since(before.metrics.writes())
		progress("RevisionBasedVersionChange: writes by resource for a version change, until the old revision was gone and the operator quiet: %s", w)
		report(b, figure{what: "API writes for a RevisionBased version change, old revision removed, leases aside", value: w.total(resourceLeases), unit: "writes", target: noTarget})
	}
	phaseBreakdown(b, windows)
	deleteIstio(b, c, istioName)
	p.stop()

	istiod := istiodOf(revisionName(toVersion))
	waitNoPods(b, c, []workload{istiodOf(revisionName(fromVersion)), istiod})
	if err := applyFloor(b.Context(), c, old); err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, c, istiodOf(revisionName(fromVersion)), "")
	t.floor = floorOfInstall(b, c, objs, istiod)
	deleteFloor(b, c, old)
	reportStep(b, "RevisionBased version change → new revision active, Ready, its istiod rolled out", t, 0.25, "1.07 s")
}

// noopReconciles is how many no-op reconciles BenchmarkNoopReconcile triggers, one every
// noopInterval: enough for CPU time counted in 10 ms ticks to give a per-reconcile figure.
const (
	noopReconciles = 200
	noopInterval   = 50 * time.Millisecond
)

// BenchmarkNoopReconcile measures what a reconcile that changes nothing costs a converged operator: it
// changes a label of its own on a ConfigMap bosun applied (which bosun watches for drift, but whose
// labels it does not own) noopReconciles times, and divides the operator's CPU time and the
// controller's reconcile time by the reconciles that followed. The CPU time the operator spends idle
// over as long a time, measured just before, is subtracted. A no-op reconcile must write nothing.
func BenchmarkNoopReconcile(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b)
	createIstio(b, c, newIstio(v1.UpdateStrategyInPlace))
	waitIstio(b, c, istioName, ready(""))
	quiet := waitQuiet(b, p)
	cm := appliedConfigMap(b, c)

	// Idle CPU over as long as the touches take.
	time.Sleep(noopReconciles * noopInterval)
	idle := p.sample(b)
	idleCPU := idle.cpu - quiet.cpu
	idleTime := idle.at.Sub(quiet.at)

	labels := map[string]string{"controller": "istiorevision"}
	for i := range noopReconciles {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"bench.bosun.dev/touch":"%d"}}}`, i)
		if err := c.client.Patch(b.Context(), cm, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			b.Fatal(err)
		}
		time.Sleep(noopInterval)
	}
	// Let the last reconciles finish.
	var after sample
	err := poll(b.Context(), 200*time.Millisecond, func() error {
		after = p.sample(b)
		if n := after.metrics.sum("controller_runtime_reconcile_total", labels) - idle.metrics.sum("controller_runtime_reconcile_total", labels); n < noopReconciles {
			return fmt.Errorf("%g reconciles so far", n)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second)
	after = p.sample(b)

	reconciles := after.metrics.sum("controller_runtime_reconcile_total", labels) - idle.metrics.sum("controller_runtime_reconcile_total", labels)
	reconcileTime := after.metrics.histogramSum("controller_runtime_reconcile_time_seconds", labels) - idle.metrics.histogramSum("controller_runtime_reconcile_time_seconds", labels)
	busy := after.cpu - idle.cpu - time.Duration(float64(idleCPU)*after.at.Sub(idle.at).Seconds()/idleTime.Seconds())
	w := after.metrics.writes().since(idle.metrics.writes())
	progress("NoopReconcile: %g reconciles of istiorevision for %d label changes; operator CPU %s (idle %s over %s before); writes %s",
		reconciles, noopReconciles, after.cpu-idle.cpu, idleCPU, idleTime.Round(time.Second), w)
	report(b, figure{what: "API writes of no-op reconciles, leases aside", value: w.total(resourceLeases), unit: "writes", target: 0})
	report(b, figure{what: "operator CPU time per no-op reconcile (idle subtracted)", value: round(busy.Seconds()*1000/reconciles, 2), unit: "cpu-ms/reconcile", target: noTarget})
	report(b, figure{what: "reconcile time per no-op reconcile (controller_runtime_reconcile_time_seconds)", value: round(reconcileTime*1000/reconciles, 2), unit: "ms/reconcile", target: noTarget})
}

// idlePeriod is how long BenchmarkIdle watches a converged operator.
const idlePeriod = 300 * time.Second

// BenchmarkIdle installs an Istio, waits for the operator to go quiet, and then counts its API writes
// and CPU time over idlePeriod; it ends with the operator's resident memory, idle with one Istio.
func BenchmarkIdle(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b)
	createIstio(b, c, newIstio(v1.UpdateStrategyInPlace))
	waitIstio(b, c, istioName, ready(""))
	start := waitQuiet(b, p)
	progress("Idle: watching the converged operator for %s", idlePeriod)
	for elapsed := time.Duration(0); elapsed < idlePeriod; elapsed += time.Minute {
		time.Sleep(min(time.Minute, idlePeriod-elapsed))
		s := p.sample(b)
		progress("Idle: %s of %s, writes so far %s, RSS %.1f MiB", min(elapsed+time.Minute, idlePeriod), idlePeriod, s.metrics.writes().since(start.metrics.writes()), mib(s.memory.rss))
	}
	end := p.sample(b)
	w := end.metrics.writes().since(start.metrics.writes())
	progress("Idle: writes in %s: %s", end.at.Sub(start.at).Round(time.Second), w)
	report(b, figure{what: "API writes in 300 idle seconds", value: w.total(), unit: "writes", target: 20, reference: "150"})
	report(b, figure{what: "… that are not lease renewals", value: w.total(resourceLeases), unit: "nonlease-writes", target: 0})
	report(b, figure{what: "operator CPU time in 300 idle seconds", value: round((end.cpu - start.cpu).Seconds(), 2), unit: "cpu-s", target: noTarget})
	reportRSS(b, end, "operator RSS, idle, one Istio", "MiB", 40, "94 MB")
	report(b, figure{what: "operator peak RSS since start (install included)", value: mib(end.memory.peak), unit: "peak-MiB", target: noTarget})
	reportCgroup(b, p, end, "")
}

// renders counts the charts the operator rendered.
func renders(s sample) float64 { return s.metrics.sum("bosun_renders_total", nil) }

// revisionName is the name of the benchmarks' RevisionBased revision for a version.
func revisionName(version string) string {
	return istioName + "-" + strings.ReplaceAll(version, ".", "-")
}

// appliedConfigMap returns a ConfigMap bosun applied in the control plane's namespace.
func appliedConfigMap(b *testing.B, c *cluster) *corev1.ConfigMap {
	b.Helper()
	var list corev1.ConfigMapList
	if err := c.client.List(b.Context(), &list, client.InNamespace(controlPlaneNamespace), client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue}); err != nil {
		b.Fatal(err)
	}
	if len(list.Items) == 0 {
		b.Fatalf("no ConfigMap of bosun's in %s", controlPlaneNamespace)
	}
	return &list.Items[0]
}
