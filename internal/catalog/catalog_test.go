package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	c := Embedded()
	cases := []struct {
		name    string
		want    string // concrete version, or "" when an error is expected
		wantEOL bool
	}{
		{name: "v1.27-latest", want: "v1.27.0-snapshot.b9159ca3"},
		{name: "v1.25-latest", want: "v1.25.0-snapshot.be4b14ad"},
		{name: "v1.31-latest", want: "v1.31.0-snapshot.eed52ebb"},
		{name: "latest", want: "v1.31.0-snapshot.eed52ebb"},
		{name: "v1.27.0-snapshot.b9159ca3", want: "v1.27.0-snapshot.b9159ca3"},
		{name: "1.27.0-snapshot.b9159ca3", want: "v1.27.0-snapshot.b9159ca3"},
		{name: "v1.24.3", wantEOL: true},
		{name: "1.28.5", wantEOL: true},
		{name: "v1.24-latest", wantEOL: true},
		{name: "v1.99.0"},
		{name: "master"},
		{name: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Resolve(tc.name)
			var eol *EndOfLifeError
			var unknown *UnknownVersionError
			switch {
			case tc.want != "":
				if err != nil {
					t.Fatalf("Resolve(%q): %v", tc.name, err)
				}
				if got.Name != tc.want {
					t.Errorf("Resolve(%q) = %s, want %s", tc.name, got.Name, tc.want)
				}
			case tc.wantEOL:
				if !errors.As(err, &eol) {
					t.Fatalf("Resolve(%q) error = %v, want end of life", tc.name, err)
				}
			default:
				if !errors.As(err, &unknown) {
					t.Fatalf("Resolve(%q) error = %v, want unknown version", tc.name, err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "v1.27-latest") {
				t.Errorf("the error does not name the supported versions: %v", err)
			}
		})
	}
}

func TestEmbeddedCatalog(t *testing.T) {
	c := Embedded()
	if c.Default() != "v1.27-latest" {
		t.Errorf("default = %s", c.Default())
	}
	versions := c.Versions()
	if len(versions) != 3 {
		t.Fatalf("want 3 versions, got %d", len(versions))
	}
	for i := 1; i < len(versions); i++ {
		if !versions[i-1].Semver.GreaterThan(versions[i].Semver) {
			t.Errorf("versions are not newest first: %s before %s", versions[i-1].Name, versions[i].Name)
		}
	}
	for _, v := range versions {
		if v.Module != "istio.io/istio" || v.ModuleVersion == "" {
			t.Errorf("%s has no module source", v.Name)
		}
		// A snapshot never claims to be a release (DESIGN decision 8).
		if !strings.Contains(v.Name, "-snapshot.") || !strings.Contains(v.ModuleVersion, strings.TrimPrefix(v.Semver.Prerelease(), "snapshot.")) {
			t.Errorf("%s does not name the commit of %s", v.Name, v.ModuleVersion)
		}
	}
	for _, name := range c.ConcreteNames() {
		if strings.HasSuffix(name, "-latest") || name == "latest" {
			t.Errorf("ConcreteNames contains the alias %s", name)
		}
	}
}

