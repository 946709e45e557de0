// Command clusterbins builds the programs that internal/testcluster runs as a
// real cluster on one machine: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, plus kwok's node and pod stage files. Run it from
// the repository root (this is what `make cluster-bins` does):
//
//	go run ./hack/clusterbins
//
// Everything is built from Go modules through the module proxy, never
// downloaded as release archives. Each program comes from its own small
// module under hack/clusterbins (kube/, etcd/, kwok/), because their
// dependency graphs conflict with each other and with bosun's; the versions
// are the ones those go.mod files require, so bumping a version is a go.mod
// edit.
//
// The output goes to bin/cluster/<kubernetes version>/. Next to every
// program a <name>.version stamp records the module version it was built
// from; a program whose stamp matches is skipped, so a second run takes a
// second and a version bump rebuilds only what changed. The first run takes
// several minutes on a small machine; later builds reuse Go's build cache.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bosun-mesh/bosun/internal/gomod"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// module is one of the nested modules under hack/clusterbins and the
// programs built from it.
type module struct {
	// dir is the module's directory under hack/clusterbins.
	dir string
	// path is the module whose version the programs report and are stamped with.
	path string
	// programs are built together, in one go build, so that the packages
	// they share are compiled once and one program links while the next
	// compiles.
	programs []program
	// versionFlags returns linker flags that stamp the version into the
	// programs, or nil if they need none.
	versionFlags func(version string) []string
}

// program is one binary to build.
type program struct {
	// name is the file name in the output directory. When a module has
	// several programs it must be the last element of pkg, the name go
	// build gives the binary.
	name string
	// pkg is the main package to build.
	pkg string
}

