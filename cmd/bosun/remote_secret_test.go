//go:build integration

package main

import (
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// TestCreateRemoteSecret runs `bosun create-remote-secret` as a user does. --dry-run shows what it
// would create, with no token, and creates nothing; a run prints the Secret, whose token appears on
// standard output only, never in what it reports on standard error; --apply needs a target.
func TestCreateRemoteSecret(t *testing.T) {
	createNamespace(t, "remote-src")
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	args := []string{"create-remote-secret", "--kubeconfig", kubeconfig, "--name", "cluster1", "--namespace", "remote-src", "--token-timeout", "1s"}

	if _, stderr, code := runBosun(t, "", append(args, "--apply")...); code == 0 || !strings.Contains(stderr, "--target-context") {
		t.Errorf("--apply without a target: exit %d, %q", code, stderr)
	}

	stdout, stderr, code := runBosun(t, "", append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# dry run: nothing was created", "kind: ServiceAccount", "kind: ClusterRole\n", "kind: ClusterRoleBinding", "name: istio-remote-secret-cluster1", "istio/multiCluster: \"true\""} {
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
