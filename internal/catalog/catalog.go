// Package catalog knows which Istio versions bosun can install: concrete versions with the source of
// their charts, aliases that follow them (vX.Y-latest, latest), and end-of-life names that the API still
// accepts but bosun refuses to install.
//
// The catalog is a YAML file (versions.yaml beside this file is embedded as the default). Vendors point
// bosun at another file with --versions-file or BOSUN_VERSIONS_FILE; it is validated when loaded, so a
// broken file stops bosun at start-up rather than in the middle of an upgrade.
package catalog

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// EnvFile names the environment variable that points bosun at another catalog file.
const EnvFile = "BOSUN_VERSIONS_FILE"

//go:embed versions.yaml
var embedded []byte

// Version is a concrete Istio version bosun can install.
type Version struct {
	// Name is what spec.version says, such as v1.27.0-snapshot.b9159ca3.
	Name string `json:"name"`
	// Semver is the version as a semantic version, without the leading v.
	Semver *semver.Version `json:"-"`
	// Module and ModuleVersion locate the charts in a Go module (istio.io/istio at a version).
	Module        string `json:"module,omitempty"`
	ModuleVersion string `json:"moduleVersion,omitempty"`
	// Charts maps chart names (base, istiod, cni, ztunnel, and optionally gateway) to release .tgz
	// archives, for builds with access to Istio's release bucket; Profiles is an archive of the
	// version's profile files (manifests/profiles of Istio's release). Exactly one of Module and
	// Charts is set.
	Charts   map[string]Archive `json:"charts,omitempty"`
	Profiles *Archive           `json:"profiles,omitempty"`
	// Images pins the images the version runs, by full reference. A component without a pin runs the
	// image its chart names (hub, image and tag of the chart's values).
	Images Images `json:"images,omitzero"`
}

// Images are full image references (registry/repository:tag or registry/repository@sha256:…) that a
// version's charts run instead of the ones they name. Istio's charts use a value that contains a "/"
// as the whole reference, which is how the pins reach them (see internal/values).
type Images struct {
	// Istiod is the pilot image of the istiod Deployment.
	Istiod string `json:"istiod,omitempty"`
	// Proxy is the proxyv2 image that istiod injects as the sidecar, its init container and gateways.
	Proxy string `json:"proxy,omitempty"`
	// CNI is the install-cni image of the istio-cni-node DaemonSet.
	CNI string `json:"cni,omitempty"`
	// ZTunnel is the ztunnel image of the ztunnel DaemonSet.
	ZTunnel string `json:"ztunnel,omitempty"`
}

// Archive is a .tgz to download, with the SHA-256 of its bytes, which the download must match.
type Archive struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// requiredCharts are the charts a version given by URLs must have: bosun renders all of them.
var requiredCharts = []string{"base", "istiod", "cni", "ztunnel"}

// archiveProblems lists what is wrong with the archives of a version given by URLs.
func archiveProblems(v Version) []error {
	var errs []error
	check := func(what string, a Archive) {
		if !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			errs = append(errs, fmt.Errorf("version %q: %s needs an http(s) url", v.Name, what))
		}
		if len(a.SHA256) != 64 || strings.Trim(strings.ToLower(a.SHA256), "0123456789abcdef") != "" {
			errs = append(errs, fmt.Errorf("version %q: %s needs the sha256 of the archive (64 hex digits)", v.Name, what))
		}
	}
	for _, name := range requiredCharts {
		if _, ok := v.Charts[name]; !ok {
			errs = append(errs, fmt.Errorf("version %q: no %s chart", v.Name, name))
		}
	}
	for name, a := range v.Charts {
		check("chart "+name, a)
	}
	if v.Profiles == nil {
		errs = append(errs, fmt.Errorf("version %q: chart URLs need a profiles archive too", v.Name))
	} else {
		check("profiles", *v.Profiles)
	}
	return errs
}

