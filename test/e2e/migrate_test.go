//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/migrate/maistra/maistratest"
)

// articleSMCP is the ServiceMeshControlPlane of "Upgrade from OpenShift Service Mesh 2.6 to 3.0 with
// Kiali" (ossm-docs/01).
const articleSMCP = `apiVersion: maistra.io/v2
kind: ServiceMeshControlPlane
metadata:
  name: basic
  namespace: istio-system
spec:
  addons:
    kiali:
      enabled: false
    prometheus:
      enabled: false
  gateways:
    enabled: false
    openshiftRoute:
      enabled: false
  meshConfig:
    extensionProviders:
    - name: prometheus
      prometheus: {}
  mode: ClusterWide
  security:
    manageNetworkPolicy: false
  tracing:
    type: None
  version: v2.6`

// TestBosunMigrateMovesTheArticlesNamespaces runs the migration article's procedure with bosun
// migrate instead of kubectl: the article's five namespaces, mercury … jupiter, move from the 2.6
// control plane basic to the Istio that bosun migrate convert makes of its ServiceMeshControlPlane.
//
// As in TestCanaryMigrationOneNamespaceAtATime, the 2.6 control plane is played by what it is for a
// workload: istiod-basic in istio-system injecting the namespaces labelled istio-injection=enabled
// (an Istio basic on v1.24.3 and the tag default). The ServiceMeshControlPlane itself is stored
// through stand-in maistra.io CRDs, as the input bosun migrate reads from the cluster. Each namespace
// runs one Deployment, which is all a step needs; the decisions are tested in internal/migrate.
//
// Before the namespaces move, the gateway bosun migrate convert prints for a 2.6 ingress gateway is
// applied: ossm3 injects it (gateway injection) and it stays up through the migration.
//
// bosun migrate plan --apply moves the first namespace, labelled already as by a run that stopped
// before its restart, then runs again for the first two (resuming: the first is skipped), and so on: after each run every pod of a moved namespace is a new pod
// injected by ossm3, every other pod is the same pod as before on basic, and each revision's IN USE
// counts exactly those namespaces and pods (ossm3's also the gateway convert printed, which ossm3
// injects).
func TestBosunMigrateMovesTheArticlesNamespaces(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	ensureNamespace(t, c, "istio-system")
	if err := maistratest.InstallCRDs(t.Context(), cfg, crdTimeout); err != nil {
		t.Fatal(err)
	}
	applyYAML(t, c, articleSMCP)
	t.Cleanup(func() {
		smcp := &unstructured.Unstructured{}
		smcp.SetAPIVersion("maistra.io/v2")
		smcp.SetKind("ServiceMeshControlPlane")
		smcp.SetNamespace("istio-system")
		smcp.SetName("basic")
		if err := c.Delete(context.Background(), smcp); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting the ServiceMeshControlPlane: %v", err)
		}
	})

	// The 2.6 control plane, as a workload sees it.
	applyYAML(t, c, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: basic\nspec:\n  namespace: istio-system\n  version: "+v1243)
	t.Cleanup(func() { deleteIstio(t, c, "basic") })
	applyTag(t, c, "default", v1.KindIstio, "basic")
	istioHealthy(t, c, "basic")
	tagReconciled(t, c, "default", "basic")

	// bosun migrate check: the article's control plane blocks nothing.
	out, code := bosunMigrate(t, "check")
	if table := strings.Join(strings.Fields(out), " "); code != 0 || !strings.Contains(table, "PASS istio-system/basic: version v2.6") || !strings.Contains(table, "PASS istio-system/basic: blocking features none") {
		t.Fatalf("bosun migrate check: exit %d\n%s", code, out)
	}
	// bosun migrate convert, read from the cluster; its Istio is applied as a user applies it.
	out, code = bosunMigrate(t, "convert", "--only", "sail")
	if code != 0 {
		t.Fatalf("bosun migrate convert: exit %d\n%s", code, out)
	}
	istio, _, _ := strings.Cut(out[strings.Index(out, "---\n"):], "\n---\napiVersion: sailoperator.io/v1\nkind: IstioCNI")
	applyYAML(t, c, strings.TrimPrefix(istio, "---\n"))
	t.Cleanup(func() { deleteIstio(t, c, "ossm3") })
	istioHealthy(t, c, "ossm3")
	istiodPods(t, c, "istio-system", "basic", "ossm3")
	convertedGatewayIsInjected(t, c)

	// The five namespaces on the 2.6 control plane; registered after both Istios, so that their pods
	// go first when the test ends.
	appNamespaces(t, c, map[string]string{"istio-injection": "enabled"}, planets...)
	pods := map[string][]corev1.Pod{}
	for _, ns := range planets {
		pods[ns] = deployOne(t, c, ns)
		assertSidecars(t, pods[ns], "basic", "proxyv2:1.24.3")
	}

	if err := within(countsWithin, func(ctx context.Context) error {
		// The converted gateway's pod is ossm3's first.
		return inUseIs(ctx, c, "ossm3", "Referenced by 1 pod")
	}); err != nil {
		t.Fatalf("before the first step: %v", err)
	}

	// The script the plan prints moves the namespaces in the order asked for, checking each.
	order := strings.Join(planets, ",")
	out, code = bosunMigrate(t, "plan", "-n", order, "--format", "sh")
	if code != 0 || !strings.Contains(out, "# 1. mercury") || !strings.Contains(out, "# 5. jupiter") || !strings.Contains(out, "bosun migrate verify jupiter --revision ossm3 || {") {
		t.Fatalf("bosun migrate plan --format sh: exit %d\n%s", code, out)
	}

	for i := range planets {
		moved, staying := planets[:i+1], planets[i+1:]
		ns := planets[i]
		if i == 0 {
			// As a run that stopped after labelling the namespace, before restarting its workload,
			// leaves it: the next run restarts the workload instead of taking the step for done.
			labelNamespace(t, c, ns, "istio.io/rev", "ossm3")
			labelNamespace(t, c, ns, "maistra.io/ignore-namespace", "true")
			labelNamespace(t, c, ns, "istio-injection", "")
		}
		out, code = bosunMigrate(t, "plan", "--apply", "--interval", "200ms", "--timeout", "90s", "-n", strings.Join(moved, ","))
		if code != 0 {
			t.Fatalf("bosun migrate plan --apply -n %s: exit %d\n%s", strings.Join(moved, ","), code, out)
		}
		t.Logf("bosun migrate plan --apply -n %s:\n%s", strings.Join(moved, ","), out)
		if want := fmt.Sprintf("[%d/%d] namespace %s: on ossm3 (1 workload, 1 pod)\n", i+1, i+1, ns); !strings.Contains(out, want) {
			t.Errorf("bosun migrate plan --apply does not say %q:\n%s", want, out)
		}
		for j, done := range planets[:i] {
			if want := fmt.Sprintf("[%d/%d] namespace %s: already on ossm3 (1 workload, 1 pod)\n", j+1, i+1, done); !strings.Contains(out, want) {
				t.Errorf("the resumed run does not skip %s:\n%s", done, out)
			}
		}
		// Each pod's injected revision: the moved namespace's are new pods of ossm3's; the others are
		// the same pods as before, on basic.
		pods[ns] = currentPods(t, c, ns)
		assertSidecars(t, pods[ns], "ossm3", "proxyv2:1.24.4")
		for _, other := range staying {
			assertSidecars(t, assertSamePods(t, c, other, pods[other]), "basic", "proxyv2:1.24.3")
		}
		// IN USE of each revision: the namespaces and pods on it.
		wantOld := "Referenced by IstioRevisionTag default"
		if len(staying) > 0 {
			wantOld = fmt.Sprintf("Referenced by %s (%s), %s and IstioRevisionTag default", namespaces(len(staying)), strings.Join(slices.Sorted(slices.Values(staying)), ", "), podCount(len(staying)))
		}
		wantNew := fmt.Sprintf("Referenced by %s (%s) and %s", namespaces(len(moved)), strings.Join(slices.Sorted(slices.Values(moved)), ", "), podCount(len(moved)+1))
		if err := within(countsWithin, func(ctx context.Context) error {
			if err := inUseIs(ctx, c, "basic", wantOld); err != nil {
				return err
			}
			return inUseIs(ctx, c, "ossm3", wantNew)
		}); err != nil {
			t.Fatalf("after moving %v: %v", moved, err)
		}
	}
	rows(t, "istiorevisions",
		[]string{"basic", "Local", "True", "Healthy", "True", "v1.24.3"},
		[]string{"ossm3", "Local", "True", "Healthy", "True", "v1.24.4"})
	if out, code := bosunMigrate(t, "verify", "jupiter", "--revision", "ossm3"); code != 0 || out != "namespace jupiter is on ossm3: 1 workload, 1 pod\n" {
		t.Errorf("bosun migrate verify jupiter: exit %d\n%s", code, out)
	}
}

