package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/gomod"
)

// fakeModule lays out the folders of istio.io/istio that fetch copies.
func fakeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{
		"manifests/charts/base/Chart.yaml",
		"manifests/charts/istio-control/istio-discovery/Chart.yaml",
		"manifests/charts/istio-cni/Chart.yaml",
		"manifests/charts/ztunnel/Chart.yaml",
		"manifests/charts/gateway/Chart.yaml",
		"manifests/profiles/default.yaml",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// The module cache keeps files read-only; fetch must still be able to replace its copies.
		if err := os.WriteFile(p, []byte("name: "+f), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFetchFromModuleSkipsWhatIsUpToDate(t *testing.T) {
	module := fakeModule(t)
	out := t.TempDir()
	sum := "h1:first"
	var log bytes.Buffer
	f := &Fetcher{Out: out, Log: &log, download: func(string) (gomod.Module, error) { return gomod.Module{Dir: module, Sum: sum}, nil }}
	v := catalog.Version{Name: "v1.27.0-snapshot.b9159ca3", Module: "istio.io/istio", ModuleVersion: "v0.0.0-x"}

	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charts/base/Chart.yaml", "charts/istiod/Chart.yaml", "charts/cni/Chart.yaml", "charts/ztunnel/Chart.yaml", "charts/gateway/Chart.yaml", "profiles/default.yaml"} {
		if _, err := os.Stat(filepath.Join(out, v.Name, want)); err != nil {
			t.Errorf("%s was not fetched: %v", want, err)
		}
	}

	log.Reset()
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "up to date") {
		t.Errorf("a second fetch from the same module sum did not skip:\n%s", log.String())
	}

	sum = "h1:second"
	log.Reset()
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "wrote") {
		t.Errorf("a new module sum did not fetch again:\n%s", log.String())
	}
	if entries, _ := filepath.Glob(filepath.Join(out, ".fetch-*")); len(entries) != 0 {
		t.Errorf("temporary folders left behind: %v", entries)
	}
}

func chartArchive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestFetchFromReleaseURLs(t *testing.T) {
	istiod := chartArchive(t, map[string]string{"istiod/Chart.yaml": "name: istiod", "istiod/templates/deployment.yaml": "kind: Deployment"})
	// Istio's release archive, whose profiles sit deep inside, serves as the profiles archive.
	profiles := chartArchive(t, map[string]string{"istio-1.27.3/manifests/profiles/default.yaml": "spec: {}", "istio-1.27.3/bin/istioctl": "binary"})
	evil := chartArchive(t, map[string]string{"istiod/../../escape.yaml": "x"})
	files := map[string][]byte{"/istiod.tgz": istiod, "/profiles.tgz": profiles, "/evil.tgz": evil}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	out := t.TempDir()
	f := &Fetcher{Out: out, Log: io.Discard, client: srv.Client()}
	version := func(name, chartPath, chartSum string) catalog.Version {
		return catalog.Version{Name: name,
			Charts:   map[string]catalog.Archive{"istiod": {URL: srv.URL + chartPath, SHA256: chartSum}},
			Profiles: &catalog.Archive{URL: srv.URL + "/profiles.tgz", SHA256: digest(profiles)},
		}
	}

	if err := f.Fetch(version("v1.27.3", "/istiod.tgz", digest(istiod))); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(out, "v1.27.3", "charts", "istiod", "templates", "deployment.yaml")); err != nil || string(data) != "kind: Deployment" {
		t.Errorf("the chart was not unpacked under charts/istiod: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(out, "v1.27.3", "profiles", "default.yaml")); err != nil {
		t.Errorf("the profiles were not unpacked under profiles/: %v", err)
	}

	failures := []struct {
		name, version, path, sum, want string
	}{
		{"a path leaving the chart folder", "v1.27.4", "/evil.tgz", digest(evil), "unexpected path"},
		{"a missing archive", "v1.27.5", "/missing.tgz", digest(istiod), "404"},
		{"an archive that is not what the catalog says", "v1.27.6", "/istiod.tgz", digest(evil), "refusing to use it"},
	}
	for _, tc := range failures {
		err := f.Fetch(version(tc.version, tc.path, tc.sum))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(out, tc.version)); !os.IsNotExist(err) {
			t.Errorf("%s: the failed fetch left %s behind", tc.name, tc.version)
		}
	}
}
