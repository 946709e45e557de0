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
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestZTunnelGracePeriodAndOnDelete follows OpenShift Service Mesh 3's "About Ztunnel update
// lifecycle" (updating chapter, §3.7.1–3.7.2): terminationGracePeriodSeconds: 300 reaches the ztunnel
// DaemonSet's pods; with updateStrategy OnDelete a version change updates the DaemonSet's template
// while the old ztunnel pod keeps running, Ready says why (DaemonSetRollingOut, naming OnDelete),
// bosun deletes no pod, and once the pod is deleted by hand its replacement runs the new version.
//
// The box's 1.24 versions are played by the 1.25 snapshot's chart, which ignores updateStrategy; the
// version the procedure moves to here, the 1.27 snapshot, honours it, so the template change and the
// strategy take effect together, as they do when both versions honour it.
func TestZTunnelGracePeriodAndOnDelete(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  version: v1.24.3
  namespace: ztunnel
  values:
    ztunnel:
      terminationGracePeriodSeconds: 300`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.ZTunnel{})
	ds := daemonSetImage(t, c, "ztunnel", "ztunnel", ":1.24.3")
	if g := ds.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 300 {
		t.Errorf("ztunnel's terminationGracePeriodSeconds is %s, want 300", seconds(g))
	}
	var old corev1.Pod
	waitFor(t, "the ztunnel pod to run", func(ctx context.Context) error {
		if err := podsRun(ctx, c, "ztunnel", ":1.24.3"); err != nil {
			return err
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("ztunnel")); err != nil {
			return err
		}
		old = pods.Items[0]
		return nil
	})
	if g := old.Spec.TerminationGracePeriodSeconds; g == nil || *g != 300 {
		t.Errorf("the ztunnel pod's terminationGracePeriodSeconds is %s, want 300", seconds(g))
	}
	podDeletes := counter(t, "bosun_api_writes_total", map[string]string{"verb": "DELETE", "resource": "pods"})

	// Configure OnDelete, then update the version.
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"values":{"ztunnel":{"updateStrategy":{"type":"OnDelete"}}}}}`)
	sawWaiting := watchAgentReady(t, &v1.ZTunnelList{}, v1.ReasonDaemonSetRollingOut)
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"`+v127+`"}}`)
	waitFor(t, "the DaemonSet to take the new template under OnDelete", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "ztunnel", Name: "ztunnel"}, ds); err != nil {
			return err
		}
		if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType || strings.Contains(ds.Spec.Template.Spec.Containers[0].Image, ":1.24.3") {
			return fmt.Errorf("strategy %s, image %s", ds.Spec.UpdateStrategy.Type, ds.Spec.Template.Spec.Containers[0].Image)
		}
		if ds.Status.ObservedGeneration != ds.Generation {
			return fmt.Errorf("the DaemonSet controller has not seen generation %d yet", ds.Generation)
		}
		return nil
	})
	zt := &v1.ZTunnel{}
	waitFor(t, "Ready to say the old pods must be deleted", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, zt); err != nil {
			return err
		}
		cond, err := condition(zt.Status.Conditions, v1.ConditionReady)
		if err != nil || cond.Status != metav1.ConditionFalse || cond.Reason != v1.ReasonDaemonSetRollingOut || !strings.Contains(cond.Message, "OnDelete") {
			return fmt.Errorf("Ready %+v %v", cond, err)
		}
		return nil
	})
	// The old pod still runs the old version: neither the DaemonSet controller nor bosun replaced it.
	running := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(&old), running); err != nil {
		t.Fatalf("the old ztunnel pod is gone before anyone deleted it: %v", err)
	}
	if running.UID != old.UID || running.DeletionTimestamp != nil || !strings.Contains(running.Spec.Containers[0].Image, ":1.24.3") {
		t.Errorf("the old ztunnel pod was replaced or is being deleted: uid %s (was %s), deletion %v, image %s", running.UID, old.UID, running.DeletionTimestamp, running.Spec.Containers[0].Image)
	}
	if got := counter(t, "bosun_api_writes_total", map[string]string{"verb": "DELETE", "resource": "pods"}); got != podDeletes {
		t.Errorf("bosun deleted %v pods", got-podDeletes)
	}

	// Delete the old ztunnel pod on the (drained) node: its replacement runs the new version.
	deletePods(t, c, "ztunnel", []string{old.Name})
	agentHealthy(t, c, &v1.ZTunnel{})
	waitFor(t, "the new ztunnel pod to run the new template", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("ztunnel")); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.UID == types.UID(old.UID) || strings.Contains(p.Spec.Containers[0].Image, ":1.24.3") {
				return fmt.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
			}
		}
		if len(pods.Items) == 0 {
			return fmt.Errorf("no ztunnel pod")
		}
		return nil
	})
	if !sawWaiting() {
		t.Error("Ready never turned False (DaemonSetRollingOut) while the old pod waited to be deleted")
	}
}

// TestZTunnelNamespaceChange: spec.namespace of a ZTunnel may change; the DaemonSet moves to the new
// namespace and nothing is left in the old one (unlike the reference, which leaves the old release
// installed).
func TestZTunnelNamespaceChange(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "ztunnel")
	ensureNamespace(t, c, "ztunnel-moved")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  version: v1.24.3
  namespace: ztunnel`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.ZTunnel{})
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"namespace":"ztunnel-moved"}}`)
	agentHealthy(t, c, &v1.ZTunnel{})
	daemonSetImage(t, c, "ztunnel-moved", "ztunnel", ":1.24.3")
	waitFor(t, "nothing of the ZTunnel to be left in ztunnel", func(ctx context.Context) error {
		return leftIn(ctx, t, c, "ztunnel", "ZTunnel.default")
	})
}

// TestZTunnelV1alpha1: a manifest of the deprecated sailoperator.io/v1alpha1 ZTunnel (with its
// spec.profile) installs ztunnel as the v1 one does, and its status reads the same in both versions.
func TestZTunnelV1alpha1(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1alpha1
kind: ZTunnel
metadata:
  name: default
spec:
  version: v1.24.3
  namespace: ztunnel
  profile: ambient`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.ZTunnel{})
	daemonSetImage(t, c, "ztunnel", "ztunnel", ":1.24.3")
	alpha := &unstructured.Unstructured{}
	alpha.SetAPIVersion("sailoperator.io/v1alpha1")
	alpha.SetKind("ZTunnel")
	if err := c.Get(t.Context(), client.ObjectKey{Name: "default"}, alpha); err != nil {
		t.Fatal(err)
	}
	if state, _, _ := unstructured.NestedString(alpha.Object, "status", "state"); state != v1.StateHealthy {
		t.Errorf("v1alpha1 status.state %q, want Healthy", state)
	}
}

