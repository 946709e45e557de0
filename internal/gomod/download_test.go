package gomod

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// required is the version of module that bosun's go.mod requires.
func required(t *testing.T, module string) string {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("bosun's go.mod does not require %s", module)
	}
	return string(m[1])
}

// TestDownloadResolvesAModulePathThroughGoMod: given a module path alone, Download fetches the
// version dir's go.mod requires, which is how the generators follow go.mod's istio.io/istio.
func TestDownloadResolvesAModulePathThroughGoMod(t *testing.T) {
	const module = "github.com/Masterminds/semver/v3"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want := required(t, module)
	t.Chdir(t.TempDir()) // dir, not the working directory, decides
	m, err := Download(root, module)
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != module || m.Version != want {
		t.Errorf("Download(%s) = %s@%s, want the version go.mod requires, %s", module, m.Path, m.Version, want)
	}

	// A module go.mod does not require cannot be resolved; the error says which query failed.
	if _, err := Download(root, "example.com/not/required"); err == nil || !strings.Contains(err.Error(), "go mod download example.com/not/required: ") {
		t.Errorf("a module go.mod does not require gave %v", err)
	}
}

// TestWorkspacesAreIgnored: a go.work that the environment points at (even one that does not exist)
// changes nothing, so what make charts fetches depends on go.mod alone.
func TestWorkspacesAreIgnored(t *testing.T) {
	t.Setenv("GOWORK", filepath.Join(t.TempDir(), "absent", "go.work"))
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Download(root, "github.com/Masterminds/semver/v3"); err != nil {
		t.Errorf("Download under a GOWORK: %v", err)
	}
	if err := Prefetch(root, nil, "github.com/bosun-mesh/bosun/internal/repo"); err != nil {
		t.Errorf("Prefetch under a GOWORK: %v", err)
	}
}
