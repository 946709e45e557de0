package testcluster

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// fieldPod is a pod with every field the downward API can give a played
// process.
func fieldPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "istiod-7d9f", Namespace: "istio-system", UID: types.UID("0f1e"),
			Labels:      map[string]string{"app": "istiod", "istio.io/rev": "canary"},
			Annotations: map[string]string{"sidecar.istio.io/inject": "false"},
		},
		Spec:   corev1.PodSpec{ServiceAccountName: "istiod", NodeName: "kwok-node-0"},
		Status: corev1.PodStatus{PodIP: "10.244.0.7", HostIP: "172.18.0.1"},
	}
}

// TestPodField checks every downward-API field a played process may read
// (istiod's chart reads several), and that any other is reported as
// unsupported rather than given as empty.
func TestPodField(t *testing.T) {
	pod := fieldPod()
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"metadata.name", "istiod-7d9f", true},
		{"metadata.namespace", "istio-system", true},
		{"metadata.uid", "0f1e", true},
		{"spec.serviceAccountName", "istiod", true},
		{"spec.nodeName", "kwok-node-0", true},
		{"status.podIP", "10.244.0.7", true},
		{"status.hostIP", "172.18.0.1", true},
		{"metadata.labels['istio.io/rev']", "canary", true},
		{"metadata.labels['app']", "istiod", true},
		{"metadata.labels['missing']", "", true},
		{"metadata.annotations['sidecar.istio.io/inject']", "false", true},
		{"metadata.annotations['missing']", "", true},
		{"metadata.labels", "", false},
		{"metadata.labels['unclosed", "", false},
		{"status.podIPs", "", false},
		{"spec.nodename", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := podField(pod, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("podField(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

// TestEnvIsTheKubelets checks a played process's environment as the
// kubelet would build it: literal values, downward-API fields, ConfigMap and
// Secret keys (an optional one that is missing is left out), resource
// fields left out (a fake node's capacity is not this machine's), and last
// the role's kubeconfig and the pod's name and namespace, which override
// anything before them.
func TestEnvIsTheKubelets(t *testing.T) {
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "istio-system"},
		Data:       map[string]string{"mesh": "trustDomain: box.local"},
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "istio-system"},
		Data:       map[string][]byte{"token": []byte("s3cret")},
	}
	p, _, _ := testPlayer(t, &stubRole{}, cm, secret)
	container := corev1.Container{Env: []corev1.EnvVar{
		{Name: "REVISION", Value: "canary"},
		{Name: "EMPTY"},
		{Name: "POD_IP", ValueFrom: field("status.podIP")},
		{Name: "SERVICE_ACCOUNT", ValueFrom: field("spec.serviceAccountName")},
		{Name: "MESH", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "istio"}, Key: "mesh",
		}}},
		{Name: "OPTIONAL_CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nowhere"}, Key: "k", Optional: ptr.To(true),
		}}},
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token",
		}}},
		{Name: "OPTIONAL_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nowhere"}, Key: "k", Optional: ptr.To(true),
		}}},
		{Name: "GOMAXPROCS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
			Resource: "limits.cpu", Divisor: resource.MustParse("1"),
		}}},
		{Name: "KUBECONFIG", Value: "/var/run/secrets/remote/config"},
		{Name: "POD_NAME", Value: "overridden"},
	}}
	env, err := p.env(t.Context(), fieldPod(), container, "/box/kubeconfig")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"REVISION=canary",
		"EMPTY=",
		"POD_IP=10.244.0.7",
		"SERVICE_ACCOUNT=istiod",
		"MESH=trustDomain: box.local",
		"TOKEN=s3cret",
		"KUBECONFIG=/var/run/secrets/remote/config",
		"POD_NAME=overridden",
		"KUBECONFIG=/box/kubeconfig",
		"POD_NAME=istiod-7d9f",
		"POD_NAMESPACE=istio-system",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env\n got %q\nwant %q", env, want)
	}
	// exec gives a process the last value of a repeated name.
	last := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		last[k] = v
	}
	if last["KUBECONFIG"] != "/box/kubeconfig" || last["POD_NAME"] != "istiod-7d9f" {
		t.Errorf("the process sees KUBECONFIG=%q POD_NAME=%q; want the box's kubeconfig and the pod's name", last["KUBECONFIG"], last["POD_NAME"])
	}
}

// TestEnvRefusesWhatTheKubeletRefuses checks that a process is not started
// with an environment the kubelet would refuse to build: a required
// ConfigMap or Secret that is missing, or a field the box cannot give; each
// error names the variable.
func TestEnvRefusesWhatTheKubeletRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  corev1.EnvVar
		want string
	}{
		{
			name: "missing ConfigMap",
			env: corev1.EnvVar{Name: "MESH", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "nowhere"}, Key: "mesh",
			}}},
			want: "env MESH:",
		},
		{
			name: "missing ConfigMap, optional false",
			env: corev1.EnvVar{Name: "MESH", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "nowhere"}, Key: "mesh", Optional: ptr.To(false),
			}}},
			want: "env MESH:",
		},
		{
			name: "missing Secret",
			env: corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "nowhere"}, Key: "token",
			}}},
			want: "env TOKEN:",
		},
		{
			name: "unsupported field",
			env:  corev1.EnvVar{Name: "IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
			want: "env IPS: field status.podIPs is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := testPlayer(t, &stubRole{})
			_, err := p.env(t.Context(), fieldPod(), corev1.Container{Env: []corev1.EnvVar{tt.env}}, "/box/kubeconfig")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("env = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
