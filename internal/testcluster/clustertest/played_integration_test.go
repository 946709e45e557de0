//go:build integration

package clustertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
)

// writeFile writes data at path, creating its directory.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile reads the file at path.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPlayVersionsTagsTheImages checks the copies PlayVersions makes: one
// per version, each with PlayedBy's charts and profiles, where the image tag
// of the global level (four spaces) and of ztunnel's top level (two spaces)
// is the version's number without its v; a tag at another depth, and files
// other than a chart's values.yaml, are left as they are; the snapshot's own
// charts are not changed.
func TestPlayVersionsTagsTheImages(t *testing.T) {
	fetched := t.TempDir()
	src := filepath.Join(fetched, PlayedBy)
	istiod := "_internal_defaults_do_not_set:\n  global:\n    hub: docker.io/istio\n    tag: latest\n  sidecar:\n      tag: latest\n"
	ztunnel := "_internal_defaults_do_not_set:\n  hub: docker.io/istio\n  tag: latest\n"
	writeFile(t, filepath.Join(src, "charts", "istiod", "values.yaml"), istiod)
	writeFile(t, filepath.Join(src, "charts", "istiod", "Chart.yaml"), "name: istiod\nversion: 1.25.0\n  tag: latest\n")
	writeFile(t, filepath.Join(src, "charts", "ztunnel", "values.yaml"), ztunnel)
	writeFile(t, filepath.Join(src, "profiles", "default.yaml"), "spec:\n  values:\n    tag: latest\n")

	dir := filepath.Join(t.TempDir(), "played")
	if err := PlayVersions(fetched, dir, "v1.24.3", "v1.24.4"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.24.3", "v1.24.4"} {
		n := strings.TrimPrefix(v, "v")
		if got, want := readFile(t, filepath.Join(dir, v, "charts", "istiod", "values.yaml")),
			"_internal_defaults_do_not_set:\n  global:\n    hub: docker.io/istio\n    tag: "+n+"\n  sidecar:\n      tag: latest\n"; got != want {
			t.Errorf("%s istiod values:\n%s\nwant\n%s", v, got, want)
		}
		if got, want := readFile(t, filepath.Join(dir, v, "charts", "ztunnel", "values.yaml")),
			"_internal_defaults_do_not_set:\n  hub: docker.io/istio\n  tag: "+n+"\n"; got != want {
			t.Errorf("%s ztunnel values:\n%s\nwant\n%s", v, got, want)
		}
		if got := readFile(t, filepath.Join(dir, v, "charts", "istiod", "Chart.yaml")); strings.Contains(got, n) {
			t.Errorf("%s Chart.yaml was changed:\n%s", v, got)
		}
		if got := readFile(t, filepath.Join(dir, v, "profiles", "default.yaml")); got != "spec:\n  values:\n    tag: latest\n" {
			t.Errorf("%s profile was changed:\n%s", v, got)
		}
	}
	if got := readFile(t, filepath.Join(src, "charts", "istiod", "values.yaml")); got != istiod {
		t.Errorf("PlayVersions changed the fetched charts:\n%s", got)
	}
}

// TestPlayVersionsWithoutTheSnapshot checks the error when the snapshot
// whose charts play other versions was not fetched: it names the snapshot
// and says to run make charts.
func TestPlayVersionsWithoutTheSnapshot(t *testing.T) {
	err := PlayVersions(t.TempDir(), t.TempDir(), "v1.24.3")
	if err == nil || !strings.Contains(err.Error(), PlayedBy) || !strings.Contains(err.Error(), "run make charts") {
		t.Errorf("PlayVersions without %s = %v, want an error naming it and make charts", PlayedBy, err)
	}
}

// TestPlayVersionsTagsTheRealCharts runs PlayVersions on the fetched charts
// of PlayedBy: every chart with an image tag (istiod, cni, ztunnel) gets the
// played version's tag, so the end-to-end tests' played patch versions run
// images that name them. A snapshot whose charts write the tag otherwise
// fails here instead of silently playing "latest".
func TestPlayVersionsTagsTheRealCharts(t *testing.T) {
	fetched := chartstest.Dir(t)
	dir := t.TempDir()
	if err := PlayVersions(fetched, dir, "v1.24.3"); err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{"istiod", "cni", "ztunnel"} {
		got := readFile(t, filepath.Join(dir, "v1.24.3", "charts", chart, "values.yaml"))
		if strings.Contains(got, "tag: latest\n") || !strings.Contains(got, "tag: 1.24.3\n") {
			t.Errorf("the %s chart played as v1.24.3 does not tag its images 1.24.3", chart)
		}
	}
}
