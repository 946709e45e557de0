//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// secondBox starts another cluster in a box beside the one TestMain started, with bosun's CRDs and an
// operator of its own, for the topologies that span clusters.
func secondBox(t *testing.T) (*testcluster.Cluster, client.Client) {
	t.Helper()
	box2 := clustertest.Start(t, testcluster.Options{Full: true, Nodes: 1})
	if err := crd.Install(t.Context(), box2.Config(), crdTimeout); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(box2.Config(), client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	startOperatorOn(t, box2.Config(), v1244, func(*operator.Options) {})
	return box2, c
}

// primaryIstio is the Istio of one cluster of a multi-primary mesh.
func primaryIstio(name, namespace, cluster, network string) string {
	return fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %s
spec:
  namespace: %s
  version: %s
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: %s
      network: %s`, name, namespace, v1243, cluster, network)
}

// createRemoteSecret runs bosun create-remote-secret as a user does: the source's kubeconfig, the
// target's, --apply.
func createRemoteSecret(t *testing.T, source, target, name, namespace string) {
	t.Helper()
	cmd := exec.Command(bosunBinary, "create-remote-secret", "--kubeconfig", source, "--name", name, "--namespace", namespace,
		"--apply", "--target-kubeconfig", target)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bosun create-remote-secret --name %s: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "secret/istio-remote-secret-"+name+" applied") {
		t.Errorf("create-remote-secret said %q", out)
	}
}

// registryLists waits until the istiod of a revision, asked through its cluster's API server, lists a
// service of the other cluster in its registry (/debug/registryz) with an endpoint there
// (/debug/endpointShardz names the cluster).
func registryLists(t *testing.T, config *rest.Config, namespace, istiodPod, host, cluster string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(config)
	waitFor(t, "istiod "+istiodPod+" to list "+host+" of "+cluster, func(ctx context.Context) error {
		pod, err := istiodPodName(ctx, cs, namespace, istiodPod)
		if err != nil {
			return err
		}
		registry, err := cs.CoreV1().Pods(namespace).ProxyGet("http", pod, "8080", "/debug/registryz", nil).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(registry), host) {
			return fmt.Errorf("registryz lists no %s", host)
		}
		shards, err := cs.CoreV1().Pods(namespace).ProxyGet("http", pod, "8080", "/debug/endpointShardz", nil).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(shards), `"`+cluster+`"`) {
			return fmt.Errorf("endpointShardz has no endpoints of cluster %s", cluster)
		}
		return nil
	})
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

// TestMultiPrimary: two clusters, each with its own istiod of one mesh (meshID mesh1, one network),
// each reading the other through a Secret made by bosun create-remote-secret. Each istiod's registry
// lists the other cluster's service with its endpoints, as a user checks with istiod's debug
// endpoints.
func TestMultiPrimary(t *testing.T) {
	c1 := newClient(t)
	startOperator(t, v1244)
	box2, c2 := secondBox(t)
	const ns = "istio-mp"
	t.Cleanup(func() {
		deleteIstio(t, c1, "mp")
		_ = c1.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mp-sample"}})
	})
	for i, c := range []client.Client{c1, c2} {
		cluster := fmt.Sprintf("cluster%d", i+1)
		ensureNamespace(t, c, ns)
		applyYAML(t, c, primaryIstio("mp", ns, cluster, "network1"))
		istioHealthy(t, c, "mp")
		ensureNamespace(t, c, "mp-sample")
		applyYAML(t, c, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: hello-%[1]s
  namespace: mp-sample
spec:
  selector:
    app: hello-%[1]s
  ports:
  - name: http
    port: 5000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-%[1]s
  namespace: mp-sample
spec:
  replicas: 1
  selector:
    matchLabels:
      app: hello-%[1]s
  template:
    metadata:
      labels:
        app: hello-%[1]s
    spec:
      containers:
      - name: hello
        image: registry.example/hello:1
        ports:
        - containerPort: 5000`, cluster))
	}
	for i, c := range []client.Client{c1, c2} {
		clusterIDIs(t, c, ns, "istiod-mp", fmt.Sprintf("cluster%d", i+1))
	}
	createRemoteSecret(t, box2.KubeconfigPath(), box.KubeconfigPath(), "cluster2", ns)
	createRemoteSecret(t, box.KubeconfigPath(), box2.KubeconfigPath(), "cluster1", ns)
	registryLists(t, cfg, ns, "istiod-mp", "hello-cluster2.mp-sample.svc.cluster.local", "cluster2")
	registryLists(t, box2.Config(), ns, "istiod-mp", "hello-cluster1.mp-sample.svc.cluster.local", "cluster1")
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
