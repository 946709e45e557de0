package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestIstiodReady: an istiod is ready when its pilot-discovery is a file; otherwise the reason says
// what happened (a recorded failure, in short; a build that failed or left nothing), and a version is
// built at most once.
func TestIstiodReady(t *testing.T) {
	const version = "v1.27.0"
	longReason := strings.Repeat("x", 200)
	cases := []struct {
		name string
		// setup lays out dir before the call; build, when not nil, is the builder.
		setup  func(t *testing.T, dir string)
		build  func(dir string) Builder
		ready  bool
		reason string
		builds int
	}{
		{name: "built", setup: func(t *testing.T, dir string) { writeFile(t, repo.PilotDiscovery(dir, version), "binary") },
			build: builder(nil), ready: true},
		{name: "a recorded failure is not retried", setup: func(t *testing.T, dir string) {
			writeFile(t, repo.PilotDiscovery(dir, version)+".failed", "istio.io/istio x\ngcflags: y\n---\n  go: 403 Forbidden\n\n")
		}, build: builder(nil), reason: "its build failed: go: 403 Forbidden"},
		{name: "a record without a stamp", setup: func(t *testing.T, dir string) {
			writeFile(t, repo.PilotDiscovery(dir, version)+".failed", "disk full\n")
		}, reason: "its build failed: disk full"},
		{name: "a long reason is cut", setup: func(t *testing.T, dir string) {
			writeFile(t, repo.PilotDiscovery(dir, version)+".failed", "stamp\n---\n"+longReason)
		}, reason: "its build failed: " + longReason[:160] + "…"},
		{name: "a folder where the program should be", setup: func(t *testing.T, dir string) {
			if err := os.MkdirAll(repo.PilotDiscovery(dir, version), 0o755); err != nil {
				t.Fatal(err)
			}
		}, reason: "not built"},
		{name: "never built, no builder", reason: "not built"},
		{name: "never built: it builds", build: builder(func(binary string) error { return os.WriteFile(binary, []byte("binary"), 0o755) }),
			ready: true, builds: 1},
		{name: "never built: the build records a failure", build: builder(func(binary string) error {
			return os.WriteFile(binary+".failed", []byte("stamp\n---\nundefined: foo"), 0o644)
		}), reason: "its build failed: undefined: foo", builds: 1},
		{name: "never built: the builder fails", build: builder(func(string) error { return errors.New("go: not found") }),
			reason: "building it: go: not found", builds: 1},
		{name: "never built: the builder leaves nothing", build: builder(func(string) error { return nil }),
			reason: "the build left no ", builds: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, version), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			var build Builder
			builds := 0
			if tc.build != nil {
				inner := tc.build(dir)
				build = func(v string) error { builds++; return inner(v) }
			}
			ready, reason := IstiodReady(dir, version, build)
			if ready != tc.ready || !strings.HasPrefix(reason, tc.reason) || tc.reason == "" && reason != "" {
				t.Errorf("IstiodReady = %v, %q; want %v, %q", ready, reason, tc.ready, tc.reason)
			}
			if builds != tc.builds {
				t.Errorf("the builder ran %d times, want %d", builds, tc.builds)
			}
		})
	}
}

// builder returns a Builder factory that runs do with the path of the version's pilot-discovery;
// nil fails the test if the builder runs.
func builder(do func(binary string) error) func(dir string) Builder {
	return func(dir string) Builder {
		return func(version string) error {
			if do == nil {
				return errors.New("the builder ran for a version that needs no build")
			}
			return do(repo.PilotDiscovery(dir, version))
		}
	}
}

// TestChooseVersionSaysWhyNotTheDefault: when the default's build cannot even run, the demo installs
// another version and its first line says why, naming the default and the builder's error.
func TestChooseVersionSaysWhyNotTheDefault(t *testing.T) {
	dir := istiodDir(t, []string{v125}, nil)
	got, err := ChooseVersion(testCatalog(t), dir, func(v string) error { return errors.New("no space left on device") })
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "v1.25-latest" || got.Resolved != v125 {
		t.Errorf("chose %+v, want v1.25-latest, the one built", got)
	}
	want := "the catalog's default v1.27-latest (" + v127 + ") has no istiod here (building it: no space left on device), so the demo installs the newest version that has one"
	if got.Note != want {
		t.Errorf("note %q\nwant %q", got.Note, want)
	}
}
