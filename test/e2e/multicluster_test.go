//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// TestMultiPrimary runs `make demo-multicluster`'s steps (internal/demo) on the suite's cluster and a
// second one: bosun installed on each from its manifests, an istiod of one multi-primary mesh on each
// (meshID mesh1, the cluster's own name, one network), a service on each, and each cluster's Secret
// made by bosun create-remote-secret and applied to the other. The demo returns once each istiod's
// endpoint shards (its debug endpoint) hold the other cluster's service with its endpoint; the test
// also checks that the cluster's name reached each istiod and that the Secrets are where istiod looks.
func TestMultiPrimary(t *testing.T) {
	c1 := newClient(t)
	root, version := demoInputs(t)
	box2 := clustertest.Start(t, testcluster.Options{Full: true, Nodes: 1, OperatorBinary: operatorBinary})
	c2, err := client.New(box2.Config(), client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(box.BinDir(), "kubectl")
	t.Cleanup(func() {
		deleteNamespace(t, c1, demo.SampleNamespace)
		for _, obj := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: demo.IstioNamespace, Name: "istio-remote-secret-cluster2"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: demo.IstioNamespace, Name: "istio-reader-service-account-istio-remote-secret-token"}},
		} {
			if err := c1.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting %s: %v", obj.GetName(), err)
			}
		}
		undoDemo(t, c1, kubectl, root)
	})

	var out bytes.Buffer
	clusters := []demo.Config{
		{Kubectl: kubectl, Kubeconfig: box.KubeconfigPath(), Root: root, Version: version, Out: &out, LogDir: box.Dir(), Wait: waitTimeout},
		{Kubectl: filepath.Join(box2.BinDir(), "kubectl"), Kubeconfig: box2.KubeconfigPath(), Root: root, Version: version, LogDir: box2.Dir(), Wait: waitTimeout},
	}
	err = demo.RunMulticluster(t.Context(), demo.MulticlusterConfig{Clusters: clusters, Bosun: bosunBinary})
	shown := out.String()
	t.Logf("the demo printed:\n%s", shown)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []client.Client{c1, c2} {
		cluster := demo.ClusterName(i)
		clusterIDIs(t, c, demo.IstioNamespace, "istiod", cluster)
		secret := &corev1.Secret{}
		other := demo.ClusterName(1 - i)
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: demo.IstioNamespace, Name: "istio-remote-secret-" + other}, secret); err != nil || secret.Labels["istio/multiCluster"] != "true" {
			t.Errorf("%s: the Secret for %s: labels %v (%v)", cluster, other, secret.Labels, err)
		}
		if !strings.Contains(shown, fmt.Sprintf("hello-%s.sample%s endpoints in %s: 1", other, strings.Repeat(" ", 50-len("hello-"+other+".sample")), other)) {
			t.Errorf("the demo does not show %s's service with its endpoint in %s's view", other, cluster)
		}
	}
}

// clusterIDIs checks that the cluster's name reached istiod: its Deployment's CLUSTER_ID.
func clusterIDIs(t *testing.T, c client.Client, namespace, deployment, cluster string) {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deployment}, d); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["CLUSTER_ID"] != cluster {
		t.Errorf("istiod of %s runs with CLUSTER_ID %q", cluster, env["CLUSTER_ID"])
	}
}

// TestPrimaryRemote: the primary cluster runs istiod for a remote cluster too (global.externalIstiod);
// the remote cluster's Istio, of the remote profile, runs no istiod, only the injector that calls the
// primary's. The manifests are the topology guide's, adapted only in the address of the primary's
// istiod. The remote's Istio is not Ready until the primary's istiod reaches the remote cluster, which
// it does once it reads it through the Secret bosun create-remote-secret made and applied in the
// primary: then it writes its CA into the remote's injector and its root certificate into the remote's
// namespaces, lists the remote's services, and the remote's Istio is Ready.
func TestPrimaryRemote(t *testing.T) {
	const ns = "istio-pr"
	c1 := newClient(t)
	startOperator(t, v1244)
	box2 := clustertest.Start(t, testcluster.Options{Full: true, Nodes: 1})
	if err := crd.Install(t.Context(), box2.Config(), crdTimeout); err != nil {
		t.Fatal(err)
	}
	c2, err := client.New(box2.Config(), client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	startOperatorOn(t, box2.Config(), v1244, func(*operator.Options) {})
	t.Cleanup(func() {
		deleteIstio(t, c1, "pr")
		deleteNamespace(t, c1, ns)
	})

	ensureNamespace(t, c1, ns)
	applyYAML(t, c1, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: pr
spec:
  namespace: %s
  version: %s
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: cluster1
      network: network1
      externalIstiod: true`, ns, v1243))
	istioHealthy(t, c1, "pr")

	applyYAML(t, c2, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
  annotations:
    topology.istio.io/controlPlaneClusters: cluster1
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: pr
spec:
  namespace: %[1]s
  version: %[2]s
  profile: remote
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1
    global:
      remotePilotAddress: 192.0.2.10
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1`, ns, v1243))
	waitFor(t, "the remote's Istio to wait for the primary's istiod", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c2.Get(ctx, client.ObjectKey{Name: "pr"}, istio); err != nil {
			return err
		}
		if istio.Status.State != v1.ReasonRemoteIstiodNotReady {
			return fmt.Errorf("state %q (%v)", istio.Status.State, istio.Status.Conditions)
		}
		return nil
	})
	ensureNamespace(t, c2, "pr-sample")
	applyYAML(t, c2, "apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: pr-sample\nspec:\n  ports:\n  - name: http\n    port: 5000")

	createRemoteSecret(t, box2.KubeconfigPath(), box.KubeconfigPath(), "cluster2", ns)
	istioHealthy(t, c2, "pr")
	waitFor(t, "the primary's istiod to write its root certificate into the remote's namespaces", func(ctx context.Context) error {
		return c2.Get(ctx, client.ObjectKey{Namespace: "pr-sample", Name: "istio-ca-root-cert"}, &corev1.ConfigMap{})
	})
	waitFor(t, "the primary's istiod to list the remote's service", func(ctx context.Context) error {
		cs := kubernetes.NewForConfigOrDie(cfg)
		pod, err := istiodPodName(ctx, cs, ns, "istiod-pr")
		if err != nil {
			return err
		}
		registry, err := cs.CoreV1().Pods(ns).ProxyGet("http", pod, "8080", "/debug/registryz", nil).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(registry), "hello.pr-sample.svc.cluster.local") {
			return fmt.Errorf("registryz lists no hello.pr-sample")
		}
		return nil
	})
}

// createRemoteSecret runs bosun create-remote-secret as a user does, with --apply.
func createRemoteSecret(t *testing.T, source, target, name, namespace string) {
	t.Helper()
	out, err := exec.Command(bosunBinary, "create-remote-secret", "--kubeconfig", source, "--name", name, "--namespace", namespace,
		"--apply", "--target-kubeconfig", target).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "secret/istio-remote-secret-"+name+" applied") {
		t.Fatalf("bosun create-remote-secret --name %s: %v\n%s", name, err, out)
	}
}

// istiodPodName is the running istiod pod whose name starts with prefix.
func istiodPodName(ctx context.Context, cs kubernetes.Interface, namespace, prefix string) (string, error) {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, prefix+"-") && p.Status.Phase == corev1.PodRunning {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no running istiod pod %s-… in %s", prefix, namespace)
}
