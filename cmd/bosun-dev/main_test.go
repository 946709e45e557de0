package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// built is the bosun-operator these tests build from the tree, once, for the box to play the
// operator's pods with; TestMain removes its directory.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// operatorBinary builds bosun-operator from this tree on first use, as make build does, and returns
// its path.
func operatorBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.err = func() error {
			root, err := repo.Root()
			if err != nil {
				return err
			}
			if built.dir, err = os.MkdirTemp("", "bosun-dev-test-"); err != nil {
				return err
			}
			built.path = filepath.Join(built.dir, operatorBinaryName)
			args := append(append([]string{"build"}, repo.ProgramBuildFlags...), "-o", built.path, "./cmd/bosun-operator")
			build := exec.Command("go", args...)
			build.Dir = root
			build.Env = append(os.Environ(), repo.ProgramEnv...)
			if out, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("go build ./cmd/bosun-operator: %w\n%s", err, out)
			}
			return nil
		}()
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
