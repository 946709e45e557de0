package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
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
	f := &fetcher{out: out, log: &log, download: func(string) (string, string, error) { return module, sum, nil }}
	v := catalog.Version{Name: "v1.27.0-snapshot.b9159ca3", Module: "istio.io/istio", ModuleVersion: "v0.0.0-x"}

	if err := f.fetch(v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charts/base/Chart.yaml", "charts/istiod/Chart.yaml", "charts/cni/Chart.yaml", "charts/ztunnel/Chart.yaml", "charts/gateway/Chart.yaml", "profiles/default.yaml"} {
		if _, err := os.Stat(filepath.Join(out, v.Name, want)); err != nil {
			t.Errorf("%s was not fetched: %v", want, err)
		}
	}

	log.Reset()
	if err := f.fetch(v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "up to date") {
		t.Errorf("a second fetch from the same module sum did not skip:\n%s", log.String())
	}

	sum = "h1:second"
	log.Reset()
	if err := f.fetch(v); err != nil {
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

func TestFetchFromReleaseURLs(t *testing.T) {
	good := chartArchive(t, map[string]string{"istiod/Chart.yaml": "name: istiod", "istiod/templates/deployment.yaml": "kind: Deployment"})
	evil := chartArchive(t, map[string]string{"istiod/../../escape.yaml": "x"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/istiod.tgz":
			w.Write(good)
		case "/evil.tgz":
			w.Write(evil)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	f := &fetcher{out: out, log: io.Discard, client: srv.Client()}

	if err := f.fetch(catalog.Version{Name: "v1.27.3", Charts: map[string]string{"istiod": srv.URL + "/istiod.tgz"}}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(out, "v1.27.3", "charts", "istiod", "templates", "deployment.yaml")); err != nil || string(data) != "kind: Deployment" {
		t.Errorf("the chart was not unpacked under charts/istiod: %q, %v", data, err)
	}

	err := f.fetch(catalog.Version{Name: "v1.27.4", Charts: map[string]string{"istiod": srv.URL + "/evil.tgz"}})
	if err == nil || !strings.Contains(err.Error(), "unexpected path") {
		t.Errorf("an archive path leaving the chart folder gave %v", err)
	}
	err = f.fetch(catalog.Version{Name: "v1.27.5", Charts: map[string]string{"istiod": srv.URL + "/missing.tgz"}})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing chart gave %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "v1.27.5")); !os.IsNotExist(err) {
		t.Errorf("a failed fetch left v1.27.5 behind")
	}
}
