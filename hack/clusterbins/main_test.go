package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

// TestProgramsShareBosunsPackages guards what makes a fresh make demo two minutes shorter: bosun is
// built first, with the programs' flags, and every package the programs have in common with it
// (k8s.io/api, client-go, x/net, …) comes from the same module version, so the build cache has it
// compiled when the programs build.
func TestProgramsShareBosunsPackages(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	bosun := modulesOfPackages(t, root, "./cmd/bosun")
	programs := modulesOfPackages(t, filepath.Join(root, moduleDir), packages(programs)...)
	shared := 0
	differ := map[string]string{} // module path: bosun's module@version
	for pkg, mod := range programs {
		want, ok := bosun[pkg]
		if !ok {
			continue
		}
		shared++
		if mod != want {
			path, _, _ := strings.Cut(want, "@")
			differ[path] = want
		}
	}
	for _, want := range differ {
		t.Errorf("the cluster's programs and bosun build packages of %s from different versions; "+
			"require bosun's in %s/go.mod (go get %s), so they compile once", want, filepath.ToSlash(moduleDir), want)
	}
	if shared < 500 {
		t.Errorf("bosun and the cluster's programs share %d packages, expected over 500 (k8s.io/api, client-go, …)", shared)
	}

	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	recipe := "\tCGO_ENABLED=0 go build -trimpath -gcflags=" + repo.ProgramGCFlags + " -o $(BOSUN) ./cmd/bosun\n"
	if !bytes.Contains(makefile, []byte("demo-bosun:\n"+recipe)) {
		t.Errorf("the Makefile's demo-bosun must build bosun with the programs' flags (hack/clusterbins):\ndemo-bosun:\n%s", recipe)
	}
}

// modulesOfPackages maps every non-standard package that building pkgs in dir's module compiles to
// the module@version it comes from, as the programs are built: without cgo.
func modulesOfPackages(t *testing.T, dir string, pkgs ...string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{with .Module}}{{$.ImportPath}} {{.Path}}@{{.Version}}{{end}}"}, pkgs...)...)
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
