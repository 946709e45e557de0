package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImage builds an image from a stand-in binary and charts twice and reads it back as a registry
// client would: one image named by ref, running /bosun-operator as the non-root user, with the charts
// under /resources, and the same digest both times.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "bosun-operator")
	resources := filepath.Join(dir, "resources")
	must(t, os.WriteFile(binary, []byte("#!/bin/false\n"), 0o755))
	must(t, os.MkdirAll(filepath.Join(resources, "v1.27.0", "charts", "istiod"), 0o755))
	must(t, os.WriteFile(filepath.Join(resources, "v1.27.0", "charts", "istiod", "Chart.yaml"), []byte("name: istiod\n"), 0o644))

	var digests []string
	for i := range 2 {
		out := filepath.Join(dir, "image", string(rune('a'+i)))
		must(t, build(binary, resources, out, "example.com/bosun:1.0", "amd64"))
		p, err := layout.FromPath(out)
		must(t, err)
		index, err := p.ImageIndex()
		must(t, err)
		manifest, err := index.IndexManifest()
		must(t, err)
		if len(manifest.Manifests) != 1 || manifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "example.com/bosun:1.0" {
			t.Fatalf("the layout's index names %+v, want one image named example.com/bosun:1.0", manifest.Manifests)
		}
		digests = append(digests, manifest.Manifests[0].Digest.String())
		img, err := p.Image(manifest.Manifests[0].Digest)
		must(t, err)
		cfg, err := img.ConfigFile()
		must(t, err)
		if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/bosun-operator" || len(cfg.Config.Cmd) != 0 {
			t.Errorf("config: user %q, entrypoint %q, cmd %q; want 65532:65532 running /bosun-operator with the Deployment's flags alone", cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Cmd)
		}
		files := map[string]int64{}
		tr := tar.NewReader(mutate.Extract(img))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(t, err)
			files[hdr.Name] = hdr.Mode
		}
		for name, mode := range map[string]int64{"bosun-operator": 0o755, "resources/v1.27.0/charts/istiod/Chart.yaml": 0o644, "etc/passwd": 0o644} {
			if got, ok := files[name]; !ok || got != mode {
				t.Errorf("%s: present %v, mode %o; want mode %o", name, ok, got, mode)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same inputs gave %s and %s", digests[0], digests[1])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
