//go:build integration

package remote_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/remote"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cluster is a real kube-apiserver (with etcd): it holds the remote secrets, and it is the cluster they
// name, read with its own admin kubeconfig.
var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(clustertest.MainWith(m, testcluster.Options{}, func(c *testcluster.Cluster) error { cluster = c; return nil }))
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
	}
}

func remoteSecret(namespace, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"istio/multiCluster": "true"}}, Data: data}
}

func pod(namespace, name string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
}

// TestUseCountsWhatTheRulesCount: in the cluster a remote secret names, a revision is used by what
// internal/inuse counts here: a namespace labelled with its name, an injected pod (annotated by the
// injector), a pod labelled with its name in a namespace that selects nothing; not by a pod that has
// finished, nor by a pod of another revision. The lists are paged.
func TestUseCountsWhatTheRulesCount(t *testing.T) {
	defer remote.SetPageSize(2)()
	c := newClient(t, cluster.Config())
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "cp-use"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio.io/rev": "old"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "moved", Labels: map[string]string{"istio.io/rev": "new"}}},
		// A tag of this cluster's named there selects that cluster's own injector, not this revision.
		{ObjectMeta: metav1.ObjectMeta{Name: "tagged", Labels: map[string]string{"istio.io/rev": "canary"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
	} {
		create(t, c, ns)
	}
	injected := map[string]string{"security.istio.io/tlsMode": "istio"}
	create(t, c,
		pod("moved", "injected-by-old", injected, map[string]string{"istio.io/rev": "old"}),
		pod("moved", "injected-by-new", injected, map[string]string{"istio.io/rev": "new"}),
		pod("plain", "asks-for-old", map[string]string{"istio.io/rev": "old"}, nil),
		pod("plain", "asks-for-default", map[string]string{"sidecar.istio.io/inject": "true"}, nil),
		pod("plain", "not-meshed", nil, nil),
	)
	done := pod("moved", "finished", injected, map[string]string{"istio.io/rev": "old"})
	create(t, c, done)
	done.Status.Phase = corev1.PodSucceeded
	if err := c.Status().Update(t.Context(), done); err != nil {
		t.Fatal(err)
	}
	create(t, c, remoteSecret("cp-use", "istio-remote-secret-cluster2", map[string][]byte{"cluster2": kubeconfig}))

	r := &remote.Reader{Secrets: c}
	var u inuse.Usage
	if err := r.Use(t.Context(), "cp-use", inuse.Target{Revision: "old", Tags: []string{"canary"}}, &u, remote.Recent); err != nil {
		t.Fatal(err)
	}
	if want := "Referenced by 1 namespace (shop) and 2 pods in cluster cluster2"; u.Message() != want {
		t.Errorf("old: %s, want %s", u.Message(), want)
	}
	var d inuse.Usage
	if err := r.Use(t.Context(), "cp-use", inuse.Target{Revision: "default"}, &d, remote.Recent); err != nil {
		t.Fatal(err)
	}
	if want := "Referenced by 1 pod in cluster cluster2"; d.Message() != want {
		t.Errorf("default: %s, want %s", d.Message(), want)
	}
	var n inuse.Usage
	if err := r.Use(t.Context(), "cp-use", inuse.Target{Revision: "unused"}, &n, remote.Recent); err != nil || n.InUse() {
		t.Errorf("a revision nothing references: %s, %v", n.Message(), err)
	}
}

// TestAConfigSecretNamesItsClusterByAnnotation: the Secret of an external control plane (key config)
// names its cluster by its annotation, as bosun create-remote-secret --type config makes it.
func TestAConfigSecretNamesItsClusterByAnnotation(t *testing.T) {
	c := newClient(t, cluster.Config())
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cp-config"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "config-shop", Labels: map[string]string{"istio.io/rev": "ext"}}})
	secret := remoteSecret("cp-config", "istio-kubeconfig", map[string][]byte{"config": kubeconfig})
	secret.Annotations = map[string]string{"networking.istio.io/cluster": "cluster2"}
	create(t, c, secret)
	var u inuse.Usage
	if err := (&remote.Reader{Secrets: c}).Use(t.Context(), "cp-config", inuse.Target{Revision: "ext"}, &u, remote.Recent); err != nil {
		t.Fatal(err)
	}
	if want := "Referenced by 1 namespace (config-shop) in cluster cluster2"; u.Message() != want {
		t.Errorf("%s, want %s", u.Message(), want)
	}
}

// TestAClusterIsReadOncePerMaxAge: what was read of a cluster answers for MaxAge, whoever asks; Fresh
// reads it again at once, and so does any read once MaxAge has passed.
func TestAClusterIsReadOncePerMaxAge(t *testing.T) {
	c := newClient(t, cluster.Config())
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cp-age"}},
		remoteSecret("cp-age", "istio-remote-secret-cluster2", map[string][]byte{"cluster2": kubeconfig}))
	clock := clocktesting.NewFakePassiveClock(time.Now())
	r := &remote.Reader{Secrets: c, MaxAge: 30 * time.Second, Clock: clock}
	used := func(fresh remote.Freshness) bool {
		t.Helper()
		var u inuse.Usage
		if err := r.Use(t.Context(), "cp-age", inuse.Target{Revision: "aged"}, &u, fresh); err != nil {
			t.Fatal(err)
		}
		return u.InUse()
	}
	if used(remote.Recent) {
		t.Fatal("revision aged in use before anything references it")
	}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "aged-shop", Labels: map[string]string{"istio.io/rev": "aged"}}})
	if used(remote.Recent) {
		t.Error("a read within MaxAge saw the new namespace: the cluster was read again")
	}
	if !used(remote.Fresh) {
		t.Error("a Fresh read did not see the new namespace")
	}
	moved := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "aged-shop"}, moved); err != nil {
		t.Fatal(err)
	}
	moved.Labels["istio.io/rev"] = "newer"
	if err := c.Update(t.Context(), moved); err != nil {
		t.Fatal(err)
	}
	clock.SetTime(clock.Now().Add(31 * time.Second))
	if used(remote.Recent) {
		t.Error("a read after MaxAge still answered from the old read")
	}
}

