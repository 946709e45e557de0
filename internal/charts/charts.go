// Package charts fetches the Istio charts and profiles of bosun's catalog versions into a folder,
// <out>/<version>/charts and /profiles: `make charts` (hack/charts) fills the repository's resources/,
// which the image bakes in and the operator reads. A version whose charts come from a Go module is
// fetched with `go mod download`, so it goes through the module proxy and checksum database like any
// dependency, and its manifests/charts and manifests/profiles folders are copied; a version with release
// chart URLs has each .tgz downloaded, checked against its SHA-256 and unpacked. A version already
// fetched from the same source is skipped, and a version is written into a temporary folder and renamed
// into place, so an interrupted fetch never leaves half a version.
//
// Ensure is for tests: it fetches what the repository's tests need on a fresh clone, once, however
// many test binaries ask at the same time.
package charts

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// Ensure makes sure the repository's resources/ holds the charts of every version of the built-in
// catalog, fetching what is missing or stale, and returns its path. Test binaries that run side by
// side take turns through a lock file, so that each version is fetched once.
func Ensure(log io.Writer) (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "resources")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	f := &Fetcher{Out: dir, Log: log}
	for _, v := range catalog.Embedded().Versions() {
		if err := f.Fetch(v); err != nil {
			return "", fmt.Errorf("fetching the charts of %s: %w", v.Name, err)
		}
	}
	return dir, nil
}
