//go:build integration

package main

import (
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// TestCreateRemoteSecret runs `bosun create-remote-secret` as a user does. Without a role that lets the
// reader account make istiod's reads it refuses; --dry-run shows what it would create, with no token,
// and creates nothing; a run prints the Secret, whose token appears on standard output only, never in
// what it reports on standard error; --apply needs a target.
func TestCreateRemoteSecret(t *testing.T) {
	createNamespace(t, "remote-src")
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	args := []string{"create-remote-secret", "--kubeconfig", kubeconfig, "--name", "cluster1", "--namespace", "remote-src", "--token-timeout", "1s"}

	if _, stderr, code := runBosun(t, "", append(args, "--apply")...); code == 0 || !strings.Contains(stderr, "--target-context") {
		t.Errorf("--apply without a target: exit %d, %q", code, stderr)
	}
	// No Istio, so no reader role: refused, with what to do.
	if _, stderr, code := runBosun(t, "", append(args, "--dry-run")...); code == 0 || !strings.Contains(stderr, "may not list services") {
		t.Errorf("without a reader role: exit %d, %q", code, stderr)
	}
	// What an Istio's istiod chart would bind to the reader account.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "remote-src-reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "pods", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "remote-src-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "remote-src-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "istio-reader-service-account", Namespace: "remote-src"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runBosun(t, "", append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# dry run: nothing was created", "kind: ServiceAccount", "name: istio-reader-service-account-istio-remote-secret-token", "name: istio-remote-secret-cluster1", "istio/multiCluster: \"true\""} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the dry run does not show %q:\n%s", want, stdout)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts("remote-src").Get(ctx, "istio-reader-service-account", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run created the ServiceAccount: %v", err)
	}

	// This cluster runs no token controller: the first run says so; the test then plays it.
	if _, stderr, code := runBosun(t, "", args...); code == 0 || !strings.Contains(stderr, "token controller") {
		t.Fatalf("without a token controller: exit %d, %q", code, stderr)
	}
	tokenSecret, err := cs.CoreV1().Secrets("remote-src").Get(ctx, "istio-reader-service-account-istio-remote-secret-token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("remote-src").CreateToken(ctx, "istio-reader-service-account", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	tokenSecret.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(token), corev1.ServiceAccountRootCAKey: cfg.CAData}
	if _, err := cs.CoreV1().Secrets("remote-src").Update(ctx, tokenSecret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runBosun(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, token) {
		t.Errorf("the token was written to standard error: %q", stderr)
	}
	secret := &corev1.Secret{}
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(stdout, "---\n")), secret); err != nil {
		t.Fatalf("the output is not a Secret: %v\n%s", err, stdout)
	}
	if secret.Name != "istio-remote-secret-cluster1" || !strings.Contains(string(secret.Data["cluster1"]), token) {
		t.Errorf("printed Secret %s with keys %v; want istio-remote-secret-cluster1 holding the token", secret.Name, len(secret.Data))
	}
}
