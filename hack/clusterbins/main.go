// Command clusterbins builds the programs that internal/testcluster runs as a
// real cluster on one machine: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, plus kubectl and kwok's node and pod stage files.
// Run it from the repository root (this is what `make cluster-bins` does):
//
//	go run ./hack/clusterbins [-download]
//
// Everything is built from Go modules through the module proxy, never
// downloaded as release archives. The programs come from one small module,
// hack/clusterbins/programs, kept apart from bosun's own; the versions are the
// ones its go.mod requires, so bumping a version is a go.mod edit. All six
// are built by one go build, so the packages they share (gRPC, protobuf,
// client-go, OpenTelemetry) are compiled once: on two cores that takes 7 min
// 15 s from an empty build cache, where building etcd, Kubernetes and kwok
// from three modules took 8 min 22 s.
//
// Built together, the programs get the newest version of a shared dependency
// that any of them requires: etcd, for one, is released with gRPC 1.71 and
// runs here with the 1.81 kwok requires. The tests of internal/testcluster and
// the end-to-end suite run against these builds.
//
// The programs' go.mod also requires bosun's versions of the modules both
// use, and make demo builds bosun first with the programs' environment and
// flags (repo.ProgramEnv, repo.ProgramBuildFlags), so that the packages they
// share (k8s.io/api, client-go and 600 more) are in the build cache when the
// programs build.
//
// The output goes to bin/cluster/<kubernetes version>/. Next to every
// program a <name>.version stamp records the module version it was built
// from, the flags and the digest of the module's go.mod and go.sum; a program whose
// stamp matches is skipped, so a second run takes a second, and any change of
// a version in go.mod rebuilds. Later builds reuse Go's build cache.
//
// With -download, nothing is built: the modules the programs need are
// downloaded into the module cache, which make demo does while it compiles
// bosun, so that the build later finds them there.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bosun-mesh/bosun/internal/gomod"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// programsDir is the directory, under the repository root, of the module the
// programs are built in.
var programsDir = filepath.Join("hack", "clusterbins", "programs")

// The modules the programs come from; each program is stamped with the
// version of its own.
const (
	kubeModule = "k8s.io/kubernetes"
	etcdModule = "go.etcd.io/etcd/server/v3"
	kwokModule = "sigs.k8s.io/kwok"
)

// program is one binary to build.
type program struct {
	// name is the file name in the output directory.
	name string
	// pkg is the main package to build.
	pkg string
	// module is the module pkg belongs to.
	module string
}