// convertedGatewayIsInjected converts a ServiceMeshControlPlane with 2.6's ingress gateway, applies
// the gateway bosun migrate convert prints, and checks that ossm3's injector made its pod a gateway
// (gateway injection): the Deployment rolls out, and its pod runs ossm3's proxy.
func convertedGatewayIsInjected(t *testing.T, c client.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "smcp.yaml")
	withGateway := strings.Replace(articleSMCP, "  gateways:\n    enabled: false\n", "  gateways:\n    ingress:\n      enabled: true\n", 1)
	if err := os.WriteFile(path, []byte(withGateway), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := bosunMigrate(t, "convert", "-f", path, "--only", "gateways")
	if code != 0 || !strings.Contains(out, "name: istio-ingressgateway-ossm3\n") {
		t.Fatalf("bosun migrate convert --only gateways: exit %d\n%s", code, out)
	}
	applyYAML(t, c, out)
	gateway := client.ObjectKey{Namespace: "istio-system", Name: "istio-ingressgateway-ossm3"}
	t.Cleanup(func() {
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}} {
			obj.SetNamespace(gateway.Namespace)
			obj.SetName(gateway.Name)
			if err := c.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting the gateway's %T: %v", obj, err)
			}
		}
	})
	var pod corev1.Pod
	waitSaying(t, "the converted gateway to roll out", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, gateway, d); err != nil {
			return err
		}
		if err := rolledOut(ctx, c, d); err != nil {
			return err
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(gateway.Namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d gateway pods, want 1", len(pods.Items))
		}
		pod = pods.Items[0]
		return nil
	})
	assertInjected(t, &pod, "ossm3", "proxyv2:1.24.4")
}

// bosunMigrate runs bosun migrate against the box as a user does and returns its output (standard
// output, then standard error) and exit code.
func bosunMigrate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bosunBinary, append([]string{"migrate", "--kubeconfig", box.KubeconfigPath()}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	return out.String(), cmd.ProcessState.ExitCode()
}

// deployOne runs one Deployment, app, in the namespace and returns its pod once it rolled out.
func deployOne(t *testing.T, c client.Client, ns string) []corev1.Pod {
	t.Helper()
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}}}},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return currentPods(t, c, ns)
}

// currentPods waits until the namespace's Deployment app has rolled out and runs exactly one pod,
// and returns it.
func currentPods(t *testing.T, c client.Client, ns string) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitSaying(t, "Deployment "+ns+"/app to roll out", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, d); err != nil {
			return err
		}
		if err := rolledOut(ctx, c, d); err != nil {
			return err
		}
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].DeletionTimestamp != nil {
			return fmt.Errorf("%d pods in %s, want 1 running", len(list.Items), ns)
		}
		pods = list.Items
		return nil
	})
	return pods
}

// podCount is "1 pod" or "N pods", as an InUse message counts them.
func podCount(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}
