package demo

import (
	"fmt"
	"os"
	"strings"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// Version is the Istio version the demo installs.
type Version struct {
	// Name is what the demo's Istio and IstioCNI say in spec.version: the catalog's alias for the
	// version when it has one (v1.31-latest), as a user writes it, else the version's name.
	Name string
	// Resolved is the catalog version Name stands for.
	Resolved string
	// Note says why this version and not the catalog's default, or is empty.
	Note string
}

// Builder builds pilot-discovery of a catalog version into <dir>/<version>/, as
// `go run ./hack/istiodbins -version <version>` does, leaving pilot-discovery.failed with the
// reason when it cannot be built.
type Builder func(version string) error

// ChooseVersion picks the Istio version the demo installs: the catalog's default when its
// pilot-discovery is built or builds, else the newest version whose pilot-discovery does, because an
// istiod without a process serves no webhook and nothing would be injected. A version is tried at
// most once: a build is only attempted (with build, when not nil) for a version that has neither a
// binary nor a recorded failure in istiodDir.
func ChooseVersion(cat *catalog.Catalog, istiodDir string, build Builder) (Version, error) {
	def, err := cat.Resolve(cat.Default())
	if err != nil {
		return Version{}, fmt.Errorf("the catalog's default %q: %w", cat.Default(), err)
	}
	candidates := []catalog.Version{def}
	for _, v := range cat.Versions() {
		if v.Name != def.Name {
			candidates = append(candidates, v)
		}
	}
	var skipped []string
	for _, v := range candidates {
		ok, why := IstiodReady(istiodDir, v.Name, build)
		if !ok {
			skipped = append(skipped, fmt.Sprintf("%s: %s", v.Name, why))
			continue
		}
		chosen := Version{Name: aliasOf(cat, v.Name), Resolved: v.Name}
		if v.Name != def.Name {
			chosen.Note = fmt.Sprintf("the catalog's default %s (%s) has no istiod here (%s), so the demo installs the newest version that has one",
				cat.Default(), def.Name, strings.TrimPrefix(skipped[0], def.Name+": "))
		}
		return chosen, nil
	}
	return Version{}, fmt.Errorf("no catalog version has a pilot-discovery build in %s: %s", istiodDir, strings.Join(skipped, "; "))
}

// istiodReady reports whether <dir>/<version>/pilot-discovery exists, building it first when it was
// never tried; otherwise it says why not.
func IstiodReady(dir, version string, build Builder) (bool, string) {
	binary := repo.PilotDiscovery(dir, version)
	if regular(binary) {
		return true, ""
	}
	if reason, err := os.ReadFile(binary + ".failed"); err == nil {
		return false, "its build failed: " + failure(reason)
	}
	if build == nil {
		return false, "not built"
	}
	if err := build(version); err != nil {
		return false, "building it: " + err.Error()
	}
	if regular(binary) {
		return true, ""
	}
	if reason, err := os.ReadFile(binary + ".failed"); err == nil {
		return false, "its build failed: " + failure(reason)
	}
	return false, "the build left no " + binary
}

// failure is the reason hack/istiodbins records in pilot-discovery.failed: after the stamp and a
// "---" line, the go command's first error.
func failure(record []byte) string {
	_, reason, found := strings.Cut(string(record), "\n---\n")
	if !found {
		reason = string(record)
	}
	reason = strings.TrimSpace(reason)
	const max = 160
	if len(reason) > max {
		reason = reason[:max] + "…"
	}
	return reason
}

func regular(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// aliasOf returns the vX.Y-latest alias that resolves to version, or version itself.
func aliasOf(cat *catalog.Catalog, version string) string {
	v, err := catalog.ParseVersion(version)
	if err != nil {
		return version
	}
	alias := "v" + v.Minor() + "-latest"
	if got, err := cat.Resolve(alias); err == nil && got.Name == version {
		return alias
	}
	return version
}
