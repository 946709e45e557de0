//go:build integration

package remotesecret_test

import (
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/remotesecret"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) TestMain starts. It runs no kube-controller-manager,
// so the tests play its token controller (fillToken).
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error { cfg = c; return nil }))
}

func clients(t *testing.T) (client.Client, kubernetes.Interface) {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, kubernetes.NewForConfigOrDie(cfg)
}

func namespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// fillToken does what the token controller does for a token Secret: writes a token of its
// ServiceAccount and the cluster's CA into it.
func fillToken(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	ctx := t.Context()
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, s.Annotations[corev1.ServiceAccountNameKey], &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tr.Status.Token), corev1.ServiceAccountRootCAKey: cfg.CAData}
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// readerRole binds to an account what the istiod chart of an Istio in the namespace would:
// reads for discovery, no write and no Secret here.
func readerRole(t *testing.T, c client.Client, namespace, account string) {
	t.Helper()
	name := "reader-" + namespace
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "pods", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: namespace}}}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRemoteSecretGivesTheReadersAccess: where no role lets the reader account make istiod's discovery
// reads, the command refuses and creates nothing. Once Istio's reader role is bound to it (as an Istio's
// chart does), bosun creates the missing account and its token, and the kubeconfig in the Secret it
// returns lists services, endpoint slices and pods, and can do no more than that role allows. Running it
// again changes nothing; applying the Secret puts it in the target's namespace with the label istiod
// selects.
func TestRemoteSecretGivesTheReadersAccess(t *testing.T) {
	c, cs := clients(t)
	ctx := t.Context()
	namespace(t, c, "mesh-src")
	o := remotesecret.Options{Cluster: "cluster1", Type: remotesecret.Remote, Namespace: "mesh-src", TokenTimeout: time.Second}

	_, _, err := remotesecret.Create(ctx, c, cfg.Host, o)
	if err == nil || !strings.Contains(err.Error(), "may not list services, pods, namespaces, nodes, endpointslices.discovery.k8s.io in the source cluster") ||
		!strings.Contains(err.Error(), "install the source cluster's Istio in namespace mesh-src first") {
		t.Fatalf("error %v, want the missing reads named and what grants them", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("mesh-src").Get(ctx, remotesecret.ReaderServiceAccount, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused run created the ServiceAccount (%v)", err)
	}

	readerRole(t, c, "mesh-src", remotesecret.ReaderServiceAccount)
	// No token controller runs here: Create says what it waited for, having created the account.
	_, _, err = remotesecret.Create(ctx, c, cfg.Host, o)
	if err == nil || !strings.Contains(err.Error(), "did not fill the token Secret mesh-src/istio-reader-service-account-istio-remote-secret-token") {
		t.Fatalf("error %v, want the wait for the token controller explained", err)
	}
	fillToken(t, cs, "mesh-src", "istio-reader-service-account-istio-remote-secret-token")
	sa, err := cs.CoreV1().ServiceAccounts("mesh-src").Get(ctx, remotesecret.ReaderServiceAccount, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := remotesecret.Create(ctx, c, cfg.Host, o)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cs.CoreV1().ServiceAccounts("mesh-src").Get(ctx, remotesecret.ReaderServiceAccount, metav1.GetOptions{}); again.ResourceVersion != sa.ResourceVersion {
		t.Errorf("running again rewrote the ServiceAccount")
	}

	kc, err := clientcmd.Load(secret.Data["cluster1"])
	if err != nil {
		t.Fatal(err)
	}
	remoteCfg, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	reader := kubernetes.NewForConfigOrDie(remoteCfg)
	if _, err := reader.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing services through the Secret: %v", err)
	}
	if _, err := reader.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing endpoint slices through the Secret: %v", err)
	}
	if _, err := reader.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing pods through the Secret: %v", err)
	}
	if _, err := reader.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets through the Secret: %v, want Forbidden: the account has only the role bound to it", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}
	if _, err := reader.CoreV1().ConfigMaps("mesh-src").Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating a ConfigMap through the Secret: %v, want Forbidden", err)
	}

	// The cluster is its own target here: the Secret goes into the namespace it names.
	if err := remotesecret.Apply(ctx, c, secret); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Secrets("mesh-src").Get(ctx, "istio-remote-secret-cluster1", metav1.GetOptions{})
	if err != nil || got.Labels[remotesecret.LabelMultiCluster] != "true" || got.Labels["app.kubernetes.io/managed-by"] != remotesecret.ManagedBy {
		t.Errorf("applied Secret %v (%v), want it labelled %s=true and managed by %s", got.Labels, err, remotesecret.LabelMultiCluster, remotesecret.ManagedBy)
	}
	other := secret.DeepCopy()
	other.Namespace = "not-here"
	if err := remotesecret.Apply(ctx, c, other); err == nil || !strings.Contains(err.Error(), "namespace not-here does not exist in the target cluster") {
		t.Errorf("applying into a missing namespace: %v", err)
	}
}

// TestConfigSecretNeedsIstiodsAccount: a config Secret is for the istiod ServiceAccount the source's
// Istio creates, with its role; where either is missing, nothing is created and the error says what to
// install.
func TestConfigSecretNeedsIstiodsAccount(t *testing.T) {
	c, cs := clients(t)
	ctx := t.Context()
	namespace(t, c, "external-istiod")
	o := remotesecret.Options{Cluster: "remote", Type: remotesecret.Config, Namespace: "external-istiod", TokenTimeout: time.Second}
	_, _, err := remotesecret.Create(ctx, c, cfg.Host, o)
	if err == nil || !strings.Contains(err.Error(), "ServiceAccount external-istiod/istiod may not list") || !strings.Contains(err.Error(), "configCluster") {
		t.Fatalf("error %v, want the istiod account's missing reads named and what grants them", err)
	}
	readerRole(t, c, "external-istiod", remotesecret.ConfigServiceAccount)
	if _, _, err := remotesecret.Create(ctx, c, cfg.Host, o); err == nil || !strings.Contains(err.Error(), "ServiceAccount external-istiod/istiod does not exist") {
		t.Fatalf("error %v, want the missing istiod account named", err)
	}
	if list, err := cs.CoreV1().Secrets("external-istiod").List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("Secrets %v (%v): a refused run must create nothing", list, err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("external-istiod").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "istiod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	access, err := remotesecret.Plan(ctx, c, o)
	if err != nil || access.ServiceAccount != nil || len(access.Objects()) != 1 {
		t.Errorf("plan %+v (%v): for an existing account, only its token Secret", access, err)
	}
}
