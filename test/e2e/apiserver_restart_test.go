//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestOperatorRidesOutAnAPIServerRestart restarts kube-apiserver while bosun, installed from its
// manifests (leader election on, as the chart sets it), reconciles an InPlace version change: its
// revision has been updated and istiod is rolling out. The operator's watches and its Lease break
// and come back; it converges (Istio Healthy on the new version) without a restart of its own: the
// same process plays its pod throughout, so the box never restarted it, and it did not exit. The
// restart is shorter than the operator's renew deadline (35 s by default), so it keeps its leadership.
func TestOperatorRidesOutAnAPIServerRestart(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	installIstio(t, c, "apirestart", "istio-apirestart", v1243)
	pod, pid := operatorProcess(t, c)

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "apirestart"}}, `{"spec":{"version":"v1.24.4"}}`)
	// The Istio controller has moved the revision to the new version; the revision's own reconcile
	// (render, apply, istiod's rollout, status) is under way.
	waitFor(t, "the revision to move to v1.24.4", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "apirestart"}, rev); err != nil {
			return err
		}
		if rev.Spec.Version != v1244 {
			return fmt.Errorf("revision on %s", rev.Spec.Version)
		}
		return nil
	})
	before := &v1.Istio{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "apirestart"}, before); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarting kube-apiserver with the Istio at generation %d, observed %d, %s", before.Generation, before.Status.ObservedGeneration, before.Status.State)
	if err := box.RestartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}

	istio := istioHealthy(t, c, "apirestart")
	rev := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "apirestart"}, rev); err != nil {
		t.Fatal(err)
	}
	if istio.Status.ActiveRevisionName != "apirestart" || rev.Status.ObservedGeneration != rev.Generation {
		t.Errorf("active revision %q, revision generation %d observed %d", istio.Status.ActiveRevisionName, rev.Generation, rev.Status.ObservedGeneration)
	}
	if afterPod, afterPID := operatorProcess(t, c); afterPod != pod || afterPID != pid {
		t.Errorf("the operator's pod %s was played by pid %d before the API server restart and %s by %d after: the operator restarted", pod, pid, afterPod, afterPID)
	}
}