// imageProblems lists the pins of a version that are not full image references.
func imageProblems(v Version) []error {
	var errs []error
	for _, pin := range []struct{ component, ref string }{
		{"istiod", v.Images.Istiod}, {"proxy", v.Images.Proxy}, {"cni", v.Images.CNI}, {"ztunnel", v.Images.ZTunnel},
	} {
		if pin.ref == "" {
			continue
		}
		if err := checkImageReference(pin.ref); err != nil {
			errs = append(errs, fmt.Errorf("version %q: images.%s: %w", v.Name, pin.component, err))
		}
	}
	return errs
}

// ParseVersion reads a concrete version name (v1.27.3, v1.27.0-snapshot.b9159ca3, with or without the
// v), whether or not the catalog lists it: a revision may run a version its catalog has since dropped.
func ParseVersion(name string) (Version, error) {
	sv, err := semver.StrictNewVersion(strings.TrimPrefix(name, "v"))
	if err != nil {
		return Version{}, fmt.Errorf("%q is not a version: %w", name, err)
	}
	return Version{Name: name, Semver: sv}, nil
}

// Minor is the version's "major.minor", such as "1.27".
func (v Version) Minor() string {
	return fmt.Sprintf("%d.%d", v.Semver.Major(), v.Semver.Minor())
}

// Catalog is a validated set of versions, aliases and end-of-life names.
type Catalog struct {
	def       string
	versions  []Version         // newest first
	byName    map[string]int    // concrete name → index in versions
	aliases   map[string]string // alias → concrete name
	aliasList []string          // aliases in file order
	eol       []string          // end-of-life names in file order
	isEOL     map[string]bool
}

// file is the YAML form of a catalog.
type file struct {
	Default  string    `json:"default"`
	Versions []Version `json:"versions"`
	Aliases  []struct {
		Name string `json:"name"`
		Ref  string `json:"ref"`
	} `json:"aliases"`
	EndOfLife []string `json:"endOfLife"`
}

// Embedded returns the catalog built into bosun.
func Embedded() *Catalog {
	c, err := Parse(embedded)
	if err != nil {
		panic(fmt.Sprintf("the embedded versions.yaml is invalid: %v", err))
	}
	return c
}