func seconds(s *int64) string {
	if s == nil {
		return "unset"
	}
	return fmt.Sprint(*s)
}

// TestZTunnelFollowsARevisionBasedUpdate: a ZTunnel whose targetRef names a RevisionBased Istio moves to
// the new revision when its istiod is ready, and is never refused on the way: while the Istio's new
// revision is being created, ztunnel stays with the one it follows.
func TestZTunnelFollowsARevisionBasedUpdate(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-zrb")
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: zrb
spec:
  namespace: istio-zrb
  version: v1.24.3
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriodSeconds: 600`)
	t.Cleanup(func() { deleteIstio(t, c, "zrb") })
	istioHealthy(t, c, "zrb")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  namespace: ztunnel
  version: v1.24.3
  targetRef:
    kind: Istio
    name: zrb`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.ZTunnel{})
	follows := func(rev string) {
		t.Helper()
		waitFor(t, "ztunnel to follow "+rev, func(ctx context.Context) error {
			zt := &v1.ZTunnel{}
			if err := c.Get(ctx, client.ObjectKey{Name: "default"}, zt); err != nil {
				return err
			}
			if zt.Status.IstioRevision != rev {
				return fmt.Errorf("it follows %q", zt.Status.IstioRevision)
			}
			return nil
		})
	}
	follows("zrb-v1-24-3")

	since := time.Now().Add(-time.Second)
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "zrb"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "zrb")
	follows("zrb-v1-24-4")
	var events eventsv1.EventList
	if err := c.List(t.Context(), &events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Regarding.Kind == v1.KindZTunnel && e.Type == corev1.EventTypeWarning && e.CreationTimestamp.After(since) {
			t.Errorf("the ZTunnel was refused during a routine update: %s %s", e.Reason, e.Note)
		}
	}
}
