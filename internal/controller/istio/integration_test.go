//go:build integration

package istio_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
	v131 = "v1.31.0-snapshot.eed52ebb"
)

// newIstio is an Istio in namespace with updateStrategy strategy and a grace period of zero seconds.
func newIstio(name, namespace, strategy, version string) *v1.Istio {
	grace := int64(0)
	return &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioSpec{Version: v1.IstioVersion(version), Namespace: namespace,
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: strategy, InactiveRevisionDeletionGracePeriodSeconds: &grace}}}
}

// istioStatus waits until the Istio's status describes its latest spec and check passes.
func istioStatus(t *testing.T, c client.Client, name, what string, check func(*v1.Istio) error) {
	t.Helper()
	operatortest.WaitFor(t, "Istio "+name+": "+what, func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
			return err
		}
		if istio.Status.ObservedGeneration != istio.Generation {
			return fmt.Errorf("status of generation %d, spec %d", istio.Status.ObservedGeneration, istio.Generation)
		}
		return check(istio)
	})
}

// state checks an Istio's active revision and state.
func state(active, state string) func(*v1.Istio) error {
	return func(istio *v1.Istio) error {
		if istio.Status.ActiveRevisionName != active || istio.Status.State != state {
			return fmt.Errorf("active %q, state %q (%v)", istio.Status.ActiveRevisionName, istio.Status.State, istio.Status.Conditions)
		}
		return nil
	}
}

// unusedSince waits until a revision's InUse condition is False, and returns since when.
func unusedSince(t *testing.T, c client.Client, rev string) metav1.Time {
	t.Helper()
	var since metav1.Time
	operatortest.WaitFor(t, "IstioRevision "+rev+" to be unused", func(ctx context.Context) error {
		r := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: rev}, r); err != nil {
			return err
		}
		cond, err := operatortest.Condition(r.Status.Conditions, v1.ConditionInUse)
		if err != nil || cond.Status != metav1.ConditionFalse {
			return fmt.Errorf("InUse %+v %v", cond, err)
		}
		since = cond.LastTransitionTime
		return nil
	})
	return since
}

func gone(ctx context.Context, c client.Client, rev string) error {
	err := c.Get(ctx, client.ObjectKey{Name: rev}, &v1.IstioRevision{})
	if err == nil {
		return fmt.Errorf("IstioRevision %s is still there", rev)
	}
	return client.IgnoreNotFound(err)
}

// TestInPlace: an InPlace Istio runs one revision named after it, updated in place one minor at a
// time; a change that skips a minor is refused, changes nothing, and says what to do.
func TestInPlace(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istios")
	operatortest.Namespace(t, c, "inplace-system", nil)
	istio := newIstio("inplace", "inplace-system", v1.UpdateStrategyInPlace, v125)
	operatortest.Create(t, c, istio)
	istioStatus(t, c, "inplace", "its revision not ready", state("inplace", v1.ReasonIstiodNotReady))
	operatortest.RollOut(t, c, "inplace-system", "istiod-inplace")
	istioStatus(t, c, "inplace", "Healthy", state("inplace", v1.StateHealthy))

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v131 })
	istioStatus(t, c, "inplace", "a change that skips minors refused", func(i *v1.Istio) error {
		cond, err := operatortest.Condition(i.Status.Conditions, v1.ConditionReconciled)
		if err != nil {
			return err
		}
		if cond.Reason != v1.ReasonVersionChangeNotAllowed || !strings.Contains(cond.Message, desired.AnnotationAllowMinorSkip) {
			return fmt.Errorf("Reconciled %s/%s %q", cond.Status, cond.Reason, cond.Message)
		}
		// The revision that runs keeps serving: the Istio says so.
		return operatortest.HasCondition(i.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReady)
	})
	rev := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "inplace"}, rev); err != nil || rev.Spec.Version != v125 {
		t.Fatalf("after a refused change the revision runs %s (%v), want %s unchanged", rev.Spec.Version, err, v125)
	}

	operatortest.Update(t, c, istio, func(i *v1.Istio) {
		i.Spec.Version = v127
		i.Annotations = map[string]string{desired.AnnotationAllowMinorSkip: "true"}
	})
	istioStatus(t, c, "inplace", "not ready while the new version rolls out", state("inplace", v1.ReasonIstiodNotReady))
	operatortest.RollOut(t, c, "inplace-system", "istiod-inplace")
	istioStatus(t, c, "inplace", "Healthy on the new version", state("inplace", v1.StateHealthy))
	if err := c.Get(t.Context(), client.ObjectKey{Name: "inplace"}, rev); err != nil || rev.Spec.Version != v127 {
		t.Fatalf("the revision runs %s (%v), want %s", rev.Spec.Version, err, v127)
	}
}

