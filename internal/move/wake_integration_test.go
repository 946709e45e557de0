//go:build integration

package move_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// TestTheWakerWakesTheMoveWhenTheRolloutEnds: against a real API server, the Waker watches the
// Deployment a move restarted from the restart on, and wakes its Istio once, when the rollout is
// complete; a workload no longer awaited (Forget) is no longer watched.
func TestTheWakerWakesTheMoveWhenTheRolloutEnds(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "waker", nil)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "waker", Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web"}}}},
	}}
	operatortest.Create(t, c, d)
	operatortest.RollOut(t, c, "waker", "web")
	watcher, err := client.NewWithWatch(operatortest.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w := move.NewWaker(watcher)

	// The restart, as the move writes it; the Waker starts from the Deployment it returned.
	if err := c.Patch(t.Context(), d, client.RawPatch("application/merge-patch+json",
		[]byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}}}}}`))); err != nil {
		t.Fatal(err)
	}
	wl := move.Workload{Kind: "Deployment", Name: "web", Deadline: time.Minute}
	w.Await("mesh", "waker", wl, d)
	if got := move.Awaiting(w, "mesh"); got != "waker/Deployment/web" {
		t.Fatalf("the Waker awaits %q, want waker/Deployment/web", got)
	}
	// A change that leaves the rollout progressing (a label) wakes nothing; the rollout's end does.
	operatortest.Update(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "waker", Name: "web"}}, func(d *appsv1.Deployment) {
		d.Labels = map[string]string{"tier": "front"}
	})
	operatortest.RollOut(t, c, "waker", "web")
	operatortest.WaitFor(t, "the Istio woken once the rollout ended", func(ctx context.Context) error {
		if got := move.Awaiting(w, "mesh"); got != "" {
			return fmt.Errorf("still awaiting %s", got)
		}
		return nil
	})
	if n := len(move.Wakeups(w)); n != 1 {
		t.Fatalf("the Waker woke the Istio %d times, want once", n)
	}
	if ev := <-move.Wakeups(w); ev.Object.GetName() != "mesh" {
		t.Errorf("the Waker woke Istio %q, want mesh", ev.Object.GetName())
	}

	// Forget stops the watch.
	w.Await("mesh", "waker", wl, d)
	w.Forget("mesh")
	if got := move.Awaiting(w, "mesh"); got != "" {
		t.Errorf("after Forget the Waker awaits %q", got)
	}
}
