// Command istiodbins builds pilot-discovery, istiod's program, for each
// version of bosun's built-in catalog, so that the cluster in a box
// (internal/testcluster) runs a real istiod for every istiod pod. Run it from
// the repository root (this is what `make istiod-bins`, part of
// `make cluster-bins`, does):
//
//	go run ./hack/istiodbins
//
// Each version is built from the istio.io/istio module version its catalog
// entry names, in a throw-away module in a temporary directory, so bosun's
// go.mod never gains Istio's dependencies. That module requires istio.io/istio
// and starts from Istio's own go.sum, so the pseudo-versions Istio pins are
// checked against the sums Istio recorded rather than looked up in the
// checksum database, which does not know some of them. Where the module proxy
// does not serve a version Istio pins, a replacement below names one it
// serves.
//
// The output is bin/istiod/<catalog version>/pilot-discovery, with a
// pilot-discovery.version stamp; a build whose stamp matches is skipped. A
// version that cannot be built is reported once, with the reason, and the
// reason is kept in pilot-discovery.failed, so later runs report it again
// without retrying (remove that file, or pass -force, to retry). Its istiod
// pods stay fake in the box. Builds reuse Go's build cache.
//
// With -download, nothing is built: the modules pilot-discovery needs are
// downloaded into the module cache, which make demo does for the catalog's
// default version (-version default) while it compiles bosun.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/gomod"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// pkg is the main package of pilot-discovery.
const pkg = "istio.io/istio/pilot/cmd/pilot-discovery"

// replacements are replace directives for the throw-away module, by
// istio.io/istio module version: modules that commit pins at
// pseudo-versions the module proxy does not serve, replaced by the nearest
// versions it does.
var replacements = map[string][]string{
	// release-1.27, April 2026 (v1.27.0-snapshot.b9159ca3): the proxy
	// serves istio.io/api's v1.27.8 and no client-go after v1.27.3.
	"v0.0.0-20260403063052-b9159ca3e5d5": {
		"istio.io/api=istio.io/api@v1.27.8",
		"istio.io/client-go=istio.io/client-go@v1.27.3",
	},
	// master, August 2026 (v1.31.0-snapshot.eed52ebb).
	"v0.0.0-20260827124520-eed52ebb66ad": {
		"istio.io/api=istio.io/api@v1.31.1",
		"istio.io/client-go=istio.io/client-go@v1.31.1",
		"github.com/envoyproxy/go-control-plane/envoy=github.com/envoyproxy/go-control-plane/envoy@v1.40.0",
		"github.com/envoyproxy/go-control-plane/contrib=github.com/envoyproxy/go-control-plane/contrib@v1.36.1-0.20260729145720-a2d8c7492908",
	},
}

func main() {
	out := flag.String("out", "bin/istiod", "output directory, relative to the repository root; builds go to <out>/<catalog version>/")
	force := flag.Bool("force", false, "rebuild every version, and retry those that failed before")
	only := flag.String("version", "", "build only these catalog versions (comma-separated names or aliases; \"default\" is the catalog's default)")
	download := flag.Bool("download", false, "only download the modules the versions' pilot-discovery needs, build nothing")
	flag.Parse()
	if err := run(*out, *only, *force, *download); err != nil {
		fmt.Fprintln(os.Stderr, "istiod-bins:", err)
		os.Exit(1)
	}
}

func run(out, only string, force, download bool) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	cat, err := catalog.Load(filepath.Join(root, "internal", "catalog", "versions.yaml"))
	if err != nil {
		return err
	}
	versions, err := selected(cat, only)
	if err != nil {
		return err
	}
	if download {
		for _, v := range versions {
			work, err := prepare(v.Module, v.ModuleVersion)
			os.RemoveAll(work)
			if err != nil {
				return fmt.Errorf("%s: %w", v.Name, err)
			}
		}
		return nil
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	built, failed := 0, 0
	for _, v := range versions {
		if err := build(out, v.Name, v.Module, v.ModuleVersion, force); err != nil {
			failed++
			fmt.Printf("istiod-bins: %s cannot be built; its istiod stays fake in the box: %v\n", v.Name, err)
			continue
		}
		built++
	}
	fmt.Printf("istiod-bins: %d version(s) ready in %s, %d cannot be built\n", built, out, failed)
	return nil
}

// selected are the catalog versions only names (all when it is empty) that
// come from a Go module; the others have no pilot-discovery to build.
func selected(cat *catalog.Catalog, only string) ([]catalog.Version, error) {
	if only == "" {
		return slices.DeleteFunc(cat.Versions(), func(v catalog.Version) bool { return v.Module == "" }), nil
	}
	var versions []catalog.Version
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "default" {
			name = cat.Default()
		}
		v, err := cat.Resolve(name)
		if err != nil {
			return nil, fmt.Errorf("-version %s: not in the catalog; give names or aliases of %s, or default", name, strings.Join(cat.Names(), ", "))
		}
		if v.Module != "" && !slices.ContainsFunc(versions, func(w catalog.Version) bool { return w.Name == v.Name }) {
			versions = append(versions, v)
		}
	}
	return versions, nil
}

