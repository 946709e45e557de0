package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// entry is one member of a test archive; a link is a symbolic link to target.
type entry struct {
	name, body, target string
	dir                bool
}

// tarball packs entries, in order, as a .tgz.
func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h = &tar.Header{Name: e.name, Mode: 0o755, Typeflag: tar.TypeDir}
		case e.target != "":
			h = &tar.Header{Name: e.name, Mode: 0o777, Linkname: e.target, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
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

// releaseServer serves archives by path and counts the requests for each.
type releaseServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	requests map[string]int
}

func newReleaseServer(t *testing.T) *releaseServer {
	t.Helper()
	s := &releaseServer{files: map[string][]byte{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[r.URL.Path]++
		data, ok := s.files[r.URL.Path]
		if !ok {
			http.Error(w, "gone", http.StatusInternalServerError)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes data available at path and returns its archive entry for a catalog.
func (s *releaseServer) serve(path string, data []byte) catalog.Archive {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
	return catalog.Archive{URL: s.URL + path, SHA256: digest(data)}
}

func (s *releaseServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// release is a version given by release archives: the four charts bosun renders and the profiles.
func release(t *testing.T, s *releaseServer, name string) catalog.Version {
	t.Helper()
	v := catalog.Version{Name: name, Charts: map[string]catalog.Archive{}}
	for _, chart := range []string{"base", "istiod", "cni", "ztunnel"} {
		v.Charts[chart] = s.serve("/"+name+"/"+chart+".tgz", tarball(t,
			entry{name: chart + "/", dir: true},
			entry{name: chart + "/Chart.yaml", body: "name: " + chart + "\nversion: " + name},
		))
	}
	profiles := s.serve("/"+name+"/profiles.tgz", tarball(t, entry{name: "profiles/default.yaml", body: "spec: {}"}))
	v.Profiles = &profiles
	return v
}

// tree lists the files under dir, with their contents, as "path: contents".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		files = append(files, filepath.ToSlash(rel)+": "+string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestFetchFromReleaseURLsSkipsWhatIsUpToDate: a second make charts downloads nothing while the
// catalog names the same archives, whatever order its chart map iterates in, and downloads again when
// an archive's digest changes.
func TestFetchFromReleaseURLsSkipsWhatIsUpToDate(t *testing.T) {
	s := newReleaseServer(t)
	v := release(t, s, "v1.27.3")
	out := t.TempDir()
	var log bytes.Buffer
	f := &Fetcher{Out: out, Log: &log, client: s.Client()}
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	if got := s.total(); got != 5 {
		t.Errorf("the first fetch made %d requests, want 5 (four charts and the profiles)", got)
	}
	for i := 0; i < 5; i++ {
		log.Reset()
		if err := f.Fetch(v); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "charts: v1.27.3: up to date") {
			t.Fatalf("fetch %d of the same archives did not skip:\n%s", i+2, log.String())
		}
	}
	if got := s.total(); got != 5 {
		t.Errorf("fetching the same archives again made %d requests in all, want the first 5", got)
	}

	newer := s.serve("/v1.27.3/istiod-rebuilt.tgz", tarball(t, entry{name: "istiod/Chart.yaml", body: "name: istiod\nrebuilt: true"}))
	v.Charts["istiod"] = newer
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "v1.27.3", "charts", "istiod", "Chart.yaml"))
	if err != nil || !strings.Contains(string(data), "rebuilt: true") {
		t.Errorf("after the catalog named a new istiod archive, charts/istiod/Chart.yaml is %q, %v", data, err)
	}
}

// TestFailedFetchKeepsTheVersionThere: when fetching a changed version fails, the charts fetched
// before stay whole, so the operator's image is never built from half a version.
func TestFailedFetchKeepsTheVersionThere(t *testing.T) {
	s := newReleaseServer(t)
	v := release(t, s, "v1.27.3")
	out := t.TempDir()
	f := &Fetcher{Out: out, Log: io.Discard, client: s.Client()}
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	before := tree(t, filepath.Join(out, v.Name))

	broken := v
	broken.Charts = map[string]catalog.Archive{}
	for name, a := range v.Charts {
		broken.Charts[name] = a
	}
	broken.Charts["ztunnel"] = catalog.Archive{URL: s.URL + "/v1.27.3/missing.tgz", SHA256: v.Charts["ztunnel"].SHA256}
	err := f.Fetch(broken)
	if err == nil || !strings.Contains(err.Error(), "GET "+s.URL+"/v1.27.3/missing.tgz: 500 Internal Server Error") {
		t.Fatalf("fetching a missing archive gave %v, want the URL and the server's status", err)
	}
	if after := tree(t, filepath.Join(out, v.Name)); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a failed fetch changed the version fetched before:\nbefore %q\nafter  %q", before, after)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".fetch-*")); len(left) != 0 {
		t.Errorf("a failed fetch left %v behind", left)
	}
}

// TestArchivesThatAreRefused: an archive that is not what the catalog says, or that would write
// outside the folder bosun names, is refused before anything of it is used, with the URL in the error.
func TestArchivesThatAreRefused(t *testing.T) {
	outside := t.TempDir()
	cases := []struct {
		name  string
		chart []byte
		sum   string // "" for the chart's own digest
		want  string
	}{
		{name: "a digest of other bytes", chart: tarball(t, entry{name: "istiod/Chart.yaml"}), sum: strings.Repeat("0", 64),
			want: "has sha256 "},
		{name: "not gzip", chart: []byte("<html>Access denied</html>"), want: "unpacking"},
		{name: "a file outside any folder", chart: tarball(t, entry{name: "Chart.yaml", body: "x"}),
			want: `unexpected path "Chart.yaml" in the chart archive`},
		{name: "a parent folder", chart: tarball(t, entry{name: "../escape.yaml", body: "x"}),
			want: `unexpected path "../escape.yaml" in the archive`},
		{name: "a parent folder inside the chart's", chart: tarball(t, entry{name: "istiod/../../escape.yaml", body: "x"}),
			want: `unexpected path "istiod/../../escape.yaml" in the archive`},
		{name: "an absolute path", chart: tarball(t, entry{name: filepath.Join(outside, "escape.yaml"), body: "x"}),
			want: "unexpected path"},
		{name: "a truncated archive", chart: tarball(t, entry{name: "istiod/Chart.yaml", body: strings.Repeat("x", 4096)})[:60],
			want: "unpacking"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newReleaseServer(t)
			v := release(t, s, "v1.27.3")
			a := s.serve("/chart.tgz", tc.chart)
			if tc.sum != "" {
				a.SHA256 = tc.sum
			}
			v.Charts["istiod"] = a
			out := t.TempDir()
			err := (&Fetcher{Out: out, Log: io.Discard, client: s.Client()}).Fetch(v)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), a.URL) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, a.URL, tc.want)
			}
			if _, err := os.Stat(filepath.Join(out, v.Name)); !os.IsNotExist(err) {
				t.Errorf("a refused archive left %s behind", v.Name)
			}
			for _, dir := range []string{out, filepath.Dir(out), outside} {
				if _, err := os.Stat(filepath.Join(dir, "escape.yaml")); err == nil {
					t.Errorf("the archive wrote %s", filepath.Join(dir, "escape.yaml"))
				}
			}
		})
	}
	t.Run("an upper-case digest", func(t *testing.T) {
		s := newReleaseServer(t)
		v := release(t, s, "v1.27.3")
		a := v.Charts["istiod"]
		a.SHA256 = strings.ToUpper(a.SHA256)
		v.Charts["istiod"] = a
		if err := (&Fetcher{Out: t.TempDir(), Log: io.Discard, client: s.Client()}).Fetch(v); err != nil {
			t.Errorf("an archive whose digest the catalog writes in upper case is refused: %v", err)
		}
	})
}

