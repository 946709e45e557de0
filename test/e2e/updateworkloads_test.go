//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/samples"
)

// TestRevisionBasedUpdateMovesWorkloads: the five namespaces of the migration document run Bookinfo on
// a RevisionBased Istio with updateWorkloads: true, each labelled istio.io/rev=default-v1-24-3, and
// jupiter annotated to move first (wave -1). After the version patch, with no other step by the user:
//   - bosun relabels each namespace to default-v1-24-4 and restarts its Deployments, one namespace at a
//     time: jupiter first, then the others by name, each namespace's pods all replaced by pods that
//     the new revision's real istiod injected with the 1.24.4 proxy before the next namespace moves;
//   - `bosun status` shows the move while it goes on;
//   - the operator, SIGKILLed once in each namespace's move at a seeded random moment (the box starts
//     it again, as a kubelet does), carries on from what the cluster shows: every Deployment was
//     restarted once (kubectl's restartedAt, and the change it was for);
//   - the Istio reports WorkloadsUpdated=True, and the old revision, no longer used, is deleted with
//     its istiod after the grace period.
func TestRevisionBasedUpdateMovesWorkloads(t *testing.T) {
	c := newClient(t)
	// Without leader election a restarted operator reconciles at once, not after the killed one's
	// Lease expires.
	installBosun(t, c, "--leader-elect=false")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = v
	}
	t.Logf("kill moments seeded with %d (replay with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const old, next = "default-v1-24-3", "default-v1-24-4"
	movingIstio(t, c, v1.UpdateStrategyRevisionBased, "")
	appNamespaces(t, c, map[string]string{"istio.io/rev": old}, planets...)
	mergePatch(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jupiter"}}, fmt.Sprintf(`{"metadata":{"annotations":{%q:"-1"}}}`, move.AnnotationWave))
	for _, ns := range planets {
		assertSidecars(t, deployBookinfo(t, c, ns), old, "proxyv2:1.24.3")
	}

	// oc patch istio default --type='merge' -p '{"spec":{"version":"v1.24.4"}}', and nothing else.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	order := []string{"jupiter", "earth", "mars", "mercury", "venus"}
	for i, ns := range order {
		killed := planKill(t, c, time.Duration(rng.Int64N(int64(maxKillDelay))))
		pods := bookinfoRolledOut(t, c, ns, func(p corev1.Pod) error {
			if rev := p.Annotations["istio.io/rev"]; rev != next {
				return fmt.Errorf("pod %s runs %s", p.Name, rev)
			}
			return nil
		})
		assertSidecars(t, pods, next, "proxyv2:1.24.4")
		if err := killed.wait(t, c); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			st, text := meshStatus(t, 0)
			u := st.Istios[0].WorkloadsUpdate
			if u == nil || u.Target != next+" (v1.24.4)" || !strings.Contains(text, "default: bosun moves the workloads to "+next) {
				t.Errorf("bosun status during the move: %+v\n%s", u, text)
			}
			t.Logf("bosun status during the move:\n%s", text)
		}
	}

	waitFor(t, "the Istio to report its workloads moved", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, istio); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated)
		if cond == nil || cond.Status != metav1.ConditionTrue || istio.Status.Workloads == nil || istio.Status.Workloads.NamespacesDone != 5 {
			return fmt.Errorf("WorkloadsUpdated %+v, workloads %+v", cond, istio.Status.Workloads)
		}
		return nil
	})
	// Each Deployment was restarted once, and a namespace's first restart came no earlier than the last
	// one of the namespace before it (restartedAt has whole seconds).
	var last time.Time
	for _, ns := range order {
		var first, latest time.Time
		for _, name := range samples.BookinfoDeployments {
			d := &appsv1.Deployment{}
			if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
				t.Fatal(err)
			}
			a := d.Spec.Template.Annotations
			at, err := time.Parse(time.RFC3339, a[restartedAt])
			if d.Generation != 2 || err != nil || !strings.HasPrefix(a[move.AnnotationRestartedFor], next+"@v1.24.4/") {
				t.Errorf("Deployment %s/%s: generation %d, template annotations %v; want one restart by bosun for %s", ns, name, d.Generation, a, next)
				continue
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(latest) {
				latest = at
			}
		}
		if first.Before(last) {
			t.Errorf("namespace %s began moving at %s, before the namespace before it finished (%s)", ns, first.Format(time.TimeOnly), last.Format(time.TimeOnly))
		}
		last = latest
	}
	waitFor(t, "the old revision to be deleted", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("IstioRevision %s is still there (%v)", old, err)
	})
	istiodPods(t, c, "istio-system", next)
	_, text := meshStatus(t, 0)
	t.Logf("bosun status after the move:\n%s", text)
}

