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