// Load returns the catalog in path, or the embedded one when path is empty and BOSUN_VERSIONS_FILE is
// not set.
func Load(path string) (*Catalog, error) {
	if path == "" {
		path = os.Getenv(EnvFile)
	}
	if path == "" {
		return Embedded(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the version catalog: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("version catalog %s: %w", path, err)
	}
	return c, nil
}

// Parse reads and validates a catalog file. Every problem found is reported, not only the first.
func Parse(data []byte) (*Catalog, error) {
	var f file
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	c := &Catalog{
		def:     f.Default,
		byName:  map[string]int{},
		aliases: map[string]string{},
		isEOL:   map[string]bool{},
	}
	var errs []error
	seen := map[string]string{} // name → what it was first declared as
	declare := func(name, what string) bool {
		if name == "" {
			errs = append(errs, fmt.Errorf("%s with an empty name", what))
			return false
		}
		if len(name) > maxNameLength {
			errs = append(errs, fmt.Errorf("%s %q: a name may hold %d characters at most", what, name, maxNameLength))
			return false
		}
		if first, ok := seen[name]; ok {
			errs = append(errs, fmt.Errorf("%q is declared twice (as %s and as %s)", name, first, what))
			return false
		}
		seen[name] = what
		return true
	}

	for _, v := range f.Versions {
		if !declare(v.Name, "a version") {
			continue
		}
		sv, err := semver.StrictNewVersion(strings.TrimPrefix(v.Name, "v"))
		if err != nil || !strings.HasPrefix(v.Name, "v") {
			errs = append(errs, fmt.Errorf("version %q: a name must be v followed by a semantic version", v.Name))
			continue
		}
		if strings.ContainsAny(v.Name, "+ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			// Revision names are made of version names, and must be valid Kubernetes names.
			errs = append(errs, fmt.Errorf("version %q: a name may not hold upper-case letters or build metadata (+…), which revision names cannot carry", v.Name))
			continue
		}
		v.Semver = sv
		switch {
		case v.Module != "" && len(v.Charts) > 0:
			errs = append(errs, fmt.Errorf("version %q: give a module or chart URLs, not both", v.Name))
		case v.Module != "" && v.ModuleVersion == "":
			errs = append(errs, fmt.Errorf("version %q: module %s needs a moduleVersion", v.Name, v.Module))
		case v.Module == "" && len(v.Charts) == 0:
			errs = append(errs, fmt.Errorf("version %q: no chart source; give module and moduleVersion, or chart URLs", v.Name))
		case v.Module == "":
			errs = append(errs, archiveProblems(v)...)
		}
		errs = append(errs, imageProblems(v)...)
		c.byName[v.Name] = len(c.versions)
		c.versions = append(c.versions, v)
	}
	for _, a := range f.Aliases {
		if !declare(a.Name, "an alias") {
			continue
		}
		if !aliasName.MatchString(a.Name) {
			// The CRDs accept only these shapes of alias in spec.version (api/v1 version_types.go).
			errs = append(errs, fmt.Errorf("alias %q: an alias is named latest or vX.Y-latest", a.Name))
			continue
		}
		c.aliasList = append(c.aliasList, a.Name)
		c.aliases[a.Name] = a.Ref
	}
	for _, name := range f.EndOfLife {
		if name != "latest" && !strings.HasPrefix(name, "v") {
			errs = append(errs, fmt.Errorf("end-of-life name %q: write it with its leading v", name))
			continue
		}
		if !aliasName.MatchString(name) && !versionName.MatchString(name) {
			errs = append(errs, fmt.Errorf("end-of-life name %q: write a version such as v1.24.3 or an alias such as v1.24-latest", name))
			continue
		}
		if declare(name, "an end-of-life name") {
			c.eol = append(c.eol, name)
			c.isEOL[name] = true
		}
	}
	// Aliases are checked once every name is known, so their order in the file does not matter.
	for _, name := range c.aliasList {
		ref := c.aliases[name]
		switch {
		case ref == "":
			errs = append(errs, fmt.Errorf("alias %q has no ref", name))
		case c.aliases[ref] != "":
			errs = append(errs, fmt.Errorf("alias %q refers to alias %q; refer to a version", name, ref))
		case c.isEOL[ref]:
			errs = append(errs, fmt.Errorf("alias %q refers to end-of-life %q; mark the alias end of life instead", name, ref))
		default:
			i, ok := c.byName[ref]
			if !ok {
				errs = append(errs, fmt.Errorf("alias %q refers to %q, which is not a version in the catalog", name, ref))
			} else if minor, isMinor := strings.CutSuffix(name, "-latest"); isMinor && minor != "v"+c.versions[i].Minor() {
				errs = append(errs, fmt.Errorf("alias %q refers to %q, which is not a %s version", name, ref, minor))
			}
		}
	}
	if len(c.versions) == 0 {
		errs = append(errs, errors.New("the catalog has no versions"))
	}
	if c.def == "" {
		errs = append(errs, errors.New("no default version"))
	} else if _, err := c.resolveKnown(c.def); err != nil {
		errs = append(errs, fmt.Errorf("default %q: %w", c.def, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(c.versions, func(a, b Version) int { return b.Semver.Compare(a.Semver) })
	for i, v := range c.versions {
		c.byName[v.Name] = i
	}
	return c, nil
}

// maxNameLength is the longest spec.version the CRDs accept.
const maxNameLength = 64

// The shapes of names in spec.version, as the CRDs check them (api/v1 version_types.go); a test in
// config/crd keeps the two in step. Concrete names are checked further as semantic versions.
var (
	aliasName   = regexp.MustCompile(`^(latest|v[0-9]+[.][0-9]+-latest)$`)
	versionName = regexp.MustCompile(`^v[0-9]+[.][0-9]+[.][0-9]+(-[0-9a-z.-]+)?$`)
)

// Default is the version name a manifest without one gets.
func (c *Catalog) Default() string { return c.def }

// Versions returns the concrete versions, newest first.
func (c *Catalog) Versions() []Version { return slices.Clone(c.versions) }

// Resolve turns what spec.version says (a version, an alias, with or without the leading v) into the
// concrete version to install. An end-of-life name gives an *EndOfLifeError and an unknown one an
// *UnknownVersionError; both messages name the supported versions.
func (c *Catalog) Resolve(name string) (Version, error) {
	return c.resolveKnown(name)
}

func (c *Catalog) resolveKnown(name string) (Version, error) {
	n := Canonical(name)
	if c.isEOL[n] {
		return Version{}, &EndOfLifeError{Name: name, Supported: c.Supported()}
	}
	if ref, ok := c.aliases[n]; ok {
		n = ref
	}
	if i, ok := c.byName[n]; ok {
		return c.versions[i], nil
	}
	return Version{}, &UnknownVersionError{Name: name, Supported: c.Supported()}
}

// Supported lists the names bosun installs: aliases, then concrete versions newest first.
func (c *Catalog) Supported() []string {
	names := slices.Clone(c.aliasList)
	for _, v := range c.versions {
		names = append(names, v.Name)
	}
	return names
}

// Names lists every name the API accepts in spec.version: the supported names and the end-of-life
// ones, which stay accepted so that existing manifests still apply.
func (c *Catalog) Names() []string {
	return append(c.Supported(), c.eol...)
}

// ConcreteNames lists the names an IstioRevision's spec.version accepts: concrete versions, supported
// or end of life, never aliases.
func (c *Catalog) ConcreteNames() []string {
	var names []string
	for _, v := range c.versions {
		names = append(names, v.Name)
	}
	for _, n := range c.eol {
		if !aliasName.MatchString(n) {
			names = append(names, n)
		}
	}
	return names
}

// Canonical adds the leading v that Istio version names carry, so that "1.28.5" means "v1.28.5".
func Canonical(name string) string {
	if name != "" && name[0] >= '0' && name[0] <= '9' {
		return "v" + name
	}
	return name
}

// EndOfLifeError says that a version is past its end of life and bosun does not install it.
type EndOfLifeError struct {
	// Name is the version as the resource wrote it.
	Name string
	// Supported lists what bosun installs instead.
	Supported []string
}

func (e *EndOfLifeError) Error() string {
	return fmt.Sprintf("Istio %s is end of life and bosun does not install it; set spec.version to a supported version: %s",
		e.Name, strings.Join(e.Supported, ", "))
}

// UnknownVersionError says that a version is not in the catalog.
type UnknownVersionError struct {
	// Name is the version as the resource wrote it.
	Name string
	// Supported lists what bosun installs.
	Supported []string
}

func (e *UnknownVersionError) Error() string {
	// The words of the admission policy that refuses it at apply time (internal/versionpolicy), for
	// an object that reached bosun without it.
	return fmt.Sprintf("spec.version %q is not a version bosun knows; set it to one of: %s",
		e.Name, strings.Join(e.Supported, ", "))
}

// EnvResources names the environment variable that points bosun at the folder of fetched charts.
const EnvResources = "BOSUN_RESOURCES"

// Charts opens the folder of fetched charts and profiles (<version>/charts, <version>/profiles, as make
// charts writes them): dir, else $BOSUN_RESOURCES, else ./resources.
func Charts(dir string) (fs.FS, error) {
	if dir == "" {
		dir = os.Getenv(EnvResources)
	}
	if dir == "" {
		dir = "resources"
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no fetched charts at %s: run make charts, or point --resources-dir (or $%s) at them", dir, EnvResources)
	}
	return os.DirFS(dir), nil
}
