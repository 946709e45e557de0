package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestManifest: each archive becomes a platform of the plugin, with its address and the SHA-256 krew
// checks; other files are left out; without archives, the manifest is refused with what to do.
func TestManifest(t *testing.T) {
	dist := t.TempDir()
	for name, data := range map[string]string{
		"kubectl-bosun_linux_amd64.tar.gz":  "linux archive",
		"kubectl-bosun_darwin_arm64.tar.gz": "darwin archive",
		"checksums.txt":                     "not an archive",
	} {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := Manifest("v0.1.0", "https://example.com/download/v0.1.0", dist)
	if err != nil {
		t.Fatal(err)
	}
	var plugin struct {
		Kind string
		Spec struct {
			Version   string
			Platforms []struct {
				Selector struct{ MatchLabels map[string]string } `json:"selector"`
				URI      string
				Sha256   string
				Bin      string
			}
		}
	}
	if err := yaml.Unmarshal(out, &plugin); err != nil {
		t.Fatal(err)
	}
	if plugin.Kind != "Plugin" || plugin.Spec.Version != "v0.1.0" || len(plugin.Spec.Platforms) != 2 {
		t.Fatalf("manifest:\n%s", out)
	}
	linux := plugin.Spec.Platforms[1]
	sum := sha256.Sum256([]byte("linux archive"))
	if linux.URI != "https://example.com/download/v0.1.0/kubectl-bosun_linux_amd64.tar.gz" || linux.Sha256 != hex.EncodeToString(sum[:]) ||
		linux.Selector.MatchLabels["os"] != "linux" || linux.Selector.MatchLabels["arch"] != "amd64" || linux.Bin != "kubectl-bosun" {
		t.Errorf("linux platform %+v", linux)
	}
	if _, err := Manifest("v0.1.0", "https://example.com", t.TempDir()); err == nil || !strings.Contains(err.Error(), "run make krew") {
		t.Errorf("without archives: %v", err)
	}
}
