package testcluster

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// configMapVolume is a pod volume of the ConfigMap name.
func configMapVolume(volume, name string, optional *bool, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Optional: optional, Items: items,
	}}}
}

// secretVolume is a pod volume of the Secret name.
func secretVolume(volume, name string, optional *bool) corev1.Volume {
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: name, Optional: optional,
	}}}
}

// tree lists the files under dir (relative, slash-separated) with their
// contents, and the empty directories with a trailing slash.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			entries, err := os.ReadDir(path)
			if err != nil {
				return err
			}
			if len(entries) == 0 && rel != "." {
				out[rel+"/"] = ""
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// istiodObjects are the ConfigMaps and Secret istiod's chart mounts.
var istiodObjects = []*corev1.ConfigMap{
	{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "istio-system"},
		Data:       map[string]string{"mesh": "trustDomain: box.local\n", "meshNetworks": "networks: {}\n"},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector", Namespace: "istio-system"},
		Data:       map[string]string{"config": "policy: enabled\n", "values": `{"global":{}}`},
		BinaryData: map[string][]byte{"blob": {0, 1, 2}},
	},
}

// TestMaterialiseWritesWhereIstiodReads checks the volumes of istiod's
// chart as the player writes them: each ConfigMap key and Secret key is a
// file at its mount path under the pod's directory (so istiod's relative
// paths find them), binary data included, readable by this user only; an
// emptyDir or token volume is an empty directory.
func TestMaterialiseWritesWhereIstiodReads(t *testing.T) {
	cacerts := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cacerts", Namespace: "istio-system"},
		Data:       map[string][]byte{"ca-cert.pem": []byte("CERT"), "ca-key.pem": []byte("KEY")},
	}
	p, _, _ := testPlayer(t, &stubRole{}, istiodObjects[0], istiodObjects[1], cacerts)
	pod := runningPod("istiod-1")
	pod.Spec.Volumes = []corev1.Volume{
		configMapVolume("config-volume", "istio", nil),
		configMapVolume("inject", "istio-sidecar-injector", nil),
		secretVolume("cacerts", "cacerts", ptr.To(true)),
		{Name: "local-certs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "istio-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
	}
	container := corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "config-volume", MountPath: "/etc/istio/config"},
		{Name: "inject", MountPath: "/var/lib/istio/inject", ReadOnly: true},
		{Name: "cacerts", MountPath: "/etc/cacerts"},
		{Name: "local-certs", MountPath: "/var/run/secrets/istio-dns"},
		{Name: "istio-token", MountPath: "/var/run/secrets/tokens"},
	}}
	workDir := t.TempDir()
	if err := p.materialise(t.Context(), pod, container, workDir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"etc/istio/config/mesh":         "trustDomain: box.local\n",
		"etc/istio/config/meshNetworks": "networks: {}\n",
		"var/lib/istio/inject/config":   "policy: enabled\n",
		"var/lib/istio/inject/values":   `{"global":{}}`,
		"var/lib/istio/inject/blob":     "\x00\x01\x02",
		"etc/cacerts/ca-cert.pem":       "CERT",
		"etc/cacerts/ca-key.pem":        "KEY",
		"var/run/secrets/istio-dns/":    "",
		"var/run/secrets/tokens/":       "",
	}
	if got := tree(t, workDir); !maps.Equal(got, want) {
		t.Errorf("materialised files\n got %q\nwant %q", got, want)
	}
	info, err := os.Stat(filepath.Join(workDir, "etc", "cacerts", "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("a Secret's key is written with mode %o, want 600", perm)
	}
}

// TestMaterialiseItemsAndSubPaths checks the two ways a mount picks keys:
// items write only the listed keys, at their paths (subdirectories
// included), and skip listed keys the object lacks; a subPath mount is the
// one key as a file at the mount path itself.
func TestMaterialiseItemsAndSubPaths(t *testing.T) {
	p, _, _ := testPlayer(t, &stubRole{}, istiodObjects[0], istiodObjects[1])
	pod := runningPod("istiod-1")
	pod.Spec.Volumes = []corev1.Volume{
		configMapVolume("picked", "istio-sidecar-injector", nil,
			corev1.KeyToPath{Key: "values", Path: "inject/values.json"},
			corev1.KeyToPath{Key: "absent", Path: "absent"},
		),
		configMapVolume("mesh", "istio", nil),
	}
	container := corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "picked", MountPath: "/picked"},
		{Name: "mesh", MountPath: "/etc/istio/mesh.yaml", SubPath: "mesh"},
	}}
	workDir := t.TempDir()
	if err := p.materialise(t.Context(), pod, container, workDir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"picked/inject/values.json": `{"global":{}}`,
		"etc/istio/mesh.yaml":       "trustDomain: box.local\n",
	}
	if got := tree(t, workDir); !maps.Equal(got, want) {
		t.Errorf("materialised files\n got %q\nwant %q", got, want)
	}
}

// TestMaterialiseMissingObjects checks a mounted ConfigMap or Secret that
// does not exist: an optional one leaves its directory empty, as the
// kubelet does, so istiod without cacerts generates its own CA; a required
// one stops the start, naming the volume.
func TestMaterialiseMissingObjects(t *testing.T) {
	tests := []struct {
		name    string
		volume  corev1.Volume
		wantErr string
	}{
		{name: "optional ConfigMap", volume: configMapVolume("v", "nowhere", ptr.To(true))},
		{name: "optional Secret", volume: secretVolume("v", "nowhere", ptr.To(true))},
		{name: "required ConfigMap", volume: configMapVolume("v", "nowhere", nil), wantErr: "volume v:"},
		{name: "ConfigMap with optional false", volume: configMapVolume("v", "nowhere", ptr.To(false)), wantErr: "volume v:"},
		{name: "required Secret", volume: secretVolume("v", "nowhere", nil), wantErr: "volume v:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := testPlayer(t, &stubRole{})
			pod := runningPod("istiod-1")
			pod.Spec.Volumes = []corev1.Volume{tt.volume}
			container := corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/etc/cacerts"}}}
			workDir := t.TempDir()
			err := p.materialise(t.Context(), pod, container, workDir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "not found") {
					t.Errorf("materialise = %v, want an error naming the volume and saying not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tree(t, workDir); !maps.Equal(got, map[string]string{"etc/cacerts/": ""}) {
				t.Errorf("materialised %q, want only the empty mount directory", got)
			}
		})
	}
}

// TestMaterialiseReadsThePodsNamespace checks that volumes are read from
// the pod's own namespace: a ConfigMap of the same name elsewhere is not
// mounted.
func TestMaterialiseReadsThePodsNamespace(t *testing.T) {
	elsewhere := istiodObjects[0].DeepCopy()
	elsewhere.Namespace = "istio-canary"
	elsewhere.Data = map[string]string{"mesh": "from another namespace"}
	p, _, _ := testPlayer(t, &stubRole{}, istiodObjects[0], elsewhere)
	for ns, want := range map[string]string{"istio-system": "trustDomain: box.local\n", "istio-canary": "from another namespace"} {
		pod := runningPod("istiod-1")
		pod.Namespace = ns
		pod.Spec.Volumes = []corev1.Volume{configMapVolume("config-volume", "istio", nil)}
		container := corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "config-volume", MountPath: "/etc/istio/config"}}}
		workDir := t.TempDir()
		if err := p.materialise(t.Context(), pod, container, workDir); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(workDir, "etc", "istio", "config", "mesh"))
		if err != nil || string(got) != want {
			t.Errorf("pod in %s reads %q, %v; want %q", ns, got, err, want)
		}
	}
}
