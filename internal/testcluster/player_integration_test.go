//go:build integration

package testcluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// storedPod creates pod in ns and gives it the status kwok's played-pod
// stage gives: Running with an address, scheduled and initialized, its
// container started but not ready.
func storedPod(t *testing.T, client kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	ctx := t.Context()
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "istiod"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "istiod",
			Containers:         []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.25.0"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "discovery", Image: "docker.io/istio/pilot:1.25.0", Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	pod, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// conditionStatus is the status of a pod's condition, or "" without one.
func conditionStatus(pod *corev1.Pod, typ corev1.PodConditionType) (corev1.ConditionStatus, string) {
	for _, c := range pod.Status.Conditions {
		if c.Type == typ {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// TestSetReadyReportsTheProbeAsAKubeletDoes checks the status a played
// pod's probe writes, through the API server's strategic merge of
// conditions: Ready and ContainersReady follow the probe, with the reason a
// kubelet gives when not ready; the containers' ready flags follow too; the
// other conditions and the pod's address are kept. A pod replaced by another
// of the same name is not written: its readiness is not this process's.
func TestSetReadyReportsTheProbeAsAKubeletDoes(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ns := testNamespace(t, client, "set-ready")
	pod := storedPod(t, client, ns, "istiod-1")
	p := &podPlayer{client: client}
	ctx := t.Context()

	for _, ready := range []bool{true, false, true} {
		if err := p.setReady(ctx, pod, ready); err != nil {
			t.Fatalf("setReady(%v): %v", ready, err)
		}
		got, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, wantReason := corev1.ConditionFalse, "ContainersNotReady"
		if ready {
			want, wantReason = corev1.ConditionTrue, ""
		}
		for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			if status, reason := conditionStatus(got, typ); status != want || reason != wantReason {
				t.Errorf("after setReady(%v): %s is %s (%q), want %s (%q)", ready, typ, status, reason, want, wantReason)
			}
		}
		for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized} {
			if status, _ := conditionStatus(got, typ); status != corev1.ConditionTrue {
				t.Errorf("after setReady(%v): %s is %q, want it kept True", ready, typ, status)
			}
		}
		if len(got.Status.ContainerStatuses) != 1 || got.Status.ContainerStatuses[0].Ready != ready || got.Status.ContainerStatuses[0].State.Running == nil {
			t.Errorf("after setReady(%v): container statuses %+v", ready, got.Status.ContainerStatuses)
		}
		if got.Status.PodIP != "10.244.0.7" || got.Status.Phase != corev1.PodRunning {
			t.Errorf("after setReady(%v): phase %s, IP %q; want them kept", ready, got.Status.Phase, got.Status.PodIP)
		}
	}

	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod to be gone", func(ctx context.Context) error {
		_, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	replacement := storedPod(t, client, ns, pod.Name)
	if err := p.setReady(ctx, pod, true); !apierrors.IsNotFound(err) {
		t.Errorf("setReady of a replaced pod = %v, want not found", err)
	}
	got, err := client.CoreV1().Pods(ns).Get(ctx, replacement.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := conditionStatus(got, corev1.PodReady); status != corev1.ConditionFalse {
		t.Errorf("the replacement pod's Ready is %s, written for the pod it replaced", status)
	}
}

// TestPlayedOperatorActsAsItsServiceAccount checks the identity a played
// operator gets: the kubeconfig its --kubeconfig names (replacing the
// container's) authenticates as the pod's ServiceAccount with a token bound
// to the pod, for about a week; RBAC grants it only what is bound to it;
// and once the pod is deleted, its token no longer works.
func TestPlayedOperatorActsAsItsServiceAccount(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ns := testNamespace(t, client, "bosun-system")
	ctx := t.Context()
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bosun-operator"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bosun-operator-1", Labels: map[string]string{operatorLabel.key: operatorLabel.value}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "bosun-operator",
			Containers:         []corev1.Container{{Name: "operator", Image: "ghcr.io/bosun-mesh/bosun:0.1.0"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	r := &operatorRole{client: client, config: c.Config(), binary: "/build/bosun-operator", resources: "/repo/resources"}
	workDir := t.TempDir()
	local := map[int32]string{8080: "127.0.0.1:40001", 8081: "127.0.0.1:40002"}
	args, kubeconfig, err := r.args(ctx, pod, []string{"--kubeconfig=/etc/admin.conf", "--metrics-bind-address=:8080", "--leader-elect=true"}, local, workDir)
	if err != nil {
		t.Fatal(err)
	}
	if kubeconfig != filepath.Join(workDir, "kubeconfig") {
		t.Errorf("kubeconfig %q, want one in the pod's directory", kubeconfig)
	}
	want := []string{"--metrics-bind-address=127.0.0.1:40001", "--leader-elect=true", "--kubeconfig=" + kubeconfig}
	if !slices.Equal(args, want) {
		t.Errorf("args %q, want %q", args, want)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CertData) != 0 || cfg.BearerToken == "" {
		t.Fatal("the played operator's kubeconfig carries the admin's certificate, or no token")
	}
	operator, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := operator.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info := review.Status.UserInfo
	if info.Username != "system:serviceaccount:bosun-system:bosun-operator" {
		t.Errorf("the played operator acts as %q, want its ServiceAccount", info.Username)
	}
	if got := info.Extra["authentication.kubernetes.io/pod-name"]; len(got) != 1 || got[0] != pod.Name {
		t.Errorf("the token is bound to pod %v, want %s", got, pod.Name)
	}
	if got := info.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pod.UID) {
		t.Errorf("the token is bound to pod uid %v, want %s", got, pod.UID)
	}
	if lifetime := tokenLifetime(t, cfg.BearerToken); lifetime < 6*24*time.Hour || lifetime > 8*24*time.Hour {
		t.Errorf("the token lasts %s, want about a week", lifetime)
	}

	if _, err := operator.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing ConfigMaps without a binding: %v, want forbidden", err)
	}
	bindConfigMapReader(t, client, ns, "bosun-operator")
	eventually(t, "the binding to take effect", func(ctx context.Context) error {
		_, err := operator.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		return err
	})

	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted pod's token to stop working", func(ctx context.Context) error {
		_, err := operator.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return fmt.Errorf("listing with the token of a deleted pod: %v", err)
	})
}

// TestPlayedOperatorWithoutItsServiceAccount checks the error of a pod
// whose ServiceAccount does not exist: the start fails naming the account,
// "default" for a pod that names none.
func TestPlayedOperatorWithoutItsServiceAccount(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ns := testNamespace(t, client, "no-account")
	r := &operatorRole{client: client, config: c.Config()}
	for account, want := range map[string]string{"": "a token of ServiceAccount no-account/default:", "bosun-operator": "a token of ServiceAccount no-account/bosun-operator:"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bosun-operator-1", Namespace: ns, UID: "u"}, Spec: corev1.PodSpec{ServiceAccountName: account}}
		_, _, err := r.args(t.Context(), pod, nil, nil, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ServiceAccount %q: %v, want an error starting %q", account, err, want)
		}
	}
}

// bindConfigMapReader lets the ServiceAccount read ConfigMaps in ns.
func bindConfigMapReader(t *testing.T, client kubernetes.Interface, ns, account string) {
	t.Helper()
	ctx := t.Context()
	if _, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-configmaps"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// tokenLifetime reads a JWT's lifetime from its claims.
func tokenLifetime(t *testing.T, token string) time.Duration {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		IssuedAt int64 `json:"iat"`
		Expiry   int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Duration(claims.Expiry-claims.IssuedAt) * time.Second
}

// TestServiceAccountDefault checks the half of the ServiceAccount admission
// plugin a full cluster gets back (installServiceAccountDefault): a pod that
// names no ServiceAccount is given "default", one that names its own keeps
// it, neither gets a token volume, and installing twice (a restarted box)
// is fine.
func TestServiceAccountDefault(t *testing.T) {
	c := sharedCluster(t)
	client := adminClient(t, c)
	ctx := t.Context()
	for range 2 {
		if err := c.installServiceAccountDefault(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ns := testNamespace(t, client, "service-account-default")
	for name, want := range map[string]string{"": "default", "istiod": "istiod"} {
		pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"},
			Spec: corev1.PodSpec{
				ServiceAccountName: name,
				Containers:         []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pod.Spec.ServiceAccountName != want {
			t.Errorf("a pod naming ServiceAccount %q got %q, want %q", name, pod.Spec.ServiceAccountName, want)
		}
		if len(pod.Spec.Volumes) != 0 {
			t.Errorf("a pod naming ServiceAccount %q got volumes %v", name, pod.Spec.Volumes)
		}
	}
}