// TestRevisionBased: a RevisionBased Istio gets a revision per version; the old one goes once no
// workload uses it.
func TestRevisionBased(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istios")
	operatortest.Namespace(t, c, "rb-system", nil)
	istio := newIstio("rb", "rb-system", v1.UpdateStrategyRevisionBased, v125)
	operatortest.Create(t, c, istio)
	const old, next = "rb-v1-25-0-snapshot-be4b14ad", "rb-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "rb-system", "istiod-"+old)
	istioStatus(t, c, "rb", "Healthy", state(old, v1.StateHealthy))
	operatortest.Namespace(t, c, "rb-app", map[string]string{"istio.io/rev": old})

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "rb-system", "istiod-"+next)
	istioStatus(t, c, "rb", "the new revision active and Healthy, the old one kept while in use", func(i *v1.Istio) error {
		if err := state(next, v1.StateHealthy)(i); err != nil {
			return err
		}
		if i.Status.Revisions != (v1.RevisionSummary{Total: 2, Ready: 2, InUse: 1}) {
			return fmt.Errorf("revisions %+v", i.Status.Revisions)
		}
		return nil
	})
	if err := gone(t.Context(), c, old); err == nil {
		t.Fatalf("the old revision was removed while a namespace used it")
	}
	operatortest.Update(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rb-app"}}, func(ns *corev1.Namespace) { ns.Labels["istio.io/rev"] = next })
	operatortest.WaitFor(t, "the unused old revision to go", func(ctx context.Context) error { return gone(ctx, c, old) })
	istioStatus(t, c, "rb", "one revision left", func(i *v1.Istio) error {
		if i.Status.Revisions != (v1.RevisionSummary{Total: 1, Ready: 1, InUse: 1}) {
			return fmt.Errorf("revisions %+v", i.Status.Revisions)
		}
		return nil
	})
}

