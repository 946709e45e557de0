package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootPassesNestedModules: from inside a nested module (hack/clusterbins/programs has a go.mod of
// its own) and from a folder without one, Root is the folder of bosun's go.mod.
func TestRootPassesNestedModules(t *testing.T) {
	want, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(want, "hack", "clusterbins", "programs"), filepath.Join(want, "internal", "repo")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Chdir(dir)
			if got, err := Root(); err != nil || got != want {
				t.Errorf("Root() from %s = %q, %v; want %q", dir, got, err, want)
			}
		})
	}
	t.Run("outside", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if got, err := Root(); err == nil {
			t.Errorf("Root() outside the repository = %q, want an error", got)
		}
	})
	if _, err := os.Stat(filepath.Join(want, "hack", "clusterbins", "programs", "go.mod")); err != nil {
		t.Fatalf("the nested module this test passes by is gone: %v", err)
	}
}
