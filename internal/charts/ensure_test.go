package charts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestEnsureFillsTheRepositorysResources: tests on a fresh clone get resources/ in the repository,
// holding every chart and the profiles of each built-in version, and a second call fetches nothing.
func TestEnsureFillsTheRepositorysResources(t *testing.T) {
	if _, err := Ensure(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	dir, err := Ensure(&log)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "resources"); dir != want {
		t.Errorf("Ensure() = %s, want %s", dir, want)
	}
	for _, v := range catalog.Embedded().Versions() {
		for _, file := range []string{"charts/base/Chart.yaml", "charts/istiod/Chart.yaml", "charts/cni/Chart.yaml", "charts/ztunnel/Chart.yaml", "profiles/default.yaml"} {
			if _, err := os.Stat(filepath.Join(dir, v.Name, file)); err != nil {
				t.Errorf("%s: %v", v.Name, err)
			}
		}
		if !strings.Contains(log.String(), "charts: "+v.Name+": up to date") {
			t.Errorf("a second Ensure did not find %s up to date:\n%s", v.Name, log.String())
		}
	}
}

// TestEnsureOutsideTheRepository: a test binary run outside bosun's repository is told where to run
// from, and nothing is fetched.
func TestEnsureOutsideTheRepository(t *testing.T) {
	t.Chdir(t.TempDir())
	var log bytes.Buffer
	if _, err := Ensure(&log); err == nil || !strings.Contains(err.Error(), "run from the repository") {
		t.Errorf("Ensure outside the repository gave %v", err)
	}
	if log.Len() != 0 {
		t.Errorf("Ensure outside the repository logged:\n%s", log.String())
	}
}
