//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestUninstallLeavesTheMeshAndReinstallAdoptsIt removes bosun (deploy/bosun.yaml's objects, as
// `helm uninstall` or `kubectl delete -f` does; the CRDs stay, as Helm keeps CRDs) from a cluster with
// a Healthy Istio and a user's Istio config (a VirtualService): istiod keeps running (same pod, same
// process), and the Istio, its revision and the VirtualService stay. Installing bosun again adopts
// everything: the Istio is Healthy, istiod is not restarted, and the new operator applies nothing (no
// object created, updated, corrected or adopted; its only writes are status, events and its Lease),
// because what it finds carries its own inventory and digests (docs/architecture.md#lesson-converged-writes-nothing, #lesson-restored-revisions; DESIGN.md
// decision 4).
func TestUninstallLeavesTheMeshAndReinstallAdoptsIt(t *testing.T) {
	c := newClient(t)
	first := installBosun(t, c)
	installIstio(t, c, "reinstall", "istio-reinstall", v1243)
	appNamespace(t, c, "reinstall-app", map[string]string{"istio.io/rev": "reinstall"})
	applyYAML(t, c, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: reinstall-app
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}`)
	pods := workloadPods(t, c, "reinstall-app", "reviews", "reinstall", 1)
	t.Cleanup(func() { deletePods(t, c, "reinstall-app", pods) })
	mesh := snapshotMesh(t, c)

	// A cluster-scoped canary owned by bosun's ClusterRole: once the garbage collector has deleted
	// it, it has acted on the uninstall, so whatever it would delete with bosun is gone by then.
	canary := gcCanary(t, c)
	first.uninstall(t, c)
	waitFor(t, "the garbage collector to act on the uninstall", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKeyFromObject(canary), &rbacv1.ClusterRole{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("canary %s still there: %v", canary.Name, err)
	})
	if now := snapshotMesh(t, c); !now.same(mesh) {
		t.Fatalf("after uninstalling bosun the mesh is\n%s\nwant it as before\n%s", now, mesh)
	}

	second := installBosun(t, c)
	// Istio is deleted while the reinstalled operator runs, since its finalizer needs it.
	t.Cleanup(func() { deleteIstio(t, c, "reinstall") })
	istioHealthy(t, c, "reinstall")
	if err := within(waitTimeout, func(ctx context.Context) error {
		text, err := second.metrics(ctx)
		if err != nil {
			return err
		}
		m, err := parseMetrics(text)
		if err != nil {
			return err
		}
		for _, controller := range []string{"istio", "istiorevision", "istio-crds"} {
			if familySum(m, "controller_runtime_reconcile_total", map[string]string{"controller": controller, "result": "success"}) == 0 {
				return fmt.Errorf("controller %s has not reconciled yet", controller)
			}
		}
		if n := familySum(m, "workqueue_depth", nil) + familySum(m, "controller_runtime_active_workers", nil); n != 0 {
			return fmt.Errorf("%v queued or running reconciles", n)
		}
		if applied := familySeries(m, "bosun_applied_objects_total"); len(applied) > 0 {
			return fmt.Errorf("%w: %v", errApplied, applied)
		}
		for _, series := range m["bosun_api_writes_total"].GetMetric() {
			for _, l := range series.GetLabel() {
				if r := l.GetValue(); l.GetName() == "resource" && r != "leases" && r != "events" && !strings.HasSuffix(r, "/status") {
					return fmt.Errorf("%w: %v", errApplied, familySeries(m, "bosun_api_writes_total"))
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("waiting for the reinstalled operator to have reconciled everything and gone idle: %v", err)
	}
	if now := snapshotMesh(t, c); !now.same(mesh) {
		t.Fatalf("after reinstalling bosun the mesh is\n%s\nwant it as before\n%s", now, mesh)
	}
}

// errApplied says the reinstalled operator changed what it adopted; its counters only grow, so waiting
// longer cannot help.
var errApplied = fmt.Errorf("%w: the reinstalled operator wrote more than status", errFinal)

// meshSnapshot is what must survive bosun's uninstall and reinstall: the identities (UIDs) of the
// Istio, its revisions, the user's VirtualService and istiod's pods, and the process that plays each
// istiod pod.
type meshSnapshot struct {
	uids map[string]types.UID
	pids map[string]int
}

func (s meshSnapshot) same(o meshSnapshot) bool {
	return maps.Equal(s.uids, o.uids) && maps.Equal(s.pids, o.pids)
}

func (s meshSnapshot) String() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s.uids)) {
		fmt.Fprintf(&b, "  %s uid %s", k, s.uids[k])
		if pid, ok := s.pids[k]; ok {
			fmt.Fprintf(&b, " pid %d", pid)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// snapshotMesh records the reinstall test's mesh.
func snapshotMesh(t *testing.T, c client.Client) meshSnapshot {
	t.Helper()
	ctx := t.Context()
	s := meshSnapshot{uids: map[string]types.UID{}, pids: map[string]int{}}
	istio := &v1.Istio{}
	if err := c.Get(ctx, client.ObjectKey{Name: "reinstall"}, istio); err != nil {
		t.Fatal(err)
	}
	s.uids["Istio reinstall"] = istio.UID
	var revs v1.IstioRevisionList
	if err := c.List(ctx, &revs); err != nil {
		t.Fatal(err)
	}
	for _, rev := range revs.Items {
		if hasOwner(&rev, istio) {
			s.uids["IstioRevision "+rev.Name] = rev.UID
		}
	}
	vs := &unstructured.Unstructured{}
	vs.SetAPIVersion("networking.istio.io/v1")
	vs.SetKind("VirtualService")
	if err := c.Get(ctx, client.ObjectKey{Namespace: "reinstall-app", Name: "reviews"}, vs); err != nil {
		t.Fatal(err)
	}
	s.uids["VirtualService reinstall-app/reviews"] = vs.GetUID()
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace("istio-reinstall"), client.MatchingLabels{"app": "istiod"}); err != nil {
		t.Fatal(err)
	}
	played := box.PlayedProcesses()
	for _, p := range pods.Items {
		key := "Pod " + p.Namespace + "/" + p.Name
		s.uids[key] = p.UID
		s.pids[key] = played[p.Namespace+"/"+p.Name]
	}
	return s
}

// gcCanary creates a ClusterRole owned by bosun's ClusterRole (which the uninstall deletes), for the
// garbage collector to delete.
func gcCanary(t *testing.T, c client.Client) *rbacv1.ClusterRole {
	t.Helper()
	owner := &rbacv1.ClusterRole{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: operatorDeployment}, owner); err != nil {
		t.Fatal(err)
	}
	canary := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{
		Name:            "reinstall-gc-canary",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: owner.Name, UID: owner.UID}},
	}}
	if err := c.Create(t.Context(), canary); err != nil {
		t.Fatal(err)
	}
	return canary
}
