//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestSeveralMeshes: the two meshes of the topology guide in one cluster, with real istiods: each its
// own Istio, control-plane namespace and discovery selectors (a mesh label on its namespaces). Both go
// Ready with no scope conflict; each mesh's pods are injected by its own istiod; each istiod discovers
// its own mesh's services and not the other's; deleting one mesh leaves the other's istiod and injector
// as they were, still injecting.
func TestSeveralMeshes(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	for _, mesh := range []string{"mesh1", "mesh2"} {
		ns := "istio-system" + strings.TrimPrefix(mesh, "mesh")
		appNamespace(t, c, ns, map[string]string{"mesh": mesh})
		applyYAML(t, c, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %[1]s
spec:
  namespace: %[2]s
  version: %[3]s
  values:
    meshConfig:
      discoverySelectors:
      - matchLabels:
          mesh: %[1]s`, mesh, ns, v1244))
		t.Cleanup(func() { deleteIstio(t, c, mesh) })
	}
	for _, mesh := range []string{"mesh1", "mesh2"} {
		istio := istioHealthy(t, c, mesh)
		if cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionScopeConflict); cond != nil {
			t.Errorf("Istio %s: %+v, want no scope conflict", mesh, cond)
		}
	}
	appNamespace(t, c, "app1", map[string]string{"mesh": "mesh1", "istio.io/rev": "mesh1"})
	appNamespace(t, c, "app2", map[string]string{"mesh": "mesh2", "istio.io/rev": "mesh2"})
	assertInjected(t, injectedPod(t, c, "app1", "web"), "mesh1", "proxyv2:1.24.4")
	assertInjected(t, injectedPod(t, c, "app2", "web"), "mesh2", "proxyv2:1.24.4")

	for _, app := range []string{"app1", "app2"} {
		applyYAML(t, c, "apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: "+app+"\nspec:\n  ports:\n  - name: http\n    port: 5000")
	}
	listsService(t, "istio-system2", "istiod-mesh2", "hello.app2.svc.cluster.local")
	listsService(t, "istio-system1", "istiod-mesh1", "hello.app1.svc.cluster.local")
	if strings.Contains(registry(t, "istio-system1", "istiod-mesh1"), "hello.app2.svc.cluster.local") {
		t.Error("mesh1's istiod discovers mesh2's service hello.app2: its discovery selectors did not keep the meshes apart")
	}

	// Deleting mesh2 leaves mesh1 as it was.
	before := &appsv1.Deployment{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "istio-system1", Name: "istiod-mesh1"}, before); err != nil {
		t.Fatal(err)
	}
	deleteIstio(t, c, "mesh2")
	waitFor(t, "mesh2's injector to go", func(ctx context.Context) error {
		var mwcs admissionregistrationv1.MutatingWebhookConfigurationList
		if err := c.List(ctx, &mwcs, client.MatchingLabels{"bosun.dev/owner": "IstioRevision.mesh2"}); err != nil {
			return err
		}
		if len(mwcs.Items) > 0 {
			return fmt.Errorf("%d injectors of mesh2 left", len(mwcs.Items))
		}
		return nil
	})
	after := &appsv1.Deployment{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "istio-system1", Name: "istiod-mesh1"}, after); err != nil {
		t.Fatalf("mesh1's istiod after deleting mesh2: %v", err)
	}
	if after.UID != before.UID || after.Generation != before.Generation {
		t.Errorf("mesh1's istiod changed when mesh2 was deleted: uid %s → %s, generation %d → %d", before.UID, after.UID, before.Generation, after.Generation)
	}
	istioHealthy(t, c, "mesh1")
	assertInjected(t, injectedPod(t, c, "app1", "web2"), "mesh1", "proxyv2:1.24.4")
}

// registry is what the istiod of the suite's cluster whose pod name starts with prefix lists in its
// registry (its debug endpoint).
func registry(t *testing.T, namespace, prefix string) string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	pod, err := istiodPodName(t.Context(), cs, namespace, prefix)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cs.CoreV1().Pods(namespace).ProxyGet("http", pod, "8080", "/debug/registryz", nil).DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
