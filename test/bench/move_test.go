//go:build linux

package bench

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// moveNamespaces sizes BenchmarkMoveWorkloads: namespaces of deploymentsPerNamespace Deployments each.
// -move-namespaces=200 measures the 200 × 5 of the issue that asked for the move (about 15 minutes: 4 to
// create the pods, injected by the real istiod, 9 to move them).
var moveNamespaces = flag.Int("move-namespaces", 20, "namespaces of BenchmarkMoveWorkloads, each with 5 single-replica Deployments")

const (
	deploymentsPerNamespace = 5
	// movePrefix starts the names of BenchmarkMoveWorkloads' namespaces.
	movePrefix = "move-"
	// moveTimePerWorkload bounds the wait for the move: generous beside the second or so each takes.
	moveTimePerWorkload = 10 * time.Second
)

// BenchmarkMoveWorkloads runs a RevisionBased version change of an Istio with updateWorkloads over
// -move-namespaces namespaces of 5 single-replica Deployments each, labelled for the old revision and
// injected by its istiod, and measures the time from the version patch until the Istio reports every
// workload moved (WorkloadsUpdated True), and the API writes of the whole change, leases aside, per
// workload moved.
func BenchmarkMoveWorkloads(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b)
	istio := newIstio(v1.UpdateStrategyRevisionBased)
	istio.Spec.UpdateStrategy.UpdateWorkloads = true
	createIstio(b, c, istio)
	b.Cleanup(func() { deleteIstio(b, c, istioName) })
	waitIstio(b, c, istioName, ready(""))
	old := revisionName(fromVersion)
	n := *moveNamespaces * deploymentsPerNamespace
	// The shared cluster's nodes hold a few hundred pods; a larger move needs more, with room for the
	// surge of a rollout and the control plane's pods.
	if nodes := (n+deploymentsPerNamespace+20)/testcluster.PodsPerNode + 1; nodes > sharedNodes {
		progress("MoveWorkloads: %d fake nodes for %d pods", nodes, n)
		if err := c.EnsureNodes(b.Context(), nodes); err != nil {
			b.Fatal(err)
		}
	}
	progress("MoveWorkloads: %d namespaces × %d Deployments on %s", *moveNamespaces, deploymentsPerNamespace, old)
	for i := range *moveNamespaces {
		ns := fmt.Sprintf("%s%03d", movePrefix, i)
		if err := ensureNamespace(b.Context(), c.client, ns, map[string]string{"istio.io/rev": old}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = c.client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		})
		for j := range deploymentsPerNamespace {
			labels := map[string]string{"app": fmt.Sprintf("app-%d", j)}
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: labels["app"]}, Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}},
			}}
			if err := c.client.Create(b.Context(), d); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(b.Context(), time.Duration(n)*moveTimePerWorkload)
	defer cancel()
	onRevision := func(rev string) func() error {
		return func() error {
			var pods corev1.PodList
			if err := c.client.List(ctx, &pods, client.HasLabels{"app"}); err != nil {
				return err
			}
			on := 0
			for _, p := range pods.Items {
				if p.Namespace[:len(movePrefix)] == movePrefix && p.DeletionTimestamp == nil && p.Annotations["istio.io/rev"] == rev && p.Status.Phase == corev1.PodRunning {
					on++
				}
			}
			if on != n {
				return fmt.Errorf("%d of %d pods running on %s", on, n, rev)
			}
			return nil
		}
	}
	if err := poll(ctx, time.Second, onRevision(old)); err != nil {
		b.Fatal(err)
	}

	before := waitQuiet(b, p)
	changed := setVersion(b, c, istioName, toVersion)
	next := revisionName(toVersion)
	var movedAt time.Time
	err := poll(ctx, 500*time.Millisecond, func() error {
		i := &v1.Istio{}
		if err := c.client.Get(ctx, client.ObjectKey{Name: istioName}, i); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(i.Status.Conditions, v1.ConditionWorkloadsUpdated)
		if i.Status.ActiveRevisionName != next || cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("active %s, WorkloadsUpdated %+v, workloads %+v", i.Status.ActiveRevisionName, cond, i.Status.Workloads)
		}
		movedAt = time.Now()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := poll(ctx, time.Second, onRevision(next)); err != nil {
		b.Fatal(err)
	}
	after := waitQuiet(b, p)
	w := after.metrics.writes().since(before.metrics.writes())
	progress("MoveWorkloads: writes by resource, until quiet: %s", w)
	took := movedAt.Sub(changed)
	report(b, figure{what: fmt.Sprintf("version patch → %d workloads moved (WorkloadsUpdated True)", n), value: round(took.Seconds(), 1), unit: "s-to-move", target: noTarget})
	report(b, figure{what: "… per workload", value: round(took.Seconds()/float64(n), 2), unit: "s/workload", target: noTarget})
	report(b, figure{what: "API writes of the change and the move, leases aside, per workload", value: round(w.total(resourceLeases)/float64(n), 2), unit: "writes/workload", target: noTarget})
}
