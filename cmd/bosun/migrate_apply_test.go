//go:build integration

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/bosun-mesh/bosun/internal/migrate/maistra/maistratest"
)

// TestMigrateConvertAcceptedByTheAPIServer has the real API server accept (server-side apply, dry
// run) everything bosun migrate convert prints for each ServiceMeshControlPlane of testdata/migrate:
// the Istio and IstioCNI against bosun's CRDs, the gateways against Kubernetes' own validation, and
// what bosun render makes of the Istio.
func TestMigrateConvertAcceptedByTheAPIServer(t *testing.T) {
	for _, ns := range []string{"istio-system", "istio-cni", "mesh-system", "edge"} {
		createNamespace(t, ns)
	}
	for _, path := range migrateCases(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			out, err := convertText(t, path, "")
			if err != nil {
				t.Fatal(err)
			}
			if n := dryRunApply(t, out); n < 2 {
				t.Errorf("convert printed %d objects, want at least an Istio and an IstioCNI", n)
			}
			sail, err := convertText(t, path, "sail")
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := renderText(t, sail)
			if err != nil {
				t.Fatal(err)
			}
			dryRunApply(t, rendered)
		})
	}
}

// TestMigrateAgainstACluster reads a 2.6 mesh from a cluster: the checklist's table and exit code,
// the conversion of the control plane the cluster holds, and the plan over its namespaces.
func TestMigrateAgainstACluster(t *testing.T) {
	ctx := t.Context()
	if err := maistratest.InstallCRDs(ctx, cfg, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Before any control plane exists, the checklist fails and says so.
	stdout, _, code := runBosun(t, "", "migrate", "check", "--kubeconfig", kubeconfig)
	if code != 1 || !strings.Contains(stdout, "FAIL    ServiceMeshControlPlane  none found: there is no 2.6 control plane to migrate") {
		t.Errorf("check without a control plane: exit %d\n%s", code, stdout)
	}

	for _, ns := range []string{"istio-system", "mercury", "venus", "earth"} {
		createNamespace(t, ns)
	}
	kc := kubernetes.NewForConfigOrDie(cfg)
	label := func(ns string, labels map[string]string) {
		n, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Labels = labels
		if _, err := kc.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	label("mercury", map[string]string{"istio-injection": "enabled"})
	label("venus", map[string]string{"istio-injection": "enabled"})
	label("earth", map[string]string{"istio.io/rev": "basic"})
	one := int32(1)
	for _, name := range []string{"productpage-v1", "details-v1"} {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "venus"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app"}}}}},
		}
		if _, err := kc.AppsV1().Deployments("venus").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	applyManifests(t, `apiVersion: maistra.io/v2
kind: ServiceMeshControlPlane
metadata:
  name: basic
  namespace: istio-system
spec:
  version: v2.6
  mode: ClusterWide
  security:
    manageNetworkPolicy: false
  tracing:
    type: None
  gateways:
    enabled: false
  addons:
    kiali:
      enabled: true
---
apiVersion: federation.maistra.io/v1
kind: ServiceMeshPeer
metadata:
  name: west
  namespace: istio-system
spec: {}`)

	stdout, stderr, code := runBosun(t, "", "migrate", "check", "--kubeconfig", kubeconfig)
	for _, want := range []string{
		"RESULT  CHECK",
		"PASS    3.x API ",
		"FAIL    federation ",
		"1 ServiceMeshPeer, ExportedServiceSet or ImportedServiceSet objects: federation has no 3.0 equivalent",
		"PASS    istio-system/basic: version ",
		"PASS    istio-system/basic: mode ",
		"WARN    istio-system/basic: addons ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("bosun migrate check lacks %q:\n%s", want, stdout)
		}
	}
	if code != 1 || stderr != "Error: 1 check failed: resolve them before migrating\n" {
		t.Errorf("check: exit %d, stderr %q; want 1 and the count of failed checks", code, stderr)
	}

	stdout, stderr, code = runBosun(t, "", "migrate", "convert", "--kubeconfig", kubeconfig, "--only", "sail")
	if code != 0 || !strings.Contains(stdout, "# bosun migrate convert: ServiceMeshControlPlane istio-system/basic (ClusterWide) -> Istio ossm3, revision ossm3\n") ||
		!strings.Contains(stdout, "[warning] spec.addons.kiali") {
		t.Errorf("convert from the cluster: exit %d, stderr %s\n%s", code, stderr, stdout)
	}

	stdout, stderr, code = runBosun(t, "", "migrate", "plan", "--kubeconfig", kubeconfig)
	want := "Migration of ServiceMeshControlPlane istio-system/basic (revision basic) to revision ossm3: 3 namespaces, one at a time.\n\n" +
		"1. namespace earth\n" +
		"   labels:   kubectl label namespace earth istio.io/rev=ossm3 maistra.io/ignore-namespace=true istio-injection- --overwrite\n" +
		"   restart:  nothing (no Deployment, StatefulSet or DaemonSet)\n" +
		"   check:    bosun migrate verify earth --revision ossm3 (what bosun status -n earth shows)\n" +
		"   go back:  kubectl label namespace earth istio.io/rev=basic maistra.io/ignore-namespace- --overwrite, then restart the same workloads\n\n" +
		"2. namespace mercury\n"
	if code != 0 || !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "   restart:  kubectl rollout restart deployment/details-v1 -n venus && kubectl rollout status deployment/details-v1 -n venus\n   restart:  kubectl rollout restart deployment/productpage-v1 -n venus") {
		t.Errorf("plan: exit %d, stderr %s\n%s\nwant it to begin with\n%s", code, stderr, stdout, want)
	}
}

// applyManifests creates each document of the text.
func applyManifests(t *testing.T, text string) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, obj := range parseAll(t, text) {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}
