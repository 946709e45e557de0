package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootReadsTheModuleDirective: any go.mod that declares bosun's module marks the root, also one
// that begins with a comment or holds the module line alone, as `go mod edit` accepts both.
func TestRootReadsTheModuleDirective(t *testing.T) {
	for name, gomod := range map[string]string{
		"a comment first":      "// bosun's module\nmodule github.com/bosun-mesh/bosun\n\ngo 1.24\n",
		"the module line only": "module github.com/bosun-mesh/bosun\n",
		"a quoted path":        "module \"github.com/bosun-mesh/bosun\"\n\ngo 1.24\n",
	} {
		t.Run(name, func(t *testing.T) {
			top := t.TempDir()
			if err := os.WriteFile(filepath.Join(top, "go.mod"), []byte(gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Chdir(top)
			if got, err := Root(); err != nil || got != top {
				t.Errorf("Root() = %q, %v; want %s", got, err, top)
			}
		})
	}
}