// TestUpdateWorkloadsPausesAndRollsBack: the new version's proxy never becomes ready (spec.values
// has the new istiod mark the pods it injects with testcluster.NeverReadyAnnotation, so kwok runs them
// but never makes them Ready, as a sidecar that cannot reach its control plane), so the first
// Deployment bosun restarts onto it never becomes available: its pod runs, unready. When the
// Deployment's progress deadline passes, bosun pauses: the namespace goes back to the old revision, the
// Deployment is restarted onto the old revision's proxy (its pods injected by the old istiod and Ready
// again), the old revision stays, and the Istio says which workload stopped the move, why, and how to
// resume. Fixing the values (a new spec) resumes the move, which then completes, and the old revision
// goes.
func TestUpdateWorkloadsPausesAndRollsBack(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	const old, next = "default-v1-24-3", "default-v1-24-4"
	movingIstio(t, c, v1.UpdateStrategyRevisionBased, "")
	appNamespace(t, c, "saturn", map[string]string{"istio.io/rev": old})
	applyYAML(t, c, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: saturn
spec:
  replicas: 1
  progressDeadlineSeconds: 10
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: registry.example.com/worker:1`)
	workerOn(t, c, old, "")

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		fmt.Sprintf(`{"spec":{"version":"v1.24.4","values":{"sidecarInjectorWebhook":{"injectedAnnotations":{%q:"true"}}}}}`, testcluster.NeverReadyAnnotation))
	waitFor(t, "the worker's pod on "+next+" to run, not Ready", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("saturn")); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Annotations["istio.io/rev"] == next && p.Annotations[testcluster.NeverReadyAnnotation] == "true" && p.Status.Phase == corev1.PodRunning && !podReady(&p) {
				return nil
			}
		}
		return fmt.Errorf("no running, unready pod of %s marked %s among %v", next, testcluster.NeverReadyAnnotation, podNames(pods.Items))
	})
	waitFor(t, "the move to pause", func(ctx context.Context) error {
		cond, err := workloadsUpdated(ctx, c)
		if err != nil {
			return err
		}
		for _, want := range []string{"paused in namespace saturn: saturn/Deployment/worker did not become available with the proxy of " + next,
			"progress deadline", "moved back to " + old, "kubectl annotate istio default " + move.AnnotationResume} {
			if cond.Reason != v1.ReasonPaused || !strings.Contains(cond.Message, want) {
				return fmt.Errorf("WorkloadsUpdated %s %q, want Paused saying %q", cond.Reason, cond.Message, want)
			}
		}
		t.Logf("WorkloadsUpdated=%s %s: %s", cond.Status, cond.Reason, cond.Message)
		return nil
	})
	ns := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "saturn"}, ns); err != nil || ns.Labels["istio.io/rev"] != old {
		t.Errorf("the paused namespace is labelled istio.io/rev=%q (%v), want it back on %s", ns.Labels["istio.io/rev"], err, old)
	}
	workerOn(t, c, old, move.RollbackPrefix+next)
	if err := c.Get(t.Context(), client.ObjectKey{Name: old}, &v1.IstioRevision{}); err != nil {
		t.Errorf("the old revision, which the paused namespace uses again, is gone: %v", err)
	}

	// The fix is a new spec, which resumes the move.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"values":{"sidecarInjectorWebhook":{"injectedAnnotations":null}}}}`)
	workerOn(t, c, next, next+"@")
	waitFor(t, "the move to complete and the old revision to go", func(ctx context.Context) error {
		cond, err := workloadsUpdated(ctx, c)
		if err != nil {
			return err
		}
		if cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("WorkloadsUpdated %s %s: %s", cond.Status, cond.Reason, cond.Message)
		}
		if err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("IstioRevision %s is still there (%v)", old, err)
		}
		return nil
	})
}

