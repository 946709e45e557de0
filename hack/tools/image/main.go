// Command image builds bosun's operator image without a container engine: an OCI image layout (a
// directory any registry client can push, e.g. `crane push bin/image <ref>` or `skopeo copy
// oci:bin/image docker://<ref>`) holding the static bosun-operator binary, Istio's charts and profiles of every
// fetched catalog version, and a non-root user. Its layers are reproducible: files carry no time and
// the image no creation date, so the same inputs give the same digest.
//
// It lives in the tools module so that go-containerregistry never becomes a dependency of bosun.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// operatorBinary is the image's program, bosun's operator (cmd/bosun-operator), at the root of the
// file system.
const operatorBinary = "bosun-operator"

// The user the operator runs as: not root, and the same number the chart's securityContext names.
const uid = 65532

func main() {
	binary := flag.String("binary", "", "the static bosun-operator binary (linux)")
	resources := flag.String("resources", "", "the fetched charts: <version>/charts and <version>/profiles")
	out := flag.String("out", "", "the OCI layout directory to write (replaced)")
	ref := flag.String("ref", "", "the image's name, such as ghcr.io/bosun-mesh/bosun:0.1.0")
	arch := flag.String("arch", runtime.GOARCH, "the architecture the binary was built for")
	flag.Parse()
	if err := build(*binary, *resources, *out, *ref, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(binary, resources, out, ref, arch string) error {
	if binary == "" || resources == "" || out == "" || ref == "" {
		return fmt.Errorf("-binary, -resources, -out and -ref are required")
	}
	base, err := filesLayer(map[string]file{
		"etc/passwd": {data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nbosun:x:%d:%d:bosun:/nonexistent:/sbin/nologin\n", uid, uid)), mode: 0o644},
		"etc/group":  {data: []byte(fmt.Sprintf("root:x:0:\nbosun:x:%d:\n", uid)), mode: 0o644},
		"tmp/":       {mode: 0o1777},
	})
	if err != nil {
		return err
	}
	charts, err := treeLayer(resources, "resources")
	if err != nil {
		return err
	}
	exe, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	program, err := filesLayer(map[string]file{operatorBinary: {data: exe, mode: 0o755}})
	if err != nil {
		return err
	}
	// The binary changes most often: its layer goes last, so pushes of a new build reuse the others.
	img, err := mutate.AppendLayers(empty.Image, base, charts, program)
	if err != nil {
		return err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	// The operator is the program: the chart's Deployment gives it only flags.
	cfg.Config.Entrypoint = []string{"/" + operatorBinary}
	cfg.Config.Cmd = nil
	cfg.Config.User = fmt.Sprintf("%d:%d", uid, uid)
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"BOSUN_RESOURCES=/resources"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "bosun",
		"org.opencontainers.image.description": "bosun installs, upgrades and retires Istio service meshes (sailoperator.io/v1)",
		"org.opencontainers.image.ref.name":    ref,
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: time.Unix(0, 0).UTC()}); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := imageSize(img)
	if err != nil {
		return err
	}
	fmt.Printf("image: %s (%s) in %s: %.1f MB compressed\n", ref, digest, out, float64(size)/1e6)
	return nil
}

// imageSize is the sum of the image's compressed layers: what a registry stores and a node pulls.
func imageSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		total += s
	}
	return total, nil
}

type file struct {
	data []byte
	mode int64
}

// filesLayer is a layer of the given files (a name ending in / is a directory), root-owned, without
// times, in name order.
func filesLayer(files map[string]file) (v1.Layer, error) {
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range names {
		if err := parents(tw, dirs, name); err != nil {
			return nil, err
		}
		f := files[name]
		hdr := &tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
			dirs[name] = true
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
}

// parents writes the directories above name that are not written yet.
func parents(tw *tar.Writer, dirs map[string]bool, name string) error {
	dir := path.Dir(strings.TrimSuffix(name, "/"))
	if dir == "." || dirs[dir+"/"] {
		return nil
	}
	if err := parents(tw, dirs, dir+"/"); err != nil {
		return err
	}
	dirs[dir+"/"] = true
	return tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatPAX})
}

// treeLayer is a layer of every file under root, placed under prefix, read-only for everyone.
func treeLayer(root, prefix string) (v1.Layer, error) {
	files := map[string]file{prefix + "/": {mode: 0o755}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		name := prefix + "/" + filepath.ToSlash(rel)
		if d.IsDir() {
			files[name+"/"] = file{mode: 0o755}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[name] = file{data: data, mode: 0o644}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return filesLayer(files)
}
