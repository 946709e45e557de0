//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/repo"
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
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	istiodDir, err := testcluster.IstiodBinDir(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	version, err := demo.ChooseVersion(catalog.Embedded(), istiodDir, nil)
	if err != nil {
		t.Fatal(err)
	}
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
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: demo.IstioNamespace, Name: "istio-reader-service-account"}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bosun-remote-reader-" + demo.IstioNamespace}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "bosun-remote-reader-" + demo.IstioNamespace}},
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
