package catalog

import (
	"errors"
	"strings"
	"testing"
)

// TestRefusalsSayWhatToSet: an end-of-life or unknown spec.version is refused with the name as the
// resource wrote it and every name bosun installs, aliases first, so the message says what to change.
func TestRefusalsSayWhatToSet(t *testing.T) {
	c := Embedded()
	supported := "latest, v1.31-latest, v1.27-latest, v1.25-latest, v1.31.0-snapshot.eed52ebb, v1.27.0-snapshot.b9159ca3, v1.25.0-snapshot.be4b14ad"
	cases := []struct {
		name string
		want string
	}{
		{"1.28.5", "Istio 1.28.5 is end of life and bosun does not install it; set spec.version to a supported version: " + supported},
		{"v1.21-latest", "Istio v1.21-latest is end of life and bosun does not install it; set spec.version to a supported version: " + supported},
		{"v1.99.0", `spec.version "v1.99.0" is not a version bosun knows; set it to one of: ` + supported},
		{"V1.27.0-snapshot.b9159ca3", `spec.version "V1.27.0-snapshot.b9159ca3" is not a version bosun knows; set it to one of: ` + supported},
		{"1.27-latest", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Resolve(tc.name)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Resolve(%q): %v", tc.name, err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("Resolve(%q) error\n%v\nwant\n%s", tc.name, err, tc.want)
			}
		})
	}
	var eol *EndOfLifeError
	if _, err := c.Resolve("1.28.5"); !errors.As(err, &eol) || eol.Name != "1.28.5" || len(eol.Supported) != 7 {
		t.Errorf("Resolve(1.28.5) = %#v, want an EndOfLifeError naming 1.28.5 and the 7 supported names", err)
	}
}

// TestCanonical: a version without its leading v means the version with it, and nothing else is
// rewritten.
func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"1.28.5":      "v1.28.5",
		"v1.28.5":     "v1.28.5",
		"1.27-latest": "v1.27-latest",
		"latest":      "latest",
		"":            "",
		"V1.28.5":     "V1.28.5",
		"0.1.0":       "v0.1.0",
		"9.9.9-rc.1":  "v9.9.9-rc.1",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseVersion: a revision's version is read whether or not the catalog lists it, keeps the name
// as written, and a name that is not a version says so.
func TestParseVersion(t *testing.T) {
	cases := []struct {
		name, minor, prerelease string
		bad                     bool
	}{
		{name: "v1.27.3", minor: "1.27"},
		{name: "1.27.3", minor: "1.27"},
		{name: "v1.27.0-snapshot.b9159ca3", minor: "1.27", prerelease: "snapshot.b9159ca3"},
		{name: "v1.99.0", minor: "1.99"},
		{name: "v2.0.0", minor: "2.0"},
		{name: "v1.27", bad: true},
		{name: "v1.27-latest", bad: true},
		{name: "latest", bad: true},
		{name: "", bad: true},
		{name: "v01.27.3", bad: true},
		{name: "v1.27.3.1", bad: true},
		{name: "vv1.27.3", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVersion(tc.name)
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), `"`+tc.name+`" is not a version`) {
					t.Errorf("ParseVersion(%q) = %+v, %v; want an error naming it", tc.name, v, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Name != tc.name || v.Minor() != tc.minor || v.Semver.Prerelease() != tc.prerelease {
				t.Errorf("ParseVersion(%q) = name %q, minor %q, prerelease %q; want %q, %q, %q",
					tc.name, v.Name, v.Minor(), v.Semver.Prerelease(), tc.name, tc.minor, tc.prerelease)
			}
		})
	}
}
