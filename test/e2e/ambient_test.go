//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator"
)

// TestAmbientMesh installs an ambient mesh as OpenShift Service Mesh 3 does: an Istio with the ambient
// profile, an IstioCNI and a ZTunnel. While the ZTunnel is missing, the revision and the Istio (which
// copies its revision's conditions) say ZTunnelNotFound; once it is created, everything becomes
// Ready. Bookinfo runs in the namespace bookinfo labelled istio.io/dataplane-mode=ambient, without
// sidecars. Then the ambient update sequence (updating chapter, §3.1): the control plane first, then
// the CNI, then ztunnel, each to the same patch version; a node agent set ahead of the control plane
// is refused. Ambient workloads move to the upgraded ztunnel "without restarting or rescheduling
// them": Bookinfo's pods are the same pods, still without sidecars, once every component runs 1.24.4.
func TestAmbientMesh(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	ensureNamespace(t, c, "istio-ambient")
	ensureNamespace(t, c, "istio-cni")
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: ambient
spec:
  namespace: istio-ambient
  version: v1.24.3
  profile: ambient
  values:
    pilot:
      cni:
        enabled: true`)
	t.Cleanup(func() { deleteIstio(t, c, "ambient") })
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  namespace: istio-cni
  version: v1.24.3
  profile: ambient`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.IstioCNI{}) })
	agentHealthy(t, c, &v1.IstioCNI{})
	dependenciesSay(t, c, "ambient", v1.ReasonZTunnelNotFound, "no ZTunnel named default exists")

	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  namespace: ztunnel
  version: v1.24.3
  targetRef:
    kind: Istio
    name: ambient`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.ZTunnel{})
	istioHealthy(t, c, "ambient")
	zt := &v1.ZTunnel{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "default"}, zt); err != nil {
		t.Fatal(err)
	}
	if zt.Status.IstioRevision != "ambient" {
		t.Errorf("ZTunnel status.istioRevision %q, want the Istio's revision ambient", zt.Status.IstioRevision)
	}

	// oc create ns bookinfo; oc label namespace bookinfo istio.io/dataplane-mode=ambient; oc apply -f
	// bookinfo.yaml -n bookinfo
	appNamespace(t, c, "bookinfo", map[string]string{"istio.io/dataplane-mode": "ambient"})
	pods := deployBookinfo(t, c, "bookinfo")
	assertNoSidecars(t, pods)

	// A node agent may not run ahead of the control plane: ztunnel first is refused, and what runs
	// stays as it was.
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"`+v127+`"}}`)
	refusedWith(t, c, &v1.ZTunnel{}, v1.ReasonVersionSkew)
	daemonSetImage(t, c, "ztunnel", "ztunnel", ":1.24.3")
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.3"}}`)
	agentHealthy(t, c, &v1.ZTunnel{})

	// The documented order: the control plane, the CNI, then ztunnel.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "ambient"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "ambient")
	mergePatch(t, c, &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	agentHealthy(t, c, &v1.IstioCNI{})
	mergePatch(t, c, &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	agentHealthy(t, c, &v1.ZTunnel{})
	daemonSetImage(t, c, "istio-cni", "istio-cni-node", ":1.24.4")
	daemonSetImage(t, c, "ztunnel", "ztunnel", ":1.24.4")
	waitFor(t, "the node agents' pods to run 1.24.4", func(ctx context.Context) error {
		if err := podsRun(ctx, c, "istio-cni", ":1.24.4"); err != nil {
			return err
		}
		return podsRun(ctx, c, "ztunnel", ":1.24.4")
	})
	istioHealthy(t, c, "ambient")
	// oc get istio; oc get istiocni; oc get ztunnel. Ambient workloads name no revision (no
	// istio.io/rev, no istio-injection), so IN USE does not count them.
	rows(t, "istios", []string{"ambient", "1", "1", "*", "ambient", "Healthy", "v1.24.4"})
	rows(t, "istiocnis", []string{"default", "True", "Healthy", "v1.24.4"})
	rows(t, "ztunnels", []string{"default", "True", "Healthy", "v1.24.4"})
	assertNoSidecars(t, assertSamePods(t, c, "bookinfo", pods))
}

// assertNoSidecars checks that no pod has an istio-proxy container or Istio's injection annotations:
// ambient workloads run without sidecars.
func assertNoSidecars(t *testing.T, pods []corev1.Pod) {
	t.Helper()
	for _, p := range pods {
		all := append(names(p.Spec.InitContainers), names(p.Spec.Containers)...)
		if slices.Contains(all, "istio-proxy") || p.Annotations["sidecar.istio.io/status"] != "" {
			t.Errorf("pod %s/%s in an ambient namespace has a sidecar: containers %v, sidecar.istio.io/status %q", p.Namespace, p.Name, all, p.Annotations["sidecar.istio.io/status"])
		}
	}
}

// TestExternalNodeComponents guards docs/architecture.md#lesson-external-node-agents: where another tool manages the CNI and ztunnel,
// `bosun-operator --external-node-components=cni,ztunnel` keeps an ambient control plane that needs
// them from waiting for IstioCNI and ZTunnel resources that will never exist.
func TestExternalNodeComponents(t *testing.T) {
	c := newClient(t)
	startOperatorWith(t, v1244, func(o *operator.Options) { o.ExternalNodeComponents = []string{"cni", "ztunnel"} })
	ensureNamespace(t, c, "istio-external")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: external
spec:
  namespace: istio-external
  version: v1.24.3
  profile: ambient
  values:
    pilot:
      cni:
        enabled: true`)
	t.Cleanup(func() { deleteIstio(t, c, "external") })
	istio := istioHealthy(t, c, "external")
	cond, err := condition(istio.Status.Conditions, v1.ConditionDependenciesHealthy)
	if err != nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("DependenciesHealthy %+v %v, want True", cond, err)
	}
}

// dependenciesSay waits until the revision and the Istio of an InPlace Istio both report
// DependenciesHealthy False with reason and a message containing msg.
func dependenciesSay(t *testing.T, c client.Client, name, reason, msg string) {
	t.Helper()
	waitFor(t, "the control plane to report "+reason, func(ctx context.Context) error {
		rev, istio := &v1.IstioRevision{}, &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, rev); err != nil {
			return err
		}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
			return err
		}
		for what, conds := range map[string][]metav1.Condition{"IstioRevision": rev.Status.Conditions, "Istio": istio.Status.Conditions} {
			cond, err := condition(conds, v1.ConditionDependenciesHealthy)
			if err != nil || cond.Status != metav1.ConditionFalse || cond.Reason != reason || !strings.Contains(cond.Message, msg) {
				return fmt.Errorf("%s DependenciesHealthy %+v %v", what, cond, err)
			}
		}
		if istio.Status.State != reason {
			return fmt.Errorf("Istio state %q, want %s", istio.Status.State, reason)
		}
		return nil
	})
}
