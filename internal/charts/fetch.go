package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/gomod"
)

// Fetcher brings the charts and profiles of catalog versions into a folder, out/<version>/.
type Fetcher struct {
	// Out is the folder, Log where progress goes.
	Out string
	Log io.Writer
	// download fetches a module; tests replace it.
	download func(module string) (gomod.Module, error)
	client   *http.Client
}

// moduleCharts maps the chart folders of istio.io/istio's manifests/charts to the names bosun uses.
var moduleCharts = map[string]string{
	"base":                          "base",
	"istio-control/istio-discovery": "istiod",
	"istio-cni":                     "cni",
	"ztunnel":                       "ztunnel",
	"gateway":                       "gateway",
}

// stampFile records, in resources/<version>/, the source the version was fetched from.
const stampFile = ".source"

// Fetch brings one version's charts and profiles into out/<name>, unless they are there already from
// the same source. It writes into a temporary folder and renames it into place, so an interrupted run
// never leaves a half-written version that a later run would take as complete.
func (f *Fetcher) Fetch(v catalog.Version) error {
	dest := filepath.Join(f.Out, v.Name)
	var source string
	var fill func(tmp string) error
	switch {
	case v.Module != "":
		mod := v.Module + "@" + v.ModuleVersion
		fmt.Fprintf(f.Log, "charts: %s: go mod download %s (the first download of a module takes a while)\n", v.Name, mod)
		download := f.download
		if download == nil {
			download = func(mod string) (gomod.Module, error) { return gomod.Download("", mod) }
		}
		m, err := download(mod)
		if err != nil {
			return err
		}
		source = mod + " " + m.Sum
		fill = func(tmp string) error { return copyFromModule(m.Dir, tmp) }
	default:
		source = archivesSource(v)
		fill = func(tmp string) error { return f.downloadArchives(v, tmp) }
	}
	if have, err := os.ReadFile(filepath.Join(dest, stampFile)); err == nil && string(have) == source {
		fmt.Fprintf(f.Log, "charts: %s: up to date\n", v.Name)
		return nil
	}

	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(f.Out, ".fetch-"+v.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, stampFile), []byte(source), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dest); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	fmt.Fprintf(f.Log, "charts: %s: wrote %s\n", v.Name, dest)
	return nil
}

// copyFromModule copies the charts and profiles of an istio.io/istio module folder into dest.
func copyFromModule(moduleDir, dest string) error {
	for from, to := range moduleCharts {
		if err := copyTree(filepath.Join(moduleDir, "manifests", "charts", from), filepath.Join(dest, "charts", to)); err != nil {
			return err
		}
	}
	return copyTree(filepath.Join(moduleDir, "manifests", "profiles"), filepath.Join(dest, "profiles"))
}

// copyTree copies regular files, making them writable: the module cache keeps them read-only.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// archivesSource names a version's archives, URLs and digests, for the stamp file.
func archivesSource(v catalog.Version) string {
	var lines []string
	for name, a := range v.Charts {
		lines = append(lines, "chart "+name+" "+a.URL+" "+a.SHA256)
	}
	sort.Strings(lines)
	if v.Profiles != nil {
		lines = append(lines, "profiles "+v.Profiles.URL+" "+v.Profiles.SHA256)
	}
	return strings.Join(lines, "\n")
}

// downloadArchives fetches a version's chart archives into dest/charts/<name> and its profiles
// archive into dest/profiles. Each archive must match its SHA-256 before anything is unpacked; each
// holds one top folder (the chart's, or the profiles'), whose contents land in the folder bosun names.
func (f *Fetcher) downloadArchives(v catalog.Version, dest string) error {
	for name, a := range v.Charts {
		if err := f.downloadArchive(a, filepath.Join(dest, "charts", name), untarChart); err != nil {
			return err
		}
	}
	if v.Profiles == nil {
		return fmt.Errorf("no profiles archive")
	}
	return f.downloadArchive(*v.Profiles, filepath.Join(dest, "profiles"), untarProfiles)
}

func (f *Fetcher) downloadArchive(a catalog.Archive, dest string, unpack func(io.Reader, string) error) error {
	client := f.client
	if client == nil {
		client = http.DefaultClient
	}
	fmt.Fprintf(f.Log, "charts: downloading %s\n", a.URL)
	resp, err := client.Get(a.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", a.URL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", a.URL, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, a.SHA256) {
		return fmt.Errorf("%s has sha256 %s, but the catalog says %s; refusing to use it", a.URL, got, a.SHA256)
	}
	if err := unpack(bytes.NewReader(data), dest); err != nil {
		return fmt.Errorf("unpacking %s: %w", a.URL, err)
	}
	return nil
}

// untarProfiles writes the profile files of an archive into dest: every .yaml file in a folder named
// profiles, wherever it is, so that Istio's release archive (istio-X/manifests/profiles/) serves as
// well as an archive of the profiles alone.
func untarProfiles(r io.Reader, dest string) error {
	found := 0
	err := eachFile(r, func(name string, data []byte) error {
		if path.Base(path.Dir(name)) != "profiles" || path.Ext(name) != ".yaml" {
			return nil
		}
		found++
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dest, path.Base(name)), data, 0o644)
	})
	if err == nil && found == 0 {
		err = errors.New("no profiles/*.yaml in the archive")
	}
	return err
}

// eachFile calls fn with the clean path and contents of every regular file of a .tgz, refusing paths
// that climb out of the archive.
func eachFile(r io.Reader, fn func(name string, data []byte) error) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		clean := path.Clean(filepath.ToSlash(h.Name))
		if clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
			return fmt.Errorf("unexpected path %q in the archive", h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return err
		}
		if err := fn(clean, data); err != nil {
			return err
		}
	}
}

// untarChart writes a chart archive into dest, without the chart's own top folder.
func untarChart(r io.Reader, dest string) error {
	return eachFile(r, func(name string, data []byte) error {
		_, rel, ok := strings.Cut(name, "/")
		if !ok || rel == "" {
			return fmt.Errorf("unexpected path %q in the chart archive", name)
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
