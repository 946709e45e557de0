package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/bosun-mesh/bosun/internal/gomod"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestGoBinaryName: the programs are built together, so each is found under the name go build gives
// it before it is renamed; etcd's main package is a module root with a major version suffix.
func TestGoBinaryName(t *testing.T) {
	for pkg, want := range map[string]string{
		"go.etcd.io/etcd/server/v3":            "server",
		"k8s.io/kubernetes/cmd/kube-apiserver": "kube-apiserver",
		"sigs.k8s.io/kwok/cmd/kwok":            "kwok",
		"example.com/tool/v2beta":              "v2beta",
		"example.com/v1":                       "v1",
		"example.com/tool/v10":                 "tool",
	} {
		if got := goBinaryName(pkg); got != want {
			t.Errorf("goBinaryName(%q) = %q, want %q", pkg, got, want)
		}
	}
}

// TestLdflagsStampTheKubernetesVersion: without them the API server reports v0.0.0-master.
func TestLdflagsStampTheKubernetesVersion(t *testing.T) {
	flags := ldflags("v1.36.3")
	for _, want := range []string{"-s -w ", "k8s.io/component-base/version.gitVersion=v1.36.3", "k8s.io/component-base/version.gitMajor=1 ",
		"k8s.io/component-base/version.gitMinor=36 ", "k8s.io/client-go/pkg/version.gitVersion=v1.36.3"} {
		if !strings.Contains(flags+" ", want) {
			t.Errorf("ldflags(v1.36.3) = %q, want it to contain %q", flags, want)
		}
	}
}

// TestStampsChangeWithTheModule: a dependency bump (go.sum) or a replacement (go.mod alone) must
// rebuild the programs, and so must another Kubernetes version.
func TestStampsChangeWithTheModule(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	etcd := gomod.Module{Path: etcdModule, Version: "v3.6.8"}
	stampNow := func() string {
		t.Helper()
		digest, err := moduleDigest(dir)
		if err != nil {
			t.Fatal(err)
		}
		return stamp(etcd, "v1.36.3", digest)
	}
	write("go.mod", "module example.com/programs\n")
	write("go.sum", "example.com/a v1.0.0 h1:x\n")
	first := stampNow()
	write("go.sum", "example.com/a v1.0.1 h1:y\n")
	second := stampNow()
	write("go.mod", "module example.com/programs\n\nreplace example.com/a => example.com/b v1.0.0\n")
	third := stampNow()
	if first == second || second == third {
		t.Errorf("stamps did not change with go.sum or go.mod:\n%s\n%s\n%s", first, second, third)
	}
	if digest, _ := moduleDigest(dir); stamp(etcd, "v1.36.3", digest) == stamp(etcd, "v1.37.0", digest) {
		t.Error("the stamp does not change with the Kubernetes version")
	}
}

// TestToolsAreThePrograms: go.mod's tool block keeps go mod tidy from dropping what the programs
// need; it must name exactly the packages main.go builds.
func TestToolsAreThePrograms(t *testing.T) {
	path := filepath.Join("programs", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tools []string
	for _, tool := range f.Tool {
		tools = append(tools, tool.Path)
	}
	want := packages(programs)
	slices.Sort(tools)
	slices.Sort(want)
	if !slices.Equal(tools, want) {
		t.Errorf("%s's tool block names %v, main.go builds %v", path, tools, want)
	}
}

// TestProgramsShareBosunsPackages guards what makes a fresh make demo two minutes shorter: bosun's
// binaries (cmd/...) are built first, with the programs' environment and flags, and every package the
// programs have in common with them (k8s.io/api, client-go, x/net, …) comes from the same module
// version, so the build cache has it compiled when the programs build.
func TestProgramsShareBosunsPackages(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	ofBosun := modulesOfPackages(t, root, "./cmd/...")
	ofPrograms := modulesOfPackages(t, filepath.Join(root, programsDir), packages(programs)...)
	shared := 0
	differ := map[[2]string]bool{} // the programs' module@version, bosun's
	for pkg, mod := range ofPrograms {
		if want, ok := ofBosun[pkg]; ok {
			shared++
			if mod != want {
				differ[[2]string{mod, want}] = true
			}
		}
	}
	for pair := range differ {
		programsPath, programsVersion, _ := strings.Cut(pair[0], "@")
		bosunPath, bosunVersion, _ := strings.Cut(pair[1], "@")
		switch {
		case programsPath == bosunPath && semver.Compare(programsVersion, bosunVersion) > 0:
			t.Errorf("the cluster's programs need %s, bosun requires the older %s: raise bosun's (go get %s in the repository root), so it compiles once",
				pair[0], bosunVersion, pair[0])
		case programsPath == bosunPath:
			t.Errorf("the cluster's programs build %s, bosun %s: require bosun's in %s/go.mod (go get %s there, or in its replace line; never lower the programs' versions), so it compiles once",
				pair[0], bosunVersion, filepath.ToSlash(programsDir), pair[1])
		default:
			t.Errorf("the cluster's programs build from %s what bosun builds from %s: make them the same module version, so it compiles once", pair[0], pair[1])
		}
	}
	if shared < 500 {
		t.Errorf("bosun and the cluster's programs share %d packages, expected over 500 (k8s.io/api, client-go, …)", shared)
	}

	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	build := "BOSUN_BUILD := " + strings.Join(repo.ProgramEnv, " ") + " go build " + strings.Join(repo.ProgramBuildFlags, " ") + "\n"
	if !bytes.Contains(makefile, []byte("\n"+build)) {
		t.Errorf("the Makefile must build bosun with the programs' environment and flags (internal/repo):\n%s", build)
	}
	if !bytes.Contains(makefile, []byte("demo-bosun:\n\t$(BOSUN_BUILD) ")) {
		t.Error("the Makefile's demo-bosun must build bosun with $(BOSUN_BUILD)")
	}
}

// modulesOfPackages maps every non-standard package that building pkgs in dir's module compiles to
// the module@version its source comes from (a replacement's, if any), as the programs are built.
func modulesOfPackages(t *testing.T, dir string, pkgs ...string) map[string]string {
	t.Helper()
	format := "{{with .Module}}{{$.ImportPath}} {{with .Replace}}{{.Path}}@{{.Version}}{{else}}{{.Path}}@{{.Version}}{{end}}{{end}}"
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", format}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s in %s: %v", strings.Join(pkgs, " "), dir, err)
	}
	modules := map[string]string{}
	for s := bufio.NewScanner(bytes.NewReader(out)); s.Scan(); {
		if pkg, mod, ok := strings.Cut(s.Text(), " "); ok && !strings.HasPrefix(mod, "github.com/bosun-mesh/bosun") {
			modules[pkg] = mod
		}
	}
	return modules
}
