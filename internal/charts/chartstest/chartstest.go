// Package chartstest gives tests the Istio charts of bosun's built-in catalog: the repository's
// resources/, fetched on first use (internal/charts.Ensure), so that `go test` works on a fresh clone
// as well as after `make charts`. It is a package of its own so that only test binaries link testing.
package chartstest

import (
	"os"
	"testing"

	"github.com/bosun-mesh/bosun/internal/charts"
)

// Dir returns the folder of fetched charts, <version>/charts and <version>/profiles, fetching what is
// missing first. A fetch that fails fails the test.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := charts.Ensure(os.Stderr)
	if err != nil {
		t.Fatalf("the tests need Istio's charts: %v", err)
	}
	return dir
}
