package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// developerPackages are the packages that neither binary users run may link: the cluster in a box, the
// demo and their test helpers (bosun-dev's), and Go's testing package.
var developerPackages = []string{
	"github.com/bosun-mesh/bosun/internal/testcluster",
	"github.com/bosun-mesh/bosun/internal/demo",
	"testing",
}

// helmTesting are the packages allowed to import testing, because no build of Helm v4 (v4.2.4 to
// v4.3.2) does without them: they call testing.Testing() to pick fixed versions in Helm's own tests.
// It links about 1 kB of code and allocates 1 kB at start (docs/performance.md). Any other importer
// fails the test, and so does this list once Helm no longer imports testing.
var helmTesting = []string{
	"helm.sh/helm/v4/internal/version",
	"helm.sh/helm/v4/pkg/chart/common",
}

// TestShippedBinariesLinkNoDeveloperCode guards the split of bosun's binaries: the operator (the
// image's program) and bosun (the users' command-line tool) link neither the cluster in a box nor the
// demo, which live in bosun-dev, nor test helpers.
func TestShippedBinariesLinkNoDeveloperCode(t *testing.T) {
	for _, binary := range []string{".", "../bosun"} {
		out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, binary).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", binary, err, out)
		}
		var testingImporters []string
		for line := range strings.Lines(strings.TrimSpace(string(out))) {
			pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
			for _, imp := range strings.Fields(imports) {
				switch {
				case imp == "testing":
					testingImporters = append(testingImporters, pkg)
				case isDeveloperPackage(imp):
					t.Errorf("%s: %s imports %s", binary, pkg, imp)
				}
			}
		}
		slices.Sort(testingImporters)
		if !slices.Equal(testingImporters, helmTesting) {
			t.Errorf("%s: the packages that import testing are %q; want only Helm's %q", binary, testingImporters, helmTesting)
		}
	}
}

// isDeveloperPackage says whether pkg is, or is inside, one of developerPackages.
func isDeveloperPackage(pkg string) bool {
	for _, p := range developerPackages {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}