var modules = []module{
	{
		dir: "etcd", path: "go.etcd.io/etcd/server/v3",
		// etcd's server module has etcd's own main package at its root.
		programs: []program{{name: "etcd", pkg: "go.etcd.io/etcd/server/v3"}},
	},
	{
		dir: "kube", path: "k8s.io/kubernetes",
		programs: []program{
			{name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver"},
			{name: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager"},
			{name: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler"},
			// kubectl is not part of the cluster, but it is what a user of
			// `make dev-cluster` reaches for, and it must not be a separate
			// download.
			{name: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl"},
		},
		versionFlags: kubeVersionFlags,
	},
	{
		dir: "kwok", path: "sigs.k8s.io/kwok",
		// kwok's version is a plain variable that already holds its
		// release number in the module source: no linker flags needed.
		programs: []program{{name: "kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok"}},
	},
}

// kubeVersionFlags stamps the Kubernetes version into programs built from
// k8s.io/kubernetes. Without it the API server reports v0.0.0-master, and
// clients that check the server version (kubectl, Helm's kubeVersion
// constraints) misbehave.
func kubeVersionFlags(version string) []string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean",
		)
	}
	return flags
}

// ldflags are the linker flags for m at version. Debug information is left
// out (-s -w), as in Kubernetes' release builds: linking is faster, the
// binaries are about 30% smaller, and nobody steps through these programs
// in a debugger. Stack traces keep their symbols.
func (m module) ldflags(version string) string {
	flags := []string{"-s", "-w"}
	if m.versionFlags != nil {
		flags = append(flags, m.versionFlags(version)...)
	}
	return strings.Join(flags, " ")
}

// stageDirs are the kwok stage sets that make fake nodes and pods behave like
// real ones, as kwok's own "fast" kustomization combines them: nodes become
// Ready at once and keep their lease fresh (so the node lifecycle controller
// does not mark them unreachable), pods become Ready and complete or delete
// without delay.
var stageDirs = []string{
	"kustomize/stage/node/fast",
	"kustomize/stage/node/heartbeat-with-lease",
	"kustomize/stage/pod/fast",
}

// stagesDirName is the directory, next to the programs, that holds kwok's
// stage files.
const stagesDirName = "kwok-stages"

func main() {
	out := flag.String("out", "bin/cluster", "output directory, relative to the repository root; programs go to <out>/<kubernetes version>/")
	force := flag.Bool("force", false, "rebuild even programs whose stamp matches")
	flag.Parse()
	if err := run(*out, *force); err != nil {
		fmt.Fprintln(os.Stderr, "cluster-bins:", err)
		os.Exit(1)
	}
}

func run(out string, force bool) error {
	root, err := testcluster.RepoRoot()
	if err != nil {
		return err
	}
	moduleDir := func(m module) string { return filepath.Join(root, "hack", "clusterbins", m.dir) }

	// The programs go to a directory named after the Kubernetes version,
	// where internal/testcluster looks for them.
	versions := map[string]gomod.Module{}
	for _, m := range modules {
		if versions[m.dir], err = gomod.Download(moduleDir(m), m.path); err != nil {
			return err
		}
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	dir := filepath.Join(out, versions["kube"].Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// One module at a time: go build already keeps every core busy, and
	// building the modules side by side was measured slower on two cores.
	for _, m := range modules {
		if err := buildModule(moduleDir(m), dir, m, versions[m.dir], force); err != nil {
			return err
		}
	}
	if err := copyStages(versions["kwok"], filepath.Join(dir, stagesDirName), force); err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, dir); err == nil && filepath.IsLocal(rel) {
		dir = rel
	}
	fmt.Printf("cluster-bins: ready in %s\n", dir)
	return nil
}

// stamp is the content of a program's .version file. It names the module
// version and the compiler and linker flags, so that a change of any rebuilds.
func stamp(m module, info gomod.Module) string {
	return info.Path + " " + info.Version + "\ngcflags: " + testcluster.ProgramGCFlags + "\nldflags: " + m.ldflags(info.Version) + "\n"
}

// upToDate reports whether path exists and its stamp file says it was built
// from want.
func upToDate(path, want string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	got, err := os.ReadFile(path + ".version")
	return err == nil && string(got) == want
}

// buildModule builds into dir the programs of m that are not up to date.
// They are built into a temporary directory and renamed into place, and each
// stamp is written last, so an interrupted build never leaves a program that
// looks finished.
func buildModule(moduleDir, dir string, m module, info gomod.Module, force bool) error {
	want := stamp(m, info)
	var stale []program
	for _, p := range m.programs {
		if !force && upToDate(filepath.Join(dir, p.name), want) {
			fmt.Printf("cluster-bins: %s %s is up to date\n", p.name, info.Version)
			continue
		}
		fmt.Printf("cluster-bins: building %s %s (first time takes several minutes)…\n", p.name, info.Version)
		stale = append(stale, p)
	}
	if len(stale) == 0 {
		return nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := []string{"build", "-trimpath", "-gcflags", testcluster.ProgramGCFlags, "-ldflags", m.ldflags(info.Version)}
	if len(stale) == 1 {
		args = append(args, "-o", filepath.Join(tmp, stale[0].name), stale[0].pkg)
	} else {
		// With several packages, -o names a directory and each binary is
		// named after its package.
		args = append(args, "-o", tmp+string(filepath.Separator))
		for _, p := range stale {
			if path.Base(p.pkg) != p.name {
				return fmt.Errorf("program %s: built together with others, its name must be the last element of %s", p.name, p.pkg)
			}
			args = append(args, p.pkg)
		}
	}
	cmd := goCommand(moduleDir, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s %s: %w", m.path, info.Version, err)
	}
	for _, p := range stale {
		target := filepath.Join(dir, p.name)
		os.Remove(target + ".version")
		if err := os.Rename(filepath.Join(tmp, p.name), target); err != nil {
			return err
		}
		if err := os.WriteFile(target+".version", []byte(want), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("cluster-bins: built %s %s in %s\n", m.path, info.Version, time.Since(start).Round(time.Second))
	return nil
}

// copyStages copies the stage YAML files of stageDirs from kwok's module
// source into dst, replacing what was there when kwok's version changed.
// Kustomization files are left out: kwok reads plain Stage documents.
func copyStages(kwok gomod.Module, dst string, force bool) error {
	want := kwok.Path + " " + kwok.Version + "\n"
	if !force && upToDate(dst, want) {
		return nil
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, d := range stageDirs {
		entries, err := os.ReadDir(filepath.Join(kwok.Dir, d))
		if err != nil {
			return fmt.Errorf("kwok %s: %w", kwok.Version, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == "kustomization.yaml" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(kwok.Dir, d, e.Name()))
			if err != nil {
				return err
			}
			// Files in the module cache are read-only; the copies need not be.
			if err := os.WriteFile(filepath.Join(dst, e.Name()), data, fs.FileMode(0o644)); err != nil {
				return err
			}
		}
	}
	fmt.Printf("cluster-bins: copied kwok %s stages\n", kwok.Version)
	return os.WriteFile(dst+".version", []byte(want), 0o644)
}

// goCommand runs the go command inside one nested module. GOWORK=off keeps a
// go.work file elsewhere in the tree from pulling bosun's module into the
// build; CGO_ENABLED=0 gives static binaries, as Kubernetes' own release
// builds of these programs are, and needs no C toolchain.
func goCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	return cmd
}