// TestRevisionsUsedInAnotherClusterAreKept: the old revision of a control plane that serves another
// cluster (global.externalIstiod) is kept while bosun cannot see that cluster (no remote secret), and
// while a namespace there uses it, whatever this cluster says; once the namespace there moves to the
// new revision, the old one is pruned. The Istio says whether the cluster answers. The other cluster
// is a second API server, read through a remote secret as istiod reads it
// (docs/architecture.md#lesson-remote-revisions).
func TestRevisionsUsedInAnotherClusterAreKept(t *testing.T) {
	c := operatortest.Client(t)
	other := clustertest.Start(t, testcluster.Options{})
	c2, err := client.New(other.Config(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	operatortest.Namespace(t, c, "ext-system", nil)
	yes := true
	istio := newIstio("ext", "ext-system", v1.UpdateStrategyRevisionBased, v125)
	istio.Spec.Values = &v1.Values{Global: &v1.GlobalConfig{ExternalIstiod: &yes}}
	operatortest.Create(t, c, istio)
	old, next := "ext-v1-25-0-snapshot-be4b14ad", "ext-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "ext-system", "istiod-"+old)
	istioStatus(t, c, "ext", "Healthy, and no cluster to read", func(i *v1.Istio) error {
		if err := state(old, v1.StateHealthy)(i); err != nil {
			return err
		}
		return operatortest.HasCondition(i.Status.Conditions, v1.ConditionRemoteClustersReachable, metav1.ConditionFalse, v1.ReasonNoRemoteClusters)
	})
	revisionInUse(t, c, old, metav1.ConditionUnknown, "no remote secret names a cluster")

	// Without a remote secret the other cluster's use is unknown: the update goes on, the old
	// revision stays.
	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "ext-system", "istiod-"+next)
	istioStatus(t, c, "ext", "the new revision active", state(next, v1.StateHealthy))

	operatortest.Namespace(t, c2, "shop", map[string]string{"istio.io/rev": old})
	kubeconfig, err := os.ReadFile(other.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	operatortest.Create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-remote-secret-cluster2", Namespace: "ext-system",
		Labels: map[string]string{"istio/multiCluster": "true"}, Annotations: map[string]string{"networking.istio.io/cluster": "cluster2"}},
		Data: map[string][]byte{"cluster2": kubeconfig}})
	revisionInUse(t, c, old, metav1.ConditionTrue, "Referenced by 1 namespace (shop) in cluster cluster2")
	istioStatus(t, c, "ext", "cluster2 reachable", func(i *v1.Istio) error {
		cond, err := operatortest.Condition(i.Status.Conditions, v1.ConditionRemoteClustersReachable)
		if err != nil || cond.Status != metav1.ConditionTrue || cond.Message != "reachable: cluster2" {
			return fmt.Errorf("RemoteClustersReachable %+v %v", cond, err)
		}
		return nil
	})
	if i := (&v1.Istio{}); c.Get(t.Context(), client.ObjectKey{Name: "ext"}, i) != nil || i.Status.Revisions.Total != 2 {
		t.Fatalf("the old revision, used in cluster2, was not kept: %+v", i.Status.Revisions)
	}

	// The namespace moves to the new revision in cluster2: nothing uses the old one any more.
	operatortest.Update(t, c2, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, func(ns *corev1.Namespace) { ns.Labels["istio.io/rev"] = next })
	operatortest.WaitFor(t, "the old revision, no longer used in cluster2, to go", func(ctx context.Context) error { return gone(ctx, c, old) })
	revisionInUse(t, c, next, metav1.ConditionTrue, "Referenced by 1 namespace (shop) in cluster cluster2")
	if got := reachable("ext", "cluster2"); got != 1 {
		t.Errorf("bosun_remote_cluster_reachable{istio=ext,cluster=cluster2} = %v, want 1", got)
	}

	// cluster2 stops answering: bosun looks again on its own, says so, and keeps the revision it
	// cannot tell about; the Istio stays Healthy.
	if err := other.Stop(); err != nil {
		t.Fatal(err)
	}
	istioStatus(t, c, "ext", "cluster2 unreachable", func(i *v1.Istio) error {
		if err := state(next, v1.StateHealthy)(i); err != nil {
			return err
		}
		return operatortest.HasCondition(i.Status.Conditions, v1.ConditionRemoteClustersReachable, metav1.ConditionFalse, v1.ReasonClusterUnreachable)
	})
	revisionInUse(t, c, next, metav1.ConditionUnknown, "cluster cluster2 (remote secret ext-system/istio-remote-secret-cluster2): listing its namespaces: connection refused")
	if got := reachable("ext", "cluster2"); got != 0 {
		t.Errorf("bosun_remote_cluster_reachable{istio=ext,cluster=cluster2} = %v, want 0", got)
	}
	operatortest.WaitFor(t, "a Warning Event that cluster2 does not answer", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, "Istio", "ext")
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, v1.ReasonClusterUnreachable) }) {
			return fmt.Errorf("events %q", events)
		}
		return nil
	})
	operatortest.Delete(t, c, istio)
	operatortest.WaitFor(t, "the Istio's series to go", func(context.Context) error {
		if got := reachable("ext", "cluster2"); got != -1 {
			return fmt.Errorf("series still there: %v", got)
		}
		return nil
	})
}

// reachable is the value of bosun_remote_cluster_reachable for the Istio and cluster, or -1 without
// the series.
func reachable(istio, cluster string) float64 {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return -2
	}
	for _, f := range families {
		if f.GetName() != "bosun_remote_cluster_reachable" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["istio"] == istio && labels["cluster"] == cluster {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// revisionInUse waits until a revision's InUse condition has the status, and a message that contains
// message.
func revisionInUse(t *testing.T, c client.Client, rev string, status metav1.ConditionStatus, message string) {
	t.Helper()
	operatortest.WaitFor(t, fmt.Sprintf("IstioRevision %s InUse %s: %s", rev, status, message), func(ctx context.Context) error {
		r := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: rev}, r); err != nil {
			return err
		}
		cond, err := operatortest.Condition(r.Status.Conditions, v1.ConditionInUse)
		if err != nil || cond.Status != status || !strings.Contains(cond.Message, message) {
			return fmt.Errorf("InUse %+v %v", cond, err)
		}
		return nil
	})
}
