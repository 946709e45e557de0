package main

import (
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestSelectedVersions: -version takes names and aliases, "default" is the catalog's default (what
// make demo prefetches), a version named twice is built once, and an unknown name is refused.
func TestSelectedVersions(t *testing.T) {
	cat := catalog.Embedded()
	def, err := cat.Resolve(cat.Default())
	if err != nil {
		t.Fatal(err)
	}
	names := func(only string) string {
		t.Helper()
		versions, err := selected(cat, only)
		if err != nil {
			t.Fatalf("-version %q: %v", only, err)
		}
		var names []string
		for _, v := range versions {
			names = append(names, v.Name)
		}
		return strings.Join(names, ",")
	}
	if got := names("default"); got != def.Name {
		t.Errorf("-version default selects %q, want the catalog's default %q", got, def.Name)
	}
	if got := names(cat.Default() + "," + def.Name); got != def.Name {
		t.Errorf("-version naming %s as alias and as name selects %q, want it once", def.Name, got)
	}
	if got, want := len(strings.Split(names(""), ",")), len(cat.Versions()); got != want {
		t.Errorf("no -version selects %d versions, want all %d (every catalog version comes from a module)", got, want)
	}
	if got := names("default,"); got != def.Name {
		t.Errorf("-version default, (a trailing comma) selects %q, want %q", got, def.Name)
	}
	if _, err := selected(cat, "v0.1.0"); err == nil || !strings.Contains(err.Error(), "-version v0.1.0") || !strings.Contains(err.Error(), "default") {
		t.Errorf("-version v0.1.0, not in the catalog: got %v, want an error that names the flag and the choices", err)
	}
}
