//go:build e2e

package e2e

import (
	"context"
	"fmt"
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
	"github.com/bosun-mesh/bosun/samples"
)

// TestRevisionBasedUpdateMovesWorkloads: the five namespaces of the migration document run Bookinfo on
// a RevisionBased Istio with updateWorkloads: true, each labelled istio.io/rev=default-v1-24-3, and
// jupiter annotated to move first (wave -1). After the version patch, with no other step by the user:
//   - bosun relabels each namespace to default-v1-24-4 and restarts its Deployments, one namespace at a
//     time: jupiter first, then the others by name, each namespace's pods all replaced by pods that
//     the new revision's real istiod injected with the 1.24.4 proxy before the next namespace moves;
//   - `bosun status` shows the move while it goes on;
//   - every Deployment was restarted once (kubectl's restartedAt, and the change it was for);
//   - the Istio reports WorkloadsUpdated=True, and the old revision, no longer used, is deleted with
//     its istiod after the grace period.
func TestRevisionBasedUpdateMovesWorkloads(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	const old, next = "default-v1-24-3", "default-v1-24-4"
	ensureNamespace(t, c, "istio-system")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  namespace: istio-system
  version: v1.24.3
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriodSeconds: 5
    updateWorkloads: true`)
	t.Cleanup(func() { deleteIstio(t, c, "default") })
	istioHealthy(t, c, "default")
	appNamespaces(t, c, map[string]string{"istio.io/rev": old}, planets...)
	mergePatch(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jupiter"}}, fmt.Sprintf(`{"metadata":{"annotations":{%q:"-1"}}}`, move.AnnotationWave))
	for _, ns := range planets {
		assertSidecars(t, deployBookinfo(t, c, ns), old, "proxyv2:1.24.3")
	}

	// oc patch istio default --type='merge' -p '{"spec":{"version":"v1.24.4"}}', and nothing else.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	order := []string{"jupiter", "earth", "mars", "mercury", "venus"}
	for i, ns := range order {
		pods := bookinfoRolledOut(t, c, ns, func(p corev1.Pod) error {
			if rev := p.Annotations["istio.io/rev"]; rev != next {
				return fmt.Errorf("pod %s runs %s", p.Name, rev)
			}
			return nil
		})
		assertSidecars(t, pods, next, "proxyv2:1.24.4")
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