func TestParseRefusesMalformedCatalogs(t *testing.T) {
	const good = `
default: v1.27-latest
versions:
  - name: v1.27.0
    module: istio.io/istio
    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5
aliases:
  - name: v1.27-latest
    ref: v1.27.0
endOfLife:
  - v1.24.3
`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("the well-formed catalog is refused: %v", err)
	}
	cases := []struct {
		name string
		text string
		want string
	}{
		{"duplicate version", good + "  - v1.27.0\n", `"v1.27.0" is declared twice`},
		{"alias to nothing", strings.Replace(good, "ref: v1.27.0", "ref: v1.26.0", 1), `alias "v1.27-latest" refers to "v1.26.0", which is not a version`},
		{"alias to an alias", good[:strings.Index(good, "endOfLife")] + "  - name: latest\n    ref: v1.27-latest\n", `alias "latest" refers to alias "v1.27-latest"`},
		{"alias to an end-of-life name", strings.Replace(good, "ref: v1.27.0", "ref: v1.24.3", 1), `refers to end-of-life "v1.24.3"`},
		{"alias without ref", strings.Replace(good, "    ref: v1.27.0\n", "", 1), `alias "v1.27-latest" has no ref`},
		{"name with build metadata", strings.Replace(strings.Replace(good, "name: v1.27.0\n", "name: v1.27.0+ossm.1\n", 1), "ref: v1.27.0", "ref: v1.27.0+ossm.1", 1), `may not hold upper-case letters or build metadata`},
		{"name with upper case", strings.Replace(strings.Replace(good, "name: v1.27.0\n", "name: v1.27.0-RC1\n", 1), "ref: v1.27.0", "ref: v1.27.0-RC1", 1), `may not hold upper-case letters`},
		{"name that is not a version", strings.Replace(good, "name: v1.27.0\n", "name: stable\n", 1), `version "stable": a name must be v followed by a semantic version`},
		{"no chart source", strings.Replace(good, "    module: istio.io/istio\n    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", "", 1), `no chart source`},
		{"module and charts", strings.Replace(good, "    module: istio.io/istio\n", "    module: istio.io/istio\n    charts:\n      istiod:\n        url: https://example.invalid/istiod.tgz\n", 1), `not both`},
		{"chart URLs without digests", strings.Replace(good, "    module: istio.io/istio\n    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", urlCharts(false, true), 1), `chart istiod needs the sha256 of the archive`},
		{"chart URLs without profiles", strings.Replace(good, "    module: istio.io/istio\n    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", urlCharts(true, false), 1), `chart URLs need a profiles archive too`},
		{"chart URLs missing a chart", strings.Replace(good, "    module: istio.io/istio\n    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", strings.Replace(urlCharts(true, true), "      ztunnel:", "      gateway:", 1), 1), `version "v1.27.0": no ztunnel chart`},
		{"minor alias to another minor", strings.Replace(good, "name: v1.27-latest", "name: v1.26-latest", 1), `alias "v1.26-latest" refers to "v1.27.0", which is not a v1.26 version`},
		{"end-of-life name without its v", good + "  - 1.24.4\n", `end-of-life name "1.24.4": write it with its leading v`},
		{"module without version", strings.Replace(good, "    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", "", 1), `needs a moduleVersion`},
		{"default unknown", strings.Replace(good, "default: v1.27-latest", "default: v1.30.0", 1), `default "v1.30.0"`},
		{"default end of life", strings.Replace(good, "default: v1.27-latest", "default: v1.24.3", 1), `end of life`},
		{"no default", strings.Replace(good, "default: v1.27-latest\n", "", 1), `no default version`},
		{"unknown field", good + "extra: true\n", `unknown field "extra"`},
		// The CRDs accept these shapes only; a name of another shape could never be applied.
		{"alias of another shape", strings.Replace(strings.Replace(good, "name: v1.27-latest", "name: stable", 1), "default: v1.27-latest", "default: v1.27.0", 1), `alias "stable": an alias is named latest or vX.Y-latest`},
		{"alias without its v", strings.Replace(strings.Replace(good, "name: v1.27-latest", "name: 1.27-latest", 1), "default: v1.27-latest", "default: v1.27.0", 1), `alias "1.27-latest": an alias is named latest or vX.Y-latest`},
		{"end-of-life name of another shape", good + "  - v1.24\n", `end-of-life name "v1.24": write a version such as v1.24.3 or an alias such as v1.24-latest`},
		{"name longer than the CRDs take", good + "  - v1.24.3-" + strings.Repeat("a", 60) + "\n", `a name may hold 64 characters at most`},
		{"unknown image", withImages(good, "    images:\n      pilot: docker.io/istio/pilot:1.27.0\n"), `unknown field "pilot"`},
		{"empty", "", "no versions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// withImages adds an images section to the first version of a catalog text.
func withImages(catalog, images string) string {
	return strings.Replace(catalog, "    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", "    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n"+images, 1)
}

// TestImagePins checks what a pin may be: Istio's charts use a value containing "/" as the whole image
// reference, so a pin must name its registry, and it must say which build (tag or digest).
func TestImagePins(t *testing.T) {
	const base = `
default: v1.27.0
versions:
  - name: v1.27.0
    module: istio.io/istio
    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5
`
	digest := "sha256:" + strings.Repeat("0f", 32)
	cases := []struct {
		ref  string
		want string // "" when the pin is accepted
	}{
		{ref: "docker.io/istio/pilot:1.27.3"},
		{ref: "registry.example.com/mesh/istio/proxyv2@" + digest},
		{ref: "registry.example.com:5000/istio/pilot:1.27.3@" + digest},
		{ref: "localhost:5000/pilot:dev"},
		{ref: "localhost/pilot:dev"},
		{ref: "istio/pilot:1.27.3", want: "does not name its registry"},
		{ref: "pilot:1.27.3", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot", want: "has neither a tag nor a digest"},
		{ref: "docker.io/Istio/pilot:1.27.3", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot:1.27.3 ", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot@sha256:abc", want: "is not an image reference"},
		{ref: "docker.io/" + strings.Repeat("a", 250) + ":1", want: "has a name longer than 255 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			text := withImages(base, "    images:\n      istiod: \""+tc.ref+"\"\n")
			c, err := Parse([]byte(text))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := c.Versions()[0].Images.Istiod; got != tc.ref {
					t.Errorf("images.istiod = %q, want %q", got, tc.ref)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			for _, part := range []string{`version "v1.27.0": images.istiod: "` + tc.ref + `" ` + tc.want, "such as docker.io/istio/pilot:1.27.3"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q\ndoes not contain %q", err, part)
				}
			}
		})
	}

	every := withImages(base, "    images:\n      istiod: docker.io/istio/pilot:1.27.3\n      proxy: docker.io/istio/proxyv2:1.27.3\n      cni: docker.io/istio/install-cni:1.27.3\n      ztunnel: docker.io/istio/ztunnel:1.27.3\n")
	c, err := Parse([]byte(every))
	if err != nil {
		t.Fatal(err)
	}
	want := Images{Istiod: "docker.io/istio/pilot:1.27.3", Proxy: "docker.io/istio/proxyv2:1.27.3", CNI: "docker.io/istio/install-cni:1.27.3", ZTunnel: "docker.io/istio/ztunnel:1.27.3"}
	if got := c.Versions()[0].Images; got != want {
		t.Errorf("images = %+v, want %+v", got, want)
	}
	bad := withImages(base, "    images:\n      proxy: proxyv2\n      ztunnel: docker.io/istio/ztunnel\n")
	_, err = Parse([]byte(bad))
	for _, part := range []string{"images.proxy", "images.ztunnel"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("error %v does not report %s: every problem is reported at once", err, part)
		}
	}
}

