//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
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

	// Multi-network: each cluster moves to a network of its own (the Istio's values.global.network and
	// the control plane namespace's label) and gets an east-west gateway: a Service labelled with its
	// network, whose load balancer address the box plays as a cloud would. Each istiod then knows both
	// networks' gateways, its own and, through the Secret, the other cluster's.
	t.Cleanup(func() {
		_ = c1.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: demo.IstioNamespace, Name: "istio-eastwestgateway"}})
		unlabel := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"topology.istio.io/network":null}}}`))
		if err := c1.Patch(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demo.IstioNamespace}}, unlabel); err != nil {
			t.Errorf("unlabelling %s: %v", demo.IstioNamespace, err)
		}
	})
	for i, c := range []client.Client{c1, c2} {
		network := fmt.Sprintf("network%d", i+1)
		mergePatch(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demo.IstioNamespace}}, `{"metadata":{"labels":{"topology.istio.io/network":"`+network+`"}}}`)
		mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: demo.MeshName}}, `{"spec":{"values":{"global":{"network":"`+network+`"}}}}`)
		eastWestGateway(t, c, network, fmt.Sprintf("192.0.2.%d", 21+i))
	}
	for i, config := range []*rest.Config{cfg, box2.Config()} {
		c := []client.Client{c1, c2}[i]
		istioHealthy(t, c, demo.MeshName)
		cs := kubernetes.NewForConfigOrDie(config)
		waitFor(t, demo.ClusterName(i)+"'s istiod to know both networks' gateways", func(ctx context.Context) error {
			pod, err := istiodPodName(ctx, cs, demo.IstioNamespace, "istiod")
			if err != nil {
				return err
			}
			raw, err := cs.CoreV1().Pods(demo.IstioNamespace).ProxyGet("http", pod, "8080", "/debug/networkz", nil).DoRaw(ctx)
			if err != nil {
				return err
			}
			var gateways []struct {
				Network string `json:"network"`
				Addr    string `json:"addr"`
				Port    int    `json:"port"`
			}
			if err := json.Unmarshal(raw, &gateways); err != nil {
				return fmt.Errorf("networkz %s: %w", raw, err)
			}
			got := map[string]string{}
			for _, g := range gateways {
				got[g.Network] = fmt.Sprintf("%s:%d", g.Addr, g.Port)
			}
			if got["network1"] != "192.0.2.21:15443" || got["network2"] != "192.0.2.22:15443" {
				return fmt.Errorf("gateways %s", raw)
			}
			return nil
		})
	}
}

// eastWestGateway makes the Service of a network's east-west gateway, as Istio's multicluster guide
// exposes it, and gives it the load balancer address a cloud would: istiod finds a network's gateway
// by the Service's network label and that address.
func eastWestGateway(t *testing.T, c client.Client, network, address string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: demo.IstioNamespace, Name: "istio-eastwestgateway",
			Labels: map[string]string{"istio": "eastwestgateway", "topology.istio.io/network": network}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"istio": "eastwestgateway"},
			Ports: []corev1.ServicePort{{Name: "tls", Port: 15443, TargetPort: intstr.FromInt32(15443)}}},
	}
	if err := c.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: address}}
	if err := c.Status().Update(t.Context(), svc); err != nil {
		t.Fatal(err)
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
//
// A pod created in the remote is then injected by the primary's istiod: the remote box routes its API
// server's calls to remotePilotAddress to the primary's istiod, as an east-west gateway would. Both
// Istios update RevisionBased, so their revisions have the same names. The remote's namespace selects
// the revision by name; the primary counts that use, and the pod's, through the same Secret: a version
// update of the primary keeps the old revision while the remote uses it, and prunes it once the remote
// has moved to the new one (docs/architecture.md#lesson-remote-revisions).
func TestPrimaryRemote(t *testing.T) {
	const ns = "istio-pr"
	c1 := newClient(t)
	startOperator(t, v1244)
	box2, c2 := secondCluster(t)
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
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriodSeconds: 0
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: cluster1
      network: network1
      externalIstiod: true`, ns, v1243))
	istioHealthy(t, c1, "pr")
	const old, next = "pr-v1-24-3", "pr-v1-24-4"

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
  updateStrategy:
    type: RevisionBased
  profile: remote
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1
    global:
      remotePilotAddress: %[3]s
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1`, ns, v1243, remotePilotAddress))
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
	applyYAML(t, c2, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: pr-sample\n  labels:\n    istio.io/rev: "+old)
	applyYAML(t, c2, "apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: pr-sample\nspec:\n  ports:\n  - name: http\n    port: 5000")

	createRemoteSecret(t, box2.KubeconfigPath(), box.KubeconfigPath(), "cluster2", ns)
	istioHealthy(t, c2, "pr")
	waitFor(t, "the primary's istiod to write its root certificate into the remote's namespaces", func(ctx context.Context) error {
		return c2.Get(ctx, client.ObjectKey{Namespace: "pr-sample", Name: "istio-ca-root-cert"}, &corev1.ConfigMap{})
	})
	listsService(t, ns, "istiod-pr", "hello.pr-sample.svc.cluster.local")
	// A pod created in the remote is injected by the primary's istiod of its namespace's revision.
	routeToIstiod(t, box2, c1, ns, old, remotePilotAddress)
	injected(t, c2, "pr-sample", old)

	// The primary counts the remote's namespace and pod through the Secret, and says the remote answers.
	revisionUsed(t, c1, old, "Referenced by 1 namespace (pr-sample) and 1 pod in cluster cluster2")
	clustersReachable(t, c1, "pr", "reachable: cluster2")

	// The primary updates: its old revision stays while the remote uses it.
	mergePatch(t, c1, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "pr"}}, `{"spec":{"version":"`+v1244+`"}}`)
	istioHealthy(t, c1, "pr")
	revisionUsed(t, c1, old, "Referenced by 1 namespace (pr-sample) and 1 pod in cluster cluster2")
	if err := c1.Get(t.Context(), client.ObjectKey{Name: old}, &v1.IstioRevision{}); err != nil {
		t.Fatalf("the primary's old revision, which the remote still uses: %v", err)
	}

	// The remote moves: its Istio to the new version, its namespace to the new revision, its pod
	// restarted, now injected by the primary's new istiod. Nothing uses the primary's old revision any
	// more, and it goes.
	mergePatch(t, c2, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "pr"}}, `{"spec":{"version":"`+v1244+`"}}`)
	istioHealthy(t, c2, "pr")
	mergePatch(t, c2, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pr-sample"}}, `{"metadata":{"labels":{"istio.io/rev":"`+next+`"}}}`)
	if err := c2.Delete(t.Context(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "pr-sample", Name: "hello"}}, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the remote's pod to go", func(ctx context.Context) error {
		err := c2.Get(ctx, client.ObjectKey{Namespace: "pr-sample", Name: "hello"}, &corev1.Pod{})
		if err == nil {
			return fmt.Errorf("pod hello is still there")
		}
		return client.IgnoreNotFound(err)
	})
	routeToIstiod(t, box2, c1, ns, next, remotePilotAddress)
	injected(t, c2, "pr-sample", next)
	waitFor(t, "the primary's old revision, unused in either cluster, to go", func(ctx context.Context) error {
		err := c1.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{})
		if err == nil {
			return fmt.Errorf("IstioRevision %s is still there", old)
		}
		return client.IgnoreNotFound(err)
	})
	revisionUsed(t, c1, next, "Referenced by 1 namespace (pr-sample) and 1 pod in cluster cluster2")
}

// TestExternalControlPlane: the istiod of the remote (config) cluster runs in another, external
// cluster, and takes its configuration from the remote cluster through the Secret bosun
// create-remote-secret --type config made. The manifests are the topology guide's, adapted in the
// address of the external istiod (no ingress gateway runs in the box: the remote box routes that
// address to the external istiod, as the gateway would) and without LOCAL_CLUSTER_SECRET_WATCHER
// (a played istiod has no in-cluster credentials; with a single remote cluster, the config cluster's
// own Secrets serve). The remote's Istio is Ready once the external istiod writes its CA into the
// remote's injector; a pod in the remote is injected by the external istiod; the external istiod
// lists the remote's services; and the external revision counts the remote's namespace and pod as
// its use, through the same Secret.
func TestExternalControlPlane(t *testing.T) {
	const ns, external = "external-istiod", "192.0.2.11"
	c1 := newClient(t)
	startOperator(t, v1244)
	box2, c2 := secondCluster(t)
	t.Cleanup(func() {
		deleteIstio(t, c1, "external-istiod")
		deleteNamespace(t, c1, ns)
	})

	// The remote cluster: its configuration, its injector, and the account the external istiod uses.
	applyYAML(t, c2, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: external-istiod
spec:
  version: %[2]s
  namespace: %[1]s
  profile: remote
  values:
    defaultRevision: external-istiod
    global:
      istioNamespace: %[1]s
      remotePilotAddress: %[3]s
      configCluster: true
    pilot:
      configMap: true
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1`, ns, v1243, external))
	waitFor(t, "the remote's Istio to wait for the external istiod", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c2.Get(ctx, client.ObjectKey{Name: "external-istiod"}, istio); err != nil {
			return err
		}
		if istio.Status.State != v1.ReasonRemoteIstiodNotReady {
			return fmt.Errorf("state %q (%v)", istio.Status.State, istio.Status.Conditions)
		}
		return nil
	})

	// The external cluster: the remote's kubeconfig, and the istiod that serves it.
	ensureNamespace(t, c1, ns)
	createRemoteSecret(t, box2.KubeconfigPath(), box.KubeconfigPath(), "cluster2", ns, "--type", "config", "--service-account", "istiod-external-istiod")
	applyYAML(t, c1, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: external-istiod
spec:
  version: %[2]s
  namespace: %[1]s
  profile: empty
  values:
    meshConfig:
      rootNamespace: %[1]s
      defaultConfig:
        discoveryAddress: %[3]s:15012
    pilot:
      enabled: true
      volumes:
        - name: config-volume
          configMap:
            name: istio-external-istiod
        - name: inject-volume
          configMap:
            name: istio-sidecar-injector-external-istiod
      volumeMounts:
        - name: config-volume
          mountPath: /etc/istio/config
        - name: inject-volume
          mountPath: /var/lib/istio/inject
      env:
        INJECTION_WEBHOOK_CONFIG_NAME: "istio-sidecar-injector-external-istiod-external-istiod"
        VALIDATION_WEBHOOK_CONFIG_NAME: "istio-validator-external-istiod-external-istiod"
        EXTERNAL_ISTIOD: "true"
        CLUSTER_ID: cluster2
        SHARED_MESH_CONFIG: istio
    global:
      caAddress: %[3]s:15012
      istioNamespace: %[1]s
      operatorManageWebhooks: true
      configValidation: false
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1`, ns, v1243, external))
	istioHealthy(t, c1, "external-istiod")
	istioHealthy(t, c2, "external-istiod")

	ensureNamespace(t, c2, "sample")
	mergePatch(t, c2, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sample"}}, `{"metadata":{"labels":{"istio.io/rev":"external-istiod"}}}`)
	applyYAML(t, c2, "apiVersion: v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: sample\nspec:\n  ports:\n  - name: http\n    port: 5000")
	routeToIstiod(t, box2, c1, ns, "external-istiod", external)
	injected(t, c2, "sample", "external-istiod")
	listsService(t, ns, "istiod-external-istiod", "hello.sample.svc.cluster.local")
	revisionUsed(t, c1, "external-istiod", "Referenced by 1 namespace (sample) and 1 pod in cluster cluster2")
	clustersReachable(t, c1, "external-istiod", "reachable: cluster2")
}

// secondCluster starts a second cluster in a box, with bosun's CRDs and an operator of its own, for a
// test's other cluster.
func secondCluster(t *testing.T) (*testcluster.Cluster, client.Client) {
	t.Helper()
	box2 := clustertest.Start(t, testcluster.Options{Full: true, Nodes: 1})
	if err := crd.Install(t.Context(), box2.Config(), crdTimeout); err != nil {
		t.Fatal(err)
	}
	c2, err := client.New(box2.Config(), client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	startOperatorOn(t, box2.Config(), v1244, func(*operator.Options) {})
	return box2, c2
}

// remotePilotAddress is the address the remote's Istio gives for the primary's istiod.
const remotePilotAddress = "192.0.2.10"

// routeToIstiod makes the remote box's API server reach the primary's istiod of revision rev at addr
// (its remotePilotAddress), as an east-west gateway in front of it would: the remote's injector calls
// istiod's webhook port there.
func routeToIstiod(t *testing.T, remote *testcluster.Cluster, primary client.Client, namespace, rev, addr string) {
	t.Helper()
	waitFor(t, "the primary's istiod of "+rev+" to be played", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := primary.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{"app": "istiod", "istio.io/rev": rev}); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			if local, ok := box.Played(p.Status.PodIP + ":15017"); ok {
				return remote.Route(addr+":15017", local)
			}
		}
		return fmt.Errorf("no running istiod pod of %s is played yet", rev)
	})
}

// injected creates a pod hello in the remote's namespace and checks that the istiod of revision rev,
// in another cluster, injected it, as the pod's annotations say.
func injected(t *testing.T, c client.Client, namespace, rev string) {
	t.Helper()
	applyYAML(t, c, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n  namespace: "+namespace+"\nspec:\n  containers:\n  - name: hello\n    image: hello")
	pod := &corev1.Pod{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "hello"}, pod); err != nil {
		t.Fatal(err)
	}
	if status := pod.Annotations["sidecar.istio.io/status"]; !strings.Contains(status, `"revision":"`+rev+`"`) || pod.Annotations["istio.io/rev"] != rev {
		t.Fatalf("the remote's pod was not injected by the istiod of %s: annotations %v", rev, pod.Annotations)
	}
}

// clustersReachable waits until the Istio's RemoteClustersReachable condition is True with the message.
func clustersReachable(t *testing.T, c client.Client, name, message string) {
	t.Helper()
	waitFor(t, "Istio "+name+" to say "+message, func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionRemoteClustersReachable); c == nil || c.Status != metav1.ConditionTrue || c.Message != message {
			return fmt.Errorf("RemoteClustersReachable %+v", c)
		}
		return nil
	})
}

// revisionUsed waits until a revision's InUse condition is True with the message.
func revisionUsed(t *testing.T, c client.Client, rev, message string) {
	t.Helper()
	waitFor(t, "IstioRevision "+rev+" to be "+message, func(ctx context.Context) error {
		r := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: rev}, r); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(r.Status.Conditions, v1.ConditionInUse); c == nil || c.Status != metav1.ConditionTrue || c.Message != message {
			return fmt.Errorf("InUse %+v", c)
		}
		return nil
	})
}

// listsService waits until the istiod of the suite's cluster whose pod name starts with prefix lists
// the service host in its registry (its debug endpoint).
func listsService(t *testing.T, namespace, prefix, host string) {
	t.Helper()
	waitFor(t, "istiod "+prefix+" to list "+host, func(ctx context.Context) error {
		cs := kubernetes.NewForConfigOrDie(cfg)
		pod, err := istiodPodName(ctx, cs, namespace, prefix)
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
		return nil
	})
}

// createRemoteSecret runs bosun create-remote-secret as a user does, with --apply, and any more flags.
func createRemoteSecret(t *testing.T, source, target, name, namespace string, more ...string) {
	t.Helper()
	secret := "istio-remote-secret-" + name
	if slices.Contains(more, "config") {
		secret = "istio-kubeconfig"
	}
	out, err := exec.Command(bosunBinary, append([]string{"create-remote-secret", "--kubeconfig", source, "--name", name, "--namespace", namespace,
		"--apply", "--target-kubeconfig", target}, more...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "secret/"+secret+" applied") {
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
