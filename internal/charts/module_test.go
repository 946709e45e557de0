package charts

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/gomod"
)

// TestFetchFromModuleCopiesOnlyWhatBosunRenders: from istio.io/istio's module, the five charts land
// under the names bosun uses and the profiles under profiles/; other charts, other folders and links
// of the module are left out, and the copies are writable although the module cache's are not.
func TestFetchFromModuleCopiesOnlyWhatBosunRenders(t *testing.T) {
	module := fakeModule(t)
	for _, extra := range []string{"manifests/charts/istio-operator/Chart.yaml", "manifests/helm-profiles/x.yaml", "pilot/main.go"} {
		p := filepath.Join(module, extra)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("extra"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(module, "manifests", "profiles", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	var asked []string
	out := t.TempDir()
	f := &Fetcher{Out: out, Log: io.Discard, download: func(mod string) (gomod.Module, error) {
		asked = append(asked, mod)
		return gomod.Module{Dir: module, Sum: "h1:abc="}, nil
	}}
	v := catalog.Version{Name: "v1.27.0-snapshot.b9159ca3", Module: "istio.io/istio", ModuleVersion: "v0.0.0-20260403063052-b9159ca3e5d5"}
	if err := f.Fetch(v); err != nil {
		t.Fatal(err)
	}
	if want := "istio.io/istio@v0.0.0-20260403063052-b9159ca3e5d5"; len(asked) != 1 || asked[0] != want {
		t.Errorf("downloaded %q, want %q", asked, want)
	}
	dir := filepath.Join(out, v.Name)
	got := tree(t, dir)
	want := []string{
		".source: istio.io/istio@v0.0.0-20260403063052-b9159ca3e5d5 h1:abc=",
		"charts/base/Chart.yaml: name: manifests/charts/base/Chart.yaml",
		"charts/cni/Chart.yaml: name: manifests/charts/istio-cni/Chart.yaml",
		"charts/gateway/Chart.yaml: name: manifests/charts/gateway/Chart.yaml",
		"charts/istiod/Chart.yaml: name: manifests/charts/istio-control/istio-discovery/Chart.yaml",
		"charts/ztunnel/Chart.yaml: name: manifests/charts/ztunnel/Chart.yaml",
		"profiles/default.yaml: name: manifests/profiles/default.yaml",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fetched\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	info, err := os.Stat(filepath.Join(dir, "charts", "istiod", "Chart.yaml"))
	if err != nil || info.Mode().Perm()&0o200 == 0 {
		t.Errorf("a copied chart file has mode %v, %v; want it writable", info.Mode(), err)
	}
}

// TestFetchFromModuleFailures: a module that cannot be downloaded, or that lacks a folder bosun
// copies, fails the fetch and leaves no version behind.
func TestFetchFromModuleFailures(t *testing.T) {
	v := catalog.Version{Name: "v1.27.0", Module: "istio.io/istio", ModuleVersion: "v0.0.0-x"}
	cases := []struct {
		name     string
		download func(string) (gomod.Module, error)
		want     string
	}{
		{name: "the download fails", want: "410 Gone", download: func(mod string) (gomod.Module, error) {
			return gomod.Module{}, errors.New("go mod download " + mod + ": 410 Gone")
		}},
		{name: "the module has no profiles", want: "profiles", download: func(string) (gomod.Module, error) {
			m := fakeModule(t)
			if err := os.RemoveAll(filepath.Join(m, "manifests", "profiles")); err != nil {
				t.Fatal(err)
			}
			return gomod.Module{Dir: m, Sum: "h1:x="}, nil
		}},
		{name: "the module has no ztunnel chart", want: "ztunnel", download: func(string) (gomod.Module, error) {
			m := fakeModule(t)
			if err := os.RemoveAll(filepath.Join(m, "manifests", "charts", "ztunnel")); err != nil {
				t.Fatal(err)
			}
			return gomod.Module{Dir: m, Sum: "h1:x="}, nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			err := (&Fetcher{Out: out, Log: io.Discard, download: tc.download}).Fetch(v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one about %q", err, tc.want)
			}
			entries, _ := os.ReadDir(out)
			if len(entries) != 0 {
				t.Errorf("a failed fetch left %v in the output folder", entries)
			}
		})
	}
}

// TestFetchLogsWhatItDoes: make charts says which module it downloads (the first download takes a
// while), and where each version was written or that it was up to date.
func TestFetchLogsWhatItDoes(t *testing.T) {
	module := fakeModule(t)
	out := t.TempDir()
	var log bytes.Buffer
	f := &Fetcher{Out: out, Log: &log, download: func(string) (gomod.Module, error) { return gomod.Module{Dir: module, Sum: "h1:x="}, nil }}
	v := catalog.Version{Name: "v1.27.0", Module: "istio.io/istio", ModuleVersion: "v0.0.0-x"}
	for range 2 {
		if err := f.Fetch(v); err != nil {
			t.Fatal(err)
		}
	}
	// In this order: the download, the folder written, then on the second run the download (the
	// module's checksum is what says whether the charts are up to date) and the skip.
	rest := log.String()
	for _, want := range []string{
		"v1.27.0: go mod download istio.io/istio@v0.0.0-x",
		"v1.27.0: wrote " + filepath.Join(out, "v1.27.0"),
		"v1.27.0: go mod download istio.io/istio@v0.0.0-x",
		"v1.27.0: up to date",
	} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("the log does not say %q next:\n%s", want, log.String())
		}
		rest = rest[i+len(want):]
	}
}
