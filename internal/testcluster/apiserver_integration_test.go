//go:build integration

package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// adminClient is a client of the shared cluster as its admin.
func adminClient(t *testing.T, c *Cluster) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// testNamespace creates a namespace for one test and deletes it after.
func testNamespace(t *testing.T, client kubernetes.Interface, name string) string {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// TestAPIServerOnlyFlags checks the flags an API-server-only cluster runs
// kube-apiserver with, as the package documents them: Node and RBAC
// authorization, the ServiceAccount and TaintNodesByCondition admission
// plugins off, privileged pods allowed, no endpoint reconciler, and no
// egress through the box's network (there is none without Full).
func TestAPIServerOnlyFlags(t *testing.T) {
	c := sharedCluster(t)
	for _, want := range []string{
		"--authorization-mode=Node,RBAC",
		"--disable-admission-plugins=TaintNodesByCondition,ServiceAccount",
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--service-cluster-ip-range=%s", serviceCIDR),
	} {
		if !slices.Contains(c.apiServerArgs, want) {
			t.Errorf("kube-apiserver runs without %s: %q", want, c.apiServerArgs)
		}
	}
	for _, a := range c.apiServerArgs {
		if strings.HasPrefix(a, "--egress-selector-config-file") || strings.HasPrefix(a, "--enable-aggregator-routing") {
			t.Errorf("an API-server-only cluster runs kube-apiserver with %s, but has no pod network", a)
		}
	}
	if c.network != nil || len(c.players) != 0 {
		t.Error("an API-server-only cluster has a pod network or players")
	}
}

// TestPodsNeedNoServiceAccount checks what the disabled ServiceAccount
// admission plugin means for tests: a pod naming a ServiceAccount that does
// not exist (no controller manager creates "default" here) is accepted at
// once, and gets no token volume that no fake node would read; a
// privileged container, as Istio's CNI runs, is accepted too.
func TestPodsNeedNoServiceAccount(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ns := testNamespace(t, client, "no-service-accounts")
	pod, err := client.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cni"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "istio-cni",
			Containers: []corev1.Container{{
				Name: "install-cni", Image: "docker.io/istio/install-cni:1.25.0",
				SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a privileged pod naming a missing ServiceAccount: %v", err)
	}
	if len(pod.Spec.Volumes) != 0 || len(pod.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("the pod got volumes %v and mounts %v; want none", pod.Spec.Volumes, pod.Spec.Containers[0].VolumeMounts)
	}
}

// TestKubernetesServiceMatchesTheServingCertificate checks what in-cluster
// clients (a played istiod or operator) rely on: the kubernetes Service has
// the cluster IP the API server's certificate names, the certificate the
// API server serves verifies for it against the cluster's CA, and the
// Service has no endpoints (nothing would route to them).
func TestKubernetesServiceMatchesTheServingCertificate(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	// The API server creates the Service shortly after it is ready.
	var svc *corev1.Service
	eventually(t, "the kubernetes Service", func(ctx context.Context) error {
		var err error
		svc, err = client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		return err
	})
	if svc.Spec.ClusterIP != kubernetesServiceIP.String() {
		t.Errorf("the kubernetes Service has cluster IP %s, the serving certificate names %s", svc.Spec.ClusterIP, kubernetesServiceIP)
	}
	endpointSlices, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(t.Context(), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(endpointSlices.Items) != 0 {
		t.Errorf("the kubernetes Service has %d EndpointSlices, want none", len(endpointSlices.Items))
	}

	cfg := c.Config()
	host := strings.TrimPrefix(cfg.Host, "https://")
	roots := pool(t, cfg.CAData)
	conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: roots, ServerName: "kubernetes.default.svc"})
	if err != nil {
		t.Fatalf("TLS to the API server as kubernetes.default.svc: %v", err)
	}
	defer conn.Close()
	served := conn.ConnectionState().PeerCertificates[0]
	if err := served.VerifyHostname(svc.Spec.ClusterIP); err != nil {
		t.Errorf("the served certificate does not name the Service's cluster IP: %v", err)
	}
	if _, port, _ := net.SplitHostPort(host); port == "" {
		t.Errorf("the API server's address %q has no port", host)
	}
}

// TestAddNodesWaitsForReadyAndKeepsExistingNodes checks EnsureNodes against the
// API server without kwok playing the nodes: the nodes are stored as a
// kubelet registers them (addresses and capacity kept, no not-ready taint,
// since TaintNodesByCondition is off), a node that already exists is kept as
// it is, and EnsureNodes returns only once every node is Ready; without that,
// it fails naming a node that is not.
func TestAddNodesWaitsForReadyAndKeepsExistingNodes(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ctx := t.Context()
	existing := fakeNode(0)
	existing.Labels["added-by"] = "test"
	if _, err := client.CoreV1().Nodes().Create(ctx, existing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := range 2 {
			_ = client.CoreV1().Nodes().Delete(context.Background(), NodeName(i), metav1.DeleteOptions{})
		}
	})

	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := c.EnsureNodes(short, 2)
	if err == nil || !strings.Contains(err.Error(), "waiting for 2 fake nodes to be Ready") || !strings.Contains(err.Error(), "is not Ready") {
		t.Fatalf("EnsureNodes with nobody making nodes Ready = %v, want a timeout naming a node that is not Ready", err)
	}

	for i := range 2 {
		node, err := client.CoreV1().Nodes().Get(ctx, NodeName(i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && node.Labels["added-by"] != "test" {
			t.Errorf("EnsureNodes replaced the existing node %s: labels %v", node.Name, node.Labels)
		}
		for _, taint := range node.Spec.Taints {
			t.Errorf("node %s has the taint %s: fake nodes would stay unschedulable", node.Name, taint.Key)
		}
		if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != nodeIP(i).String() {
			t.Errorf("node %s has addresses %v, want %s as given", node.Name, node.Status.Addresses, nodeIP(i))
		}
		if pods := node.Status.Allocatable[corev1.ResourcePods]; pods.Value() != 110 {
			t.Errorf("node %s has room for %s pods, want 110 as given", node.Name, pods.String())
		}
	}

	// kwok's part: mark both nodes Ready while EnsureNodes waits.
	done := make(chan error, 1)
	go func() { done <- c.EnsureNodes(ctx, 2) }()
	for i := range 2 {
		node, err := client.CoreV1().Nodes().Get(ctx, NodeName(i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("EnsureNodes once every node is Ready = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("EnsureNodes did not return once every node was Ready")
	}
	if err := c.EnsureNodes(ctx, 0); err != nil {
		t.Errorf("EnsureNodes(0) = %v", err)
	}
}

// TestAdminIsSystemMasters checks the admin's identity as the API server
// sees it: the user of the admin certificate, in system:masters, which is
// what lets it act before RBAC's bootstrap policy is in place.
func TestAdminIsSystemMasters(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info := review.Status.UserInfo
	if info.Username != "bosun-testcluster-admin" || !slices.Contains(info.Groups, adminGroup) {
		t.Errorf("the admin is %q in %v, want bosun-testcluster-admin in %s", info.Username, info.Groups, adminGroup)
	}
}
