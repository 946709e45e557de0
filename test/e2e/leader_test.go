//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator"
)

// TestOnlyTheLeaderWrites runs bosun, installed from its manifests, with two replicas (the Deployment
// scaled to 2, leader election on as the chart sets it). Only the leader writes: after an Istio is
// installed, one pod's process has sent writes and the other's none at all (each pod's
// bosun_api_writes_total, read through the API server's pod proxy). SIGKILL to the leader (no chance
// to release its Lease) hands the Lease over once it expires and not before. The other replica counts
// the lease duration from when it saw the last renewal, which its watch of the Lease shows at once, and
// takes the Lease as soon as it expires (internal/operator's handover lock; client-go's polling alone
// took it up to two jittered retries, retry period × (1 + JitterFactor) each, later, which the test
// still allows). The operator runs with the timings of its flags, shorter than its defaults (a 60 s
// lease renewed every 20 s, internal/operator.DefaultLease) so that the test waits 15 s rather than a
// minute; the hand-over comes 13 s to 15 s after the kill. The new leader then reconciles a version change made while
// there was none, and is again the only writer.
func TestOnlyTheLeaderWrites(t *testing.T) {
	c := newClient(t)
	lease := operator.LeaseTimings{Duration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	in := installBosun(t, c, "--leader-election-lease-duration="+lease.Duration.String(),
		"--leader-election-renew-deadline="+lease.RenewDeadline.String(), "--leader-election-retry-period="+lease.RetryPeriod.String())
	mergePatch(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operatorDeployment}}, `{"spec":{"replicas":2}}`)
	waitFor(t, "two operator pods", func(ctx context.Context) error {
		pods, err := operatorPods(ctx, c)
		if err != nil {
			return err
		}
		if len(pods) != 2 {
			return fmt.Errorf("%d operator pods", len(pods))
		}
		return nil
	})
	in.ready(t, c)
	installIstio(t, c, "leader", "istio-leader", v1243)

	leader := onlyWriter(t, c)
	held := leaderLease(t, c)
	pid := box.PlayedProcesses()[operatorNamespace+"/"+leader]
	t.Logf("pod %s (pid %d) leads as %s, last renewal %s", leader, pid, *held.Spec.HolderIdentity, held.Spec.RenewTime.Format(time.RFC3339Nano))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Read the Lease again: the leader may have renewed it between the read and the kill.
	held = leaderLease(t, c)
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "leader"}}, `{"spec":{"version":"v1.24.4"}}`)

	expires := held.Spec.RenewTime.Add(lease.Duration)
	latest := expires.Add(2 * time.Duration((1+leaderelection.JitterFactor)*float64(lease.RetryPeriod)))
	var next *coordinationv1.Lease
	if err := within(time.Until(latest)+10*time.Second, func(ctx context.Context) error {
		next = leaderLease(t, c)
		if *next.Spec.HolderIdentity == *held.Spec.HolderIdentity {
			return errors.New("the killed leader still holds the Lease")
		}
		return nil
	}); err != nil {
		t.Fatalf("no new leader: %v", err)
	}
	acquired := next.Spec.AcquireTime.Time
	t.Logf("%s took over %s after the kill (the Lease expired %s after it)", *next.Spec.HolderIdentity, acquired.Sub(killed).Round(100*time.Millisecond), expires.Sub(killed).Round(100*time.Millisecond))
	if acquired.Before(expires) {
		t.Errorf("%s took the Lease at %s, before the killed leader's expired at %s", *next.Spec.HolderIdentity, acquired.Format(time.RFC3339Nano), expires.Format(time.RFC3339Nano))
	}
	if acquired.After(latest) {
		t.Errorf("%s took the Lease at %s, after %s: more than two retries after it expired", *next.Spec.HolderIdentity, acquired.Format(time.RFC3339Nano), latest.Format(time.RFC3339Nano))
	}

	istio := istioHealthy(t, c, "leader")
	if rev := istio.Status.ActiveRevisionName; rev != "leader" {
		t.Errorf("active revision %q", rev)
	}
	revision := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "leader"}, revision); err != nil {
		t.Fatal(err)
	}
	if revision.Spec.Version != v1244 {
		t.Errorf("the new leader left the revision on %s", revision.Spec.Version)
	}
	t.Logf("the new leader reconciled the version change %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	onlyWriter(t, c)
}

// leaderLease reads the operator's leader election Lease.
func leaderLease(t *testing.T, c client.Client) *coordinationv1.Lease {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: operator.LeaderElectionID}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || lease.Spec.RenewTime == nil || lease.Spec.AcquireTime == nil {
		t.Fatalf("Lease %s has no holder: %+v", lease.Name, lease.Spec)
	}
	return lease
}

// onlyWriter waits until the operator's pods are all played and exactly one of them has sent API
// writes (its leader election renewals among them), checks that none of the others has sent any, and
// returns the writer's name.
func onlyWriter(t *testing.T, c client.Client) string {
	t.Helper()
	var writer string
	waitFor(t, "one operator pod to have written, and the others nothing", func(ctx context.Context) error {
		pods, err := operatorPods(ctx, c)
		if err != nil {
			return err
		}
		writes := map[string][]string{}
		var writers []string
		for _, pod := range pods {
			m, err := podMetrics(ctx, pod.Name)
			if err != nil {
				return err
			}
			writes[pod.Name] = familySeries(m, "bosun_api_writes_total")
			if familySum(m, "bosun_api_writes_total", nil) > 0 {
				writers = append(writers, pod.Name)
			}
		}
		if len(writers) > 1 {
			t.Fatalf("several operator pods wrote: %v", writes)
		}
		if len(pods) != 2 || len(writers) != 1 {
			return fmt.Errorf("writes by pod: %v", writes)
		}
		writer = writers[0]
		return nil
	})
	return writer
}