// TestLinksInArchivesAreNotFollowed: a symbolic link in an archive is not unpacked, so a file written
// later through its name cannot land outside the version's folder.
func TestLinksInArchivesAreNotFollowed(t *testing.T) {
	outside := t.TempDir()
	s := newReleaseServer(t)
	v := release(t, s, "v1.27.3")
	v.Charts["istiod"] = s.serve("/istiod.tgz", tarball(t,
		entry{name: "istiod/templates", target: outside},
		entry{name: "istiod/templates/deployment.yaml", body: "kind: Deployment"},
		entry{name: "istiod/Chart.yaml", body: "name: istiod"},
	))
	out := t.TempDir()
	if err := (&Fetcher{Out: out, Log: io.Discard, client: s.Client()}).Fetch(v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "deployment.yaml")); err == nil {
		t.Error("a file of the archive was written through its symbolic link, outside the charts")
	}
	target := filepath.Join(out, v.Name, "charts", "istiod", "templates")
	if info, err := os.Lstat(target); err != nil || !info.IsDir() {
		t.Errorf("charts/istiod/templates is %v, %v; want the chart's folder, not a link", info, err)
	}
}

// TestProfilesArchive: the profiles are every .yaml file directly in a folder named profiles, wherever
// it sits in the archive; an archive without one is refused rather than leave the version without
// profiles.
func TestProfilesArchive(t *testing.T) {
	cases := []struct {
		name    string
		archive []byte
		want    []string // the files of profiles/, or nil when refused
	}{
		{name: "Istio's release archive", archive: tarball(t,
			entry{name: "istio-1.27.3/manifests/profiles/default.yaml", body: "d"},
			entry{name: "istio-1.27.3/manifests/profiles/ambient.yaml", body: "a"},
			entry{name: "istio-1.27.3/manifests/profiles/README.md", body: "r"},
			entry{name: "istio-1.27.3/manifests/charts/base/values.yaml", body: "v"},
			entry{name: "istio-1.27.3/manifests/profiles/preview/extra.yaml", body: "p"},
		), want: []string{"ambient.yaml: a", "default.yaml: d"}},
		{name: "the profiles alone", archive: tarball(t, entry{name: "profiles/openshift.yaml", body: "o"}),
			want: []string{"openshift.yaml: o"}},
		{name: "no profiles folder", archive: tarball(t, entry{name: "istio-1.27.3/manifests/charts/base/values.yaml", body: "v"})},
		{name: "profiles that are not yaml", archive: tarball(t, entry{name: "profiles/default.json", body: "{}"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newReleaseServer(t)
			v := release(t, s, "v1.27.3")
			profiles := s.serve("/profiles-under-test.tgz", tc.archive)
			v.Profiles = &profiles
			out := t.TempDir()
			err := (&Fetcher{Out: out, Log: io.Discard, client: s.Client()}).Fetch(v)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "no profiles/*.yaml in the archive") {
					t.Errorf("error %v, want the archive refused for having no profiles", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tree(t, filepath.Join(out, v.Name, "profiles")); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("profiles/ holds %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVersionWithoutProfilesArchive: a version given by chart URLs alone is refused, as the catalog
// refuses it, should one reach the fetcher.
func TestVersionWithoutProfilesArchive(t *testing.T) {
	s := newReleaseServer(t)
	v := release(t, s, "v1.27.3")
	v.Profiles = nil
	out := t.TempDir()
	if err := (&Fetcher{Out: out, Log: io.Discard, client: s.Client()}).Fetch(v); err == nil || !strings.Contains(err.Error(), "no profiles archive") {
		t.Errorf("error %v, want it to say the profiles archive is missing", err)
	}
	if _, err := os.Stat(filepath.Join(out, v.Name)); !os.IsNotExist(err) {
		t.Errorf("a version without profiles was written")
	}
}
