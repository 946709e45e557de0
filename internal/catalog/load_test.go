package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeCatalog writes text as a catalog file in a fresh folder and returns its path.
func writeCatalog(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "versions.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const vendorText = `
default: v1.29-latest
versions:
  - name: v1.29.6
    module: istio.io/istio
    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5
aliases:
  - name: v1.29-latest
    ref: v1.29.6
`

// TestLoadChoosesTheCatalog: --versions-file wins over BOSUN_VERSIONS_FILE, which wins over the
// built-in catalog, so a vendor's operator never silently runs with the built-in versions.
func TestLoadChoosesTheCatalog(t *testing.T) {
	vendor := writeCatalog(t, vendorText)
	other := writeCatalog(t, strings.ReplaceAll(vendorText, "v1.29", "v1.30"))
	cases := []struct {
		name, path, env, wantDefault string
	}{
		{name: "neither", wantDefault: Embedded().Default()},
		{name: "the environment", env: vendor, wantDefault: "v1.29-latest"},
		{name: "the flag", path: vendor, wantDefault: "v1.29-latest"},
		{name: "the flag over the environment", path: other, env: vendor, wantDefault: "v1.30-latest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvFile, tc.env)
			c, err := Load(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if c.Default() != tc.wantDefault {
				t.Errorf("Load(%q) with %s=%q has default %s, want %s", tc.path, EnvFile, tc.env, c.Default(), tc.wantDefault)
			}
		})
	}
}

// TestLoadNamesTheBrokenFile: a vendor's broken catalog stops bosun with the file's path and every
// problem in it, so the vendor knows which file to fix and what to change.
func TestLoadNamesTheBrokenFile(t *testing.T) {
	broken := strings.Replace(vendorText, "ref: v1.29.6", "ref: v1.29.7", 1)
	broken = strings.Replace(broken, "    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", "", 1)
	path := writeCatalog(t, broken)
	t.Setenv(EnvFile, path)
	_, err := Load("")
	if err == nil {
		t.Fatal("a broken catalog was loaded")
	}
	for _, want := range []string{
		"version catalog " + path + ":",
		`module istio.io/istio needs a moduleVersion`,
		`alias "v1.29-latest" refers to "v1.29.7", which is not a version in the catalog`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
}

// TestChartsFolder: the charts come from the flag, else $BOSUN_RESOURCES, else ./resources, and a
// missing folder says how to fill it.
func TestChartsFolder(t *testing.T) {
	flagDir, envDir, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{flagDir, envDir, filepath.Join(cwd, "resources")} {
		if err := os.MkdirAll(filepath.Join(dir, "v1.27.0"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "v1.27.0", "from"), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(cwd)
	cases := []struct {
		name, dir, env, want string
	}{
		{name: "the flag", dir: flagDir, env: envDir, want: flagDir},
		{name: "the environment", env: envDir, want: envDir},
		{name: "the working directory", want: filepath.Join(cwd, "resources")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvResources, tc.env)
			fsys, err := Charts(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			data, err := fs.ReadFile(fsys, "v1.27.0/from")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(data); got != tc.want {
				t.Errorf("Charts(%q) with %s=%q reads %s, want %s", tc.dir, EnvResources, tc.env, got, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		t.Setenv(EnvResources, "")
		missing := filepath.Join(cwd, "nothing-here")
		_, err := Charts(missing)
		if err == nil {
			t.Fatal("a missing folder of charts was accepted")
		}
		for _, want := range []string{missing, "run make charts", "--resources-dir", "$" + EnvResources} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}

// TestOrderOfNames: Supported, Names and ConcreteNames are what the admission policies and every
// refusal list, so their order is what users read: aliases in file order, then versions newest first
// whatever their order in the file, then end-of-life names in file order.
func TestOrderOfNames(t *testing.T) {
	c, err := Parse([]byte(`
default: v1.27-latest
versions:
  - {name: v1.26.1, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.28.0-rc.1, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.27.2, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.28.0, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.27.10, module: istio.io/istio, moduleVersion: v0.0.0-x}
aliases:
  - {name: v1.27-latest, ref: v1.27.10}
  - {name: latest, ref: v1.28.0}
endOfLife: [v1.22.1, v1.22-latest, v1.21.0]
`))
	if err != nil {
		t.Fatal(err)
	}
	versions := []string{"v1.28.0", "v1.28.0-rc.1", "v1.27.10", "v1.27.2", "v1.26.1"}
	supported := append([]string{"v1.27-latest", "latest"}, versions...)
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"Supported", c.Supported(), supported},
		{"Names", c.Names(), append(slices.Clone(supported), "v1.22.1", "v1.22-latest", "v1.21.0")},
		{"ConcreteNames", c.ConcreteNames(), append(slices.Clone(versions), "v1.22.1", "v1.21.0")},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v\nwant %v", tc.name, tc.got, tc.want)
		}
	}
	// Sorting must not detach names from their versions: each name still resolves to itself.
	for _, name := range versions {
		if v, err := c.Resolve(name); err != nil || v.Name != name {
			t.Errorf("Resolve(%s) = %s, %v", name, v.Name, err)
		}
	}
	if v, err := c.Resolve("v1.27-latest"); err != nil || v.Name != "v1.27.10" {
		t.Errorf("Resolve(v1.27-latest) = %s, %v; want v1.27.10", v.Name, err)
	}
}

// TestListsAreCopies: a caller that edits a list it was given (the policies append to them) does not
// change the catalog every other caller shares.
func TestListsAreCopies(t *testing.T) {
	c := Embedded()
	want := c.Supported()
	versions := c.Versions()
	newest := versions[0].Name
	versions[0].Name = "changed"
	supported := c.Supported()
	supported[0] = "changed"
	if got := c.Supported(); !slices.Equal(got, want) {
		t.Errorf("after editing returned lists, Supported = %v, want %v", got, want)
	}
	if v, err := c.Resolve(newest); err != nil || v.Name != newest {
		t.Errorf("after editing Versions(), Resolve(%s) = %s, %v", newest, v.Name, err)
	}
}
