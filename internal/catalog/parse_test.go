package catalog

import (
	"strings"
	"testing"
)

// oneVersion is a valid catalog of one module version, which the cases below break one way each.
const oneVersion = `
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

// TestParseRefusesNamesDeclaredTwice: a name means one thing, so a name given as a version, an alias
// or an end-of-life name twice is refused with both meanings, and nothing else is reported for it.
func TestParseRefusesNamesDeclaredTwice(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"a version that is end of life", oneVersion + "  - v1.27.0\n", `"v1.27.0" is declared twice (as a version and as an end-of-life name)`},
		{"an alias that is end of life", oneVersion + "  - v1.27-latest\n", `"v1.27-latest" is declared twice (as an alias and as an end-of-life name)`},
		{"an end-of-life name twice", oneVersion + "  - v1.24.3\n", `"v1.24.3" is declared twice (as an end-of-life name and as an end-of-life name)`},
		{"an alias twice", strings.Replace(oneVersion, "endOfLife:", "  - name: v1.27-latest\n    ref: v1.27.0\nendOfLife:", 1), `"v1.27-latest" is declared twice (as an alias and as an alias)`},
		{"a version twice", strings.Replace(oneVersion, "aliases:", "  - name: v1.27.0\n    module: istio.io/istio\n    moduleVersion: v0.0.0-1\naliases:", 1), `"v1.27.0" is declared twice (as a version and as a version)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Errorf("a name declared twice gave %d problems, want 1:\n%v", n, err)
			}
		})
	}
}

// TestParseNameLengthMatchesTheCRDs: the CRDs take a spec.version of 64 characters at most, so a
// catalog name of 64 loads and one of 65, which no manifest could name, does not.
func TestParseNameLengthMatchesTheCRDs(t *testing.T) {
	for _, tc := range []struct {
		length int
		ok     bool
	}{{64, true}, {65, false}} {
		name := "v1.27.0-" + strings.Repeat("a", tc.length-len("v1.27.0-"))
		text := strings.ReplaceAll(oneVersion, "v1.27.0\n", name+"\n")
		_, err := Parse([]byte(text))
		if tc.ok && err != nil {
			t.Errorf("a version name of %d characters is refused: %v", tc.length, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), `a version "`+name+`": a name may hold 64 characters at most`)) {
			t.Errorf("a version name of %d characters gave %v", tc.length, err)
		}
	}
}

// TestParseEmptyNames: an entry without a name is reported as such, not as a malformed version.
func TestParseEmptyNames(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"version", strings.Replace(oneVersion, "aliases:", "  - module: istio.io/istio\n    moduleVersion: v0.0.0-1\naliases:", 1), "a version with an empty name"},
		{"alias", strings.Replace(oneVersion, "endOfLife:", "  - ref: v1.27.0\nendOfLife:", 1), "an alias with an empty name"},
		{"end of life", oneVersion + `  - ""` + "\n", `end-of-life name "": write it with its leading v`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseReportsEveryProblem: a vendor fixing a catalog sees all that is wrong with it at once.
func TestParseReportsEveryProblem(t *testing.T) {
	text := strings.Replace(oneVersion, "    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n", "    moduleVersion: v0.0.0-1\n    images:\n      cni: install-cni\n", 1)
	text = strings.Replace(text, "default: v1.27-latest", "default: v1.28.0", 1)
	text += "  - 1.23.1\n  - v1.23\n"
	_, err := Parse([]byte(text))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`images.cni: "install-cni" is not an image reference`,
		`end-of-life name "1.23.1": write it with its leading v`,
		`end-of-life name "v1.23": write a version`,
		`default "v1.28.0": spec.version "v1.28.0" is not a version bosun knows; set it to one of: v1.27-latest, v1.27.0`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not report %q", err, want)
		}
	}
}

// TestParseArchives: chart archives must be fetched over http(s) and carry the SHA-256 the download
// is checked against (any case of hex); an optional gateway chart is allowed.
func TestParseArchives(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	version := func(charts map[string]Archive, profiles Archive) string {
		text := "default: v1.27.3\nversions:\n  - name: v1.27.3\n    charts:\n"
		for _, name := range []string{"base", "istiod", "cni", "ztunnel", "gateway"} {
			if a, ok := charts[name]; ok {
				text += "      " + name + ": {url: \"" + a.URL + "\", sha256: \"" + a.SHA256 + "\"}\n"
			}
		}
		return text + "    profiles: {url: \"" + profiles.URL + "\", sha256: \"" + profiles.SHA256 + "\"}\n"
	}
	good := Archive{URL: "https://example.invalid/a.tgz", SHA256: sum}
	charts := func(name string, a Archive) map[string]Archive {
		m := map[string]Archive{"base": good, "istiod": good, "cni": good, "ztunnel": good}
		m[name] = a
		return m
	}
	cases := []struct {
		name     string
		charts   map[string]Archive
		profiles Archive
		want     string // "" when accepted
	}{
		{name: "https", charts: charts("istiod", good), profiles: good},
		{name: "plain http", charts: charts("istiod", Archive{URL: "http://mirror.internal/istiod.tgz", SHA256: sum}), profiles: good},
		{name: "upper-case digest", charts: charts("istiod", Archive{URL: good.URL, SHA256: strings.ToUpper(sum)}), profiles: good},
		{name: "with a gateway chart", charts: charts("gateway", good), profiles: good},
		{name: "ftp", charts: charts("cni", Archive{URL: "ftp://example.invalid/cni.tgz", SHA256: sum}), profiles: good,
			want: `version "v1.27.3": chart cni needs an http(s) url`},
		{name: "a path", charts: charts("cni", Archive{URL: "/srv/cni.tgz", SHA256: sum}), profiles: good,
			want: `chart cni needs an http(s) url`},
		{name: "a digest one digit short", charts: charts("base", Archive{URL: good.URL, SHA256: sum[1:]}), profiles: good,
			want: `chart base needs the sha256 of the archive (64 hex digits)`},
		{name: "a digest that is not hex", charts: charts("base", Archive{URL: good.URL, SHA256: strings.Repeat("g", 64)}), profiles: good,
			want: `chart base needs the sha256 of the archive`},
		{name: "a gateway chart without a digest", charts: charts("gateway", Archive{URL: good.URL}), profiles: good,
			want: `chart gateway needs the sha256 of the archive`},
		{name: "profiles without a url", charts: charts("istiod", good), profiles: Archive{SHA256: sum},
			want: `version "v1.27.3": profiles needs an http(s) url`},
		{name: "profiles without a digest", charts: charts("istiod", good), profiles: Archive{URL: good.URL},
			want: `profiles needs the sha256 of the archive`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(version(tc.charts, tc.profiles)))
			if tc.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