// stamp names what a build is made of, so that a change of any part
// rebuilds.
func stamp(module, version string) string {
	return fmt.Sprintf("%s %s\nreplace: %s\ngcflags: %s\nldflags: %s\n", module, version, strings.Join(replacements[version], " "), repo.ProgramGCFlags, ldflags())
}

// ldflags leave out debug information, as the cluster's other programs do.
func ldflags() string { return "-s -w" }

// build builds pilot-discovery of module@version for catalog version name
// into out, unless the stamp there says it is up to date or that it failed
// before.
func build(out, name, module, version string, force bool) error {
	binary := repo.PilotDiscovery(out, name)
	dir := filepath.Dir(binary)
	want := stamp(module, version)
	if !force {
		if got, err := os.ReadFile(binary + ".version"); err == nil && string(got) == want {
			if _, err := os.Stat(binary); err == nil {
				fmt.Printf("istiod-bins: pilot-discovery %s is up to date\n", name)
				return nil
			}
		}
		if got, err := os.ReadFile(binary + ".failed"); err == nil {
			stampPart, reason, _ := strings.Cut(string(got), "\n---\n")
			if stampPart == want {
				return fmt.Errorf("%s (from an earlier run; remove %s to retry)", strings.TrimSpace(reason), binary+".failed")
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("istiod-bins: building pilot-discovery %s from %s@%s (first time: several minutes)…\n", name, module, version)
	start := time.Now()
	err := compile(binary, module, version)
	if err != nil {
		record := want + "\n---\n" + err.Error() + "\n"
		_ = os.WriteFile(binary+".failed", []byte(record), 0o644)
		return err
	}
	os.Remove(binary + ".failed")
	if err := os.WriteFile(binary+".version", []byte(want), 0o644); err != nil {
		return err
	}
	fmt.Printf("istiod-bins: built pilot-discovery %s in %s\n", name, time.Since(start).Round(time.Second))
	return nil
}

// compile builds pilot-discovery of module@version into binary, in the
// throw-away module prepare lays out. Its error is one line: the go
// command's first error, not its whole output.
func compile(binary, module, version string) error {
	work, err := prepare(module, version)
	defer os.RemoveAll(work)
	if err != nil {
		return err
	}
	tmp := binary + ".tmp"
	defer os.Remove(tmp)
	args := append([]string{"build"}, repo.ProgramBuildFlags...)
	if err := goRun(work, append(args, "-ldflags", ldflags(), "-o", tmp, pkg)...); err != nil {
		return err
	}
	return os.Rename(tmp, binary)
}

// prepare lays out the throw-away module that builds pilot-discovery of
// module@version in a new temporary directory, which it returns for the
// caller to remove ("" if it made none), and downloads every module the
// build needs.
func prepare(module, version string) (string, error) {
	istio, err := gomod.Download("", module+"@"+version)
	if err != nil {
		return "", err
	}
	istioMod, err := os.ReadFile(filepath.Join(istio.Dir, "go.mod"))
	if err != nil {
		return "", err
	}
	goVersion := "1.24"
	for line := range strings.Lines(string(istioMod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			goVersion = f[1]
		}
	}
	work, err := os.MkdirTemp("", "bosun-istiod-build-")
	if err != nil {
		return "", err
	}
	goMod := fmt.Sprintf("module bosun.local/istiod-build\n\ngo %s\n\nrequire %s %s\n", goVersion, module, version)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goMod), 0o644); err != nil {
		return work, err
	}
	sums, err := os.ReadFile(filepath.Join(istio.Dir, "go.sum"))
	if err != nil {
		return work, err
	}
	if err := os.WriteFile(filepath.Join(work, "go.sum"), sums, 0o644); err != nil {
		return work, err
	}
	// A blank import makes `go mod tidy` resolve exactly pilot-discovery's
	// dependencies.
	tools := "//go:build tools\n\npackage tools\n\nimport _ \"" + pkg + "\"\n"
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(tools), 0o644); err != nil {
		return work, err
	}
	for _, r := range replacements[version] {
		if err := goRun(work, "mod", "edit", "-replace", r); err != nil {
			return work, err
		}
	}
	return work, goRun(work, "mod", "tidy")
}

// goRun runs the go command in the throw-away module, outside any workspace,
// with cgo off as for the cluster's other programs. Its output is shown only
// when it fails, reduced to the lines that say why.
func goRun(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), repo.ProgramEnv...), "GOWORK=off", "GOFLAGS=-mod=mod")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", args[0], err, gomod.Reason(output.String()))
	}
	return nil
}