// TestAClusterThatCannotBeReadMakesUseUnknown: a cluster that does not answer, a Secret that is not a
// kubeconfig, no remote secret at all, and Secrets bosun may not read each fail the evaluation with a
// message that names the cluster and Secret, or says what to change; Reach says which clusters answer.
func TestAClusterThatCannotBeReadMakesUseUnknown(t *testing.T) {
	c := newClient(t, cluster.Config())
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cp-down"}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cp-none"}})
	down := strings.ReplaceAll(string(kubeconfig), cluster.Config().Host, "https://127.0.0.1:1")
	// The clusters that fail sort after the one that answers: each one's failure must count.
	create(t, c,
		remoteSecret("cp-down", "istio-remote-secret-a-up", map[string][]byte{"a-up": kubeconfig}),
		remoteSecret("cp-down", "istio-remote-secret-z-down", map[string][]byte{"z-down": []byte(down)}),
		remoteSecret("cp-down", "istio-remote-secret-b-garbled", map[string][]byte{"b-garbled": []byte("not a kubeconfig: [")}),
	)
	r := &remote.Reader{Secrets: c}
	var u inuse.Usage
	err = r.Use(t.Context(), "cp-down", inuse.Target{Revision: "old"}, &u, remote.Recent)
	for _, want := range []string{"cluster z-down (remote secret cp-down/istio-remote-secret-z-down): listing its namespaces: connection refused",
		"cluster b-garbled (remote secret cp-down/istio-remote-secret-b-garbled): reading its kubeconfig"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Use with clusters that cannot be read: %v, want an error with %q", err, want)
		}
	}
	reach, err := r.Reach(t.Context(), "cp-down")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range reach {
		got[c.Cluster.Name] = c.Err == nil
	}
	if len(got) != 3 || !got["a-up"] || got["z-down"] || got["b-garbled"] {
		t.Errorf("Reach: %v, want a-up reachable, z-down and b-garbled not", reach)
	}
	// The same failure reads the same, so that a condition made of it is not rewritten.
	again, err := r.Reach(t.Context(), "cp-down")
	if err != nil || len(again) != len(reach) {
		t.Fatal(err)
	}
	for i := range reach {
		if fmt.Sprint(reach[i].Err) != fmt.Sprint(again[i].Err) {
			t.Errorf("cluster %s: %v, then %v", reach[i].Cluster.Name, reach[i].Err, again[i].Err)
		}
	}

	if err := r.Use(t.Context(), "cp-none", inuse.Target{Revision: "old"}, &u, remote.Recent); !errors.Is(err, remote.ErrNoClusters) {
		t.Errorf("Use without a remote secret: %v, want ErrNoClusters", err)
	}
	if _, err := r.Reach(t.Context(), "cp-none"); !errors.Is(err, remote.ErrNoClusters) {
		t.Errorf("Reach without a remote secret: %v, want ErrNoClusters", err)
	}

	// A reader that may do nothing with Secrets there.
	create(t, c, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "remote-test-no-secrets"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}}})
	create(t, c, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "remote-test-no-secrets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "remote-test-no-secrets"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "remote-test"}}})
	cfg := rest.CopyConfig(cluster.Config())
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "remote-test"}
	denied := &remote.Reader{Secrets: newClient(t, cfg)}
	err = denied.Use(t.Context(), "cp-down", inuse.Target{Revision: "old"}, &u, remote.Recent)
	if err == nil || !strings.Contains(err.Error(), "add cp-down to the operator chart's remoteSecretNamespaces") {
		t.Errorf("Use without the right to read Secrets: %v, want it to say what to change", err)
	}
	if u.InUse() {
		t.Errorf("failed evaluations added use: %s", u.Message())
	}
}
