package gomod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownload fetches a module this repository already depends on, so the module cache has it, and
// an impossible version, whose error must name the query.
func TestDownload(t *testing.T) {
	m, err := Download("", "github.com/Masterminds/semver/v3@v3.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "github.com/Masterminds/semver/v3" || m.Version != "v3.5.0" || !strings.HasPrefix(m.Sum, "h1:") {
		t.Errorf("Download = %+v", m)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "go.mod")); err != nil {
		t.Errorf("no source in %s: %v", m.Dir, err)
	}
	if _, err := Download("", "github.com/Masterminds/semver/v3@v0.0.0-bogus"); err == nil || !strings.Contains(err.Error(), "go mod download github.com/Masterminds/semver/v3@v0.0.0-bogus") {
		t.Errorf("an impossible version gave %v", err)
	}
}

// TestPrefetch downloads into an empty module cache what a package of a small module needs, its
// dependency's module included, and reports a package no module provides by its name.
func TestPrefetch(t *testing.T) {
	const pkg, dep = "sigs.k8s.io/yaml", "go.yaml.in/yaml/v2"
	sums, err := os.ReadFile(filepath.Join("..", "..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", []byte("module example.com/prefetch\n\ngo 1.24\n\nrequire (\n\t"+pkg+" v1.6.0\n\t"+dep+" v2.4.3 // indirect\n)\n"))
	write("go.sum", sums) // bosun's: it holds every sum the module graph of sigs.k8s.io/yaml v1.6.0 needs
	cache := t.TempDir()
	env := []string{"GOMODCACHE=" + cache, "GOFLAGS=-modcacherw"}

	if err := Prefetch(dir, env, pkg); err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{filepath.Join("sigs.k8s.io", "yaml@v1.6.0", "yaml.go"), filepath.Join("go.yaml.in", "yaml", "v2@v2.4.3", "yaml.go")} {
		if _, err := os.Stat(filepath.Join(cache, source)); err != nil {
			t.Errorf("after Prefetch of %s, the module cache lacks %s (%s needs %s): %v", pkg, source, pkg, dep, err)
		}
	}
	if err := Prefetch(dir, env, "example.com/absent/pkg"); err == nil || !strings.Contains(err.Error(), "example.com/absent/pkg") {
		t.Errorf("a package no module provides gave %v", err)
	} else if strings.Contains(err.Error(), "go: downloading") {
		t.Errorf("the error keeps the go command's progress lines: %v", err)
	}
}

// TestReason keeps the lines that say why, once each, and at most three of them.
func TestReason(t *testing.T) {
	output := "go: downloading example.com/a v1.0.0\n" +
		"main.go:3:2: no required module provides package example.com/x\n" +
		"main.go:3:2: no required module provides package example.com/x\n" +
		"b\nc\nd\n"
	want := "main.go:3:2: no required module provides package example.com/x; b; c; (1 more)"
	if got := Reason(output); got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}