var programs = []program{
	// etcd's server module has etcd's own main package at its root.
	{name: "etcd", pkg: "go.etcd.io/etcd/server/v3", module: etcdModule},
	{name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", module: kubeModule},
	{name: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", module: kubeModule},
	{name: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler", module: kubeModule},
	// kubectl is not part of the cluster, but it is what a user of
	// `make dev-cluster` reaches for, and it must not be a separate download.
	{name: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl", module: kubeModule},
	// kwok's version is a plain variable that already holds its release
	// number in the module source: it needs no linker flags.
	{name: "kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok", module: kwokModule},
}

// ldflags are the linker flags of every program, given the Kubernetes
// version. Debug information is left out (-s -w), as in Kubernetes' release
// builds: linking is faster, the binaries are about 30% smaller, and nobody
// steps through these programs in a debugger. Stack traces keep their
// symbols.
//
// The version is stamped into the packages Kubernetes keeps it in. Without it
// the API server reports v0.0.0-master, and clients that check the server
// version (kubectl, Helm's kubeVersion constraints) misbehave. kwok links
// client-go too, so its user agent names the same version.
func ldflags(kubeVersion string) string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(kubeVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	flags := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+kubeVersion,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean",
		)
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
	download := flag.Bool("download", false, "only download the modules the programs are built from, build nothing")
	flag.Parse()
	root, err := repo.Root()
	if err == nil {
		if *download {
			err = gomod.Prefetch(filepath.Join(root, programsDir), buildEnv, packages(programs)...)
		} else {
			err = run(root, *out, *force)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster-bins:", err)
		os.Exit(1)
	}
}

func run(root, out string, force bool) error {
	dir := filepath.Join(root, programsDir)
	versions := map[string]gomod.Module{}
	for _, m := range []string{kubeModule, etcdModule, kwokModule} {
		info, err := gomod.Download(dir, m)
		if err != nil {
			return err
		}
		versions[m] = info
	}
	kubeVersion := versions[kubeModule].Version

	// The programs go to a directory named after the Kubernetes version,
	// where internal/testcluster looks for them.
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	bin := filepath.Join(out, kubeVersion)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := build(dir, bin, versions, force); err != nil {
		return err
	}
	if err := copyStages(versions[kwokModule], filepath.Join(bin, stagesDirName), force); err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, bin); err == nil && filepath.IsLocal(rel) {
		bin = rel
	}
	fmt.Printf("cluster-bins: ready in %s\n", bin)
	return nil
}

// stamp is the content of a program's .version file. It names the module
// version, the build and linker flags, and the digest of the programs'
// go.mod and go.sum, which change with any dependency's version or
// replacement, so that a change of any rebuilds.
func stamp(info gomod.Module, kubeVersion, digest string) string {
	return info.Path + " " + info.Version + "\nflags: " + strings.Join(repo.ProgramBuildFlags, " ") +
		"\nldflags: " + ldflags(kubeVersion) + "\nmodule: " + digest + "\n"
}

// moduleDigest is the SHA-256 of dir's go.mod and go.sum.
func moduleDigest(dir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
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

// build builds into bin, in one go build, the programs that are not up to
// date. They are built into a temporary directory and renamed into place, and
// each stamp is written last, so an interrupted build never leaves a program
// that looks finished.
func build(moduleDir, bin string, versions map[string]gomod.Module, force bool) error {
	kubeVersion := versions[kubeModule].Version
	digest, err := moduleDigest(moduleDir)
	if err != nil {
		return err
	}
	var stale []program
	for _, p := range programs {
		info := versions[p.module]
		if !force && upToDate(filepath.Join(bin, p.name), stamp(info, kubeVersion, digest)) {
			fmt.Printf("cluster-bins: %s %s is up to date\n", p.name, info.Version)
			continue
		}
		fmt.Printf("cluster-bins: building %s %s\n", p.name, info.Version)
		stale = append(stale, p)
	}
	if len(stale) == 0 {
		return nil
	}
	fmt.Printf("cluster-bins: building %d programs in one go build (from an empty build cache about 7 minutes on two cores)\n", len(stale))
	start := time.Now()
	tmp, err := os.MkdirTemp(bin, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// With several packages, -o names a directory and each binary is named
	// as go build names it; with one, -o names the binary.
	target := tmp + string(filepath.Separator)
	if len(stale) == 1 {
		target = filepath.Join(tmp, goBinaryName(stale[0].pkg))
	}
	args := append([]string{"build"}, repo.ProgramBuildFlags...)
	args = append(args, "-ldflags", ldflags(kubeVersion), "-o", target)
	cmd := goCommand(moduleDir, append(args, packages(stale)...)...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", strings.Join(packages(stale), " "), err)
	}
	for _, p := range stale {
		target := filepath.Join(bin, p.name)
		os.Remove(target + ".version")
		if err := os.Rename(filepath.Join(tmp, goBinaryName(p.pkg)), target); err != nil {
			return err
		}
		if err := os.WriteFile(target+".version", []byte(stamp(versions[p.module], kubeVersion, digest)), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("cluster-bins: built %d programs in %s\n", len(stale), time.Since(start).Round(time.Second))
	return nil
}

// majorVersion matches the /vN suffix of a module path from v2 on.
var majorVersion = regexp.MustCompile(`^v([2-9]|[1-9][0-9]+)$`)

// goBinaryName is the file name go build gives the program of main package
// pkg: its last path element, or the one before when that is a major version
// suffix (go.etcd.io/etcd/server/v3 builds "server").
func goBinaryName(pkg string) string {
	name := path.Base(pkg)
	if majorVersion.MatchString(name) {
		name = path.Base(path.Dir(pkg))
	}
	return name
}

func packages(ps []program) []string {
	pkgs := make([]string, len(ps))
	for i, p := range ps {
		pkgs[i] = p.pkg
	}
	return pkgs
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

// buildEnv is added to the go command's environment: the programs' own
// (repo.ProgramEnv), and GOWORK=off, which keeps a go.work file elsewhere in
// the tree from pulling bosun's module into the build.
var buildEnv = append([]string{"GOWORK=off"}, repo.ProgramEnv...)

// goCommand runs the go command in the programs' module.
func goCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv...)
	return cmd
}
