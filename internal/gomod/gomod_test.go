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

// TestPrefetch downloads into an empty module cache what a package of a small module needs, and
// reports a package no module provides by its name.
func TestPrefetch(t *testing.T) {
	const dep = "github.com/Masterminds/semver/v3"
	sums, err := os.ReadFile(filepath.Join("..", "..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var depSums []string
	for line := range strings.Lines(string(sums)) {
		if strings.HasPrefix(line, dep+" v3.5.0") {
			depSums = append(depSums, line)
		}
	}
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/prefetch\n\ngo 1.24\n\nrequire "+dep+" v3.5.0\n")
	write("go.sum", strings.Join(depSums, ""))
	cache := t.TempDir()
	env := []string{"GOMODCACHE=" + cache, "GOFLAGS=-modcacherw"}

	if err := Prefetch(dir, env, dep); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "github.com", "!masterminds", "semver", "v3@v3.5.0", "version.go")); err != nil {
		t.Errorf("after Prefetch, the module cache lacks %s's source: %v", dep, err)
	}
	if err := Prefetch(dir, env, "example.com/absent/pkg"); err == nil || !strings.Contains(err.Error(), "example.com/absent/pkg") {
		t.Errorf("a package no module provides gave %v", err)
	}
}