// workloadsUpdated is the Istio default's WorkloadsUpdated condition.
func workloadsUpdated(ctx context.Context, c client.Client) (metav1.Condition, error) {
	istio := &v1.Istio{}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, istio); err != nil {
		return metav1.Condition{}, err
	}
	cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated)
	if cond == nil {
		return metav1.Condition{}, fmt.Errorf("no WorkloadsUpdated condition: %v", istio.Status.Conditions)
	}
	return *cond, nil
}

// workerOn waits until the Deployment saturn/worker has rolled out, its template restarted for
// something that starts with restartedFor ("": never restarted), and runs one Ready pod injected by
// revision rev.
func workerOn(t *testing.T, c client.Client, rev, restartedFor string) {
	t.Helper()
	waitFor(t, "saturn/worker on "+rev, func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "saturn", Name: "worker"}, d); err != nil {
			return err
		}
		if got := d.Spec.Template.Annotations[move.AnnotationRestartedFor]; !strings.HasPrefix(got, restartedFor) || (restartedFor == "" && got != "") {
			return fmt.Errorf("restarted for %q", got)
		}
		if err := rolledOut(ctx, c, d); err != nil {
			return err
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("saturn")); err != nil {
			return err
		}
		if len(pods.Items) != 1 || pods.Items[0].DeletionTimestamp != nil || pods.Items[0].Annotations["istio.io/rev"] != rev {
			return fmt.Errorf("pods %v", podNames(pods.Items))
		}
		return nil
	})
}

// TestInPlaceUpdateMovesWorkloads: after an InPlace update of an Istio with updateWorkloads, bosun
// restarts the Deployments whose sidecars are older than the updated control plane, so that every pod
// of Bookinfo ends with the 1.24.4 proxy the real istiod injected, each Deployment restarted once, the
// namespace's istio-injection=enabled label untouched. Once done, reconciles that change nothing make no
// API write (docs/architecture.md#lesson-converged-writes-nothing).
func TestInPlaceUpdateMovesWorkloads(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "default", "istio-system", v1243)
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"updateStrategy":{"updateWorkloads":true}}}`)
	appNamespace(t, c, "pluto", map[string]string{"istio-injection": "enabled"})
	assertSidecars(t, deployBookinfo(t, c, "pluto"), "default", "proxyv2:1.24.3")

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	pods := bookinfoRolledOut(t, c, "pluto", func(p corev1.Pod) error {
		if v := p.Annotations["bosun.dev/proxy-version"]; v != "v1.24.4" {
			return fmt.Errorf("pod %s runs proxy %s", p.Name, v)
		}
		return nil
	})
	assertSidecars(t, pods, "default", "proxyv2:1.24.4")
	waitFor(t, "the Istio to report its workloads moved", func(ctx context.Context) error {
		cond, err := workloadsUpdated(ctx, c)
		if err != nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("WorkloadsUpdated %+v %v", cond, err)
		}
		return nil
	})
	for _, name := range samples.BookinfoDeployments {
		d := &appsv1.Deployment{}
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: "pluto", Name: name}, d); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 2 || !strings.HasPrefix(d.Spec.Template.Annotations[move.AnnotationRestartedFor], "default@v1.24.4/") {
			t.Errorf("Deployment pluto/%s: generation %d, template annotations %v; want one restart by bosun", name, d.Generation, d.Spec.Template.Annotations)
		}
	}
	ns := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "pluto"}, ns); err != nil || ns.Labels["istio-injection"] != "enabled" || ns.Labels["istio.io/rev"] != "" {
		t.Errorf("namespace pluto's labels %v (%v), want istio-injection=enabled alone", ns.Labels, err)
	}

	writes := waitQuiet(t)
	reconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"})
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"metadata":{"annotations":{"team":"platform"}}}`)
	waitFor(t, "the Istio to be reconciled", func(context.Context) error {
		if counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"}) <= reconciles {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if got := counter(t, "bosun_api_writes_total", nil) - writes; got != 0 {
		t.Errorf("a no-op reconcile of an Istio whose workloads were moved sent %v API writes, want 0", got)
	}
}