func TestLoadFromEnvironment(t *testing.T) {
	path := t.TempDir() + "/versions.yaml"
	t.Setenv(EnvFile, path)
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "reading the version catalog") {
		t.Fatalf("a missing file gave %v", err)
	}
}

// urlCharts is a version's chart source as release archives, with or without digests and profiles.
func urlCharts(digests, profiles bool) string {
	sum := ""
	if digests {
		sum = "\n        sha256: " + strings.Repeat("ab", 32)
	}
	text := "    charts:\n"
	for _, c := range []string{"base", "istiod", "cni", "ztunnel"} {
		text += "      " + c + ":\n        url: https://example.invalid/" + c + ".tgz" + sum + "\n"
	}
	if profiles {
		text += "    profiles:\n      url: https://example.invalid/profiles.tgz" + strings.Replace(sum, "        ", "      ", 1) + "\n"
	}
	return text
}

func TestParseAcceptsReleaseArchives(t *testing.T) {
	text := "default: v1.27-latest\nversions:\n  - name: v1.27.3\n" + urlCharts(true, true) + "aliases:\n  - name: v1.27-latest\n    ref: v1.27.3\n"
	c, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("a catalog of release archives is refused: %v", err)
	}
	v, err := c.Resolve("v1.27-latest")
	if err != nil || v.Charts["istiod"].URL != "https://example.invalid/istiod.tgz" || v.Profiles == nil {
		t.Errorf("Resolve = %+v, %v", v, err)
	}
}