// TestRevisionBasedUpdateWithTagMovesWorkloads: a namespace labelled istio-injection=enabled follows
// the default tag, which follows the Istio. After a RevisionBased update with updateWorkloads, the tag
// moves to the new revision once its istiod is ready, and bosun restarts the namespace's Deployments
// onto it without relabelling the namespace; the old revision goes once they have moved.
func TestRevisionBasedUpdateWithTagMovesWorkloads(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	const old, next = "default-v1-24-3", "default-v1-24-4"
	movingIstio(t, c, v1.UpdateStrategyRevisionBased, "")
	applyTag(t, c, "default", v1.KindIstio, "default")
	tagReconciled(t, c, "default", old)
	appNamespace(t, c, "neptune", map[string]string{"istio-injection": "enabled"})
	assertSidecars(t, deployBookinfo(t, c, "neptune"), old, "proxyv2:1.24.3")

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	pods := bookinfoRolledOut(t, c, "neptune", func(p corev1.Pod) error {
		if rev := p.Annotations["istio.io/rev"]; rev != next {
			return fmt.Errorf("pod %s runs %s", p.Name, rev)
		}
		return nil
	})
	assertSidecars(t, pods, next, "proxyv2:1.24.4")
	ns := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "neptune"}, ns); err != nil || ns.Labels["istio-injection"] != "enabled" || ns.Labels["istio.io/rev"] != "" {
		t.Errorf("namespace neptune's labels %v (%v), want istio-injection=enabled alone: it follows the tag", ns.Labels, err)
	}
	waitFor(t, "the move to complete and the old revision to go", func(ctx context.Context) error {
		cond, err := workloadsUpdated(ctx, c)
		if err != nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("WorkloadsUpdated %+v %v", cond, err)
		}
		if err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("IstioRevision %s is still there (%v)", old, err)
		}
		return nil
	})
}

// movingIstio installs the Istio default on v1.24.3 with updateWorkloads and the strategy (InPlace or
// RevisionBased, whose inactive revisions go 5 s after they are unused) and, when not empty, the
// spec.values of values (YAML indented under values:); waits until it is healthy, and deletes it when
// the test ends.
func movingIstio(t *testing.T, c client.Client, strategy, values string) {
	t.Helper()
	ensureNamespace(t, c, "istio-system")
	grace := ""
	if strategy == v1.UpdateStrategyRevisionBased {
		grace = "\n    inactiveRevisionDeletionGracePeriodSeconds: 5"
	}
	if values != "" {
		values = "\n  values:\n" + values
	}
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  namespace: istio-system
  version: v1.24.3
  updateStrategy:
    type: `+strategy+grace+`
    updateWorkloads: true`+values)
	t.Cleanup(func() { deleteIstio(t, c, "default") })
	istioHealthy(t, c, "default")
}

// ambientIstiod are the values that turn istiod's ambient mode on (PILOT_ENABLE_AMBIENT), without which
// istiod deploys no waypoint. The operator must then leave ztunnel to another tool
// (--external-node-components=ztunnel): ambient mode needs one, and waypoints are all the tests run.
const ambientIstiod = `    pilot:
      env:
        PILOT_ENABLE_AMBIENT: "true"`
