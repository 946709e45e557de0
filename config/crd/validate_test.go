//go:build integration

package crd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// checker checks manifests offline against bosun's CRDs, as `bosun render` does.
var checker = func() *schemacheck.Checker {
	crds, err := crd.CRDs()
	if err != nil {
		panic(err)
	}
	c, err := schemacheck.New(crds)
	if err != nil {
		panic(err)
	}
	return c
}()

// admitOffline checks a manifest as `bosun render` does: the CRD's schema and rules (schemacheck),
// then the version policies of the built-in catalog (versionpolicy.Admit), as the API server of
// TestMain does.
func admitOffline(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	valid, err := checker.Check(context.Background(), obj)
	if err != nil {
		return nil, err
	}
	return valid, versionpolicy.Admit(catalog.Embedded(), valid)
}

// TestOfflineCheckAgreesWithTheAPIServer runs every invalid manifest that the real API server refuses
// on create (TestInvalidManifestsAreRefused, TestWrongValuesAreRefused) through the offline checks
// `bosun render` uses (internal/schemacheck over these CRDs, then the version policies), which must
// refuse it with the same message; and every manifest the server accepts must pass. Without this,
// render would print objects for manifests kubectl apply refuses.
func TestOfflineCheckAgreesWithTheAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range append(invalidCases(), wrongValueCases()...) {
		if tc.patch != "" {
			continue // an update, which an offline check of one manifest cannot see
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := admitOffline(parseManifest(t, tc.manifest))
			var invalid *schemacheck.InvalidError
			var refused *versionpolicy.RefusedError
			if !errors.As(err, &invalid) && !errors.As(err, &refused) {
				t.Fatalf("the offline checks gave %v; want a ValidationError or RefusedError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	for _, path := range docManifestPaths(t) {
		for _, obj := range readManifests(t, path) {
			if _, err := admitOffline(obj); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
	// Manifests the API server accepts though they look wrong: both must accept them, alike.
	for _, manifest := range []string{
		// The API server clears the namespace of a cluster-scoped object.
		strings.Replace(validIstio, "name: invalid-case", "name: with-namespace\n  namespace: istio-system", 1),
	} {
		checked, err := checker.Check(ctx, parseManifest(t, manifest))
		if err != nil {
			t.Errorf("the offline check refused what the API server accepts: %v", err)
			continue
		}
		created := mustCreate(ctx, t, parseManifest(t, manifest))
		if created.GetNamespace() != checked.GetNamespace() {
			t.Errorf("namespace: the API server stored %q, the offline check %q", created.GetNamespace(), checked.GetNamespace())
		}
		deleteAndWait(t, created)
	}
}

// TestValidateDefaults: the offline check defaults as the API server does.
func TestValidateDefaults(t *testing.T) {
	got, err := admitOffline(parseManifest(t, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: bare"))
	if err != nil {
		t.Fatal(err)
	}
	spec := got.Object["spec"].(map[string]any)
	if spec["version"] != defaultVersion || spec["namespace"] != "istio-system" {
		t.Errorf("defaulted spec = %v", spec)
	}
}

// TestVersionShapes checks the shapes the CRDs accept in spec.version, which must take every name a
// catalog may hold (internal/catalog refuses the others when it loads a file) and refuse what no
// catalog can name.
func TestVersionShapes(t *testing.T) {
	ctx := context.Background()
	manifest := func(kind, version string) *unstructured.Unstructured {
		m := "apiVersion: sailoperator.io/v1\nkind: " + kind + "\nmetadata:\n  name: default\nspec:\n  namespace: istio-system\n  version: \"" + version + "\""
		if kind == "IstioRevision" {
			m += "\n  values:\n    global:\n      istioNamespace: istio-system"
		}
		return parseManifest(t, m)
	}
	accepts := func(kind, version string) bool {
		_, err := checker.Check(ctx, manifest(kind, version))
		return err == nil
	}
	cases := []struct {
		version                string
		istio, ztunnel, revisn bool
	}{
		{"v1.27.3", true, true, true},
		{"1.27.3", true, true, true},
		{"v1.31.0-snapshot.eed52ebb", true, true, true},
		{"v1.27.0-rc.1", true, true, true},
		{"v1.27-latest", true, true, false},
		{"latest", true, true, false},
		{"", true, true, false},
		{"v1.24.0", true, true, true},
		{"v1.24-latest", true, true, false},
		{"v1.23.6", true, false, true},
		{"v1.23-latest", true, false, false},
		{"v1.3.0", true, false, true},
		{"v1.100.0", true, true, true},
		{"v2.0.0", true, true, true},
		{"v10.1.0", true, true, true},
		{"v0.30.0", true, false, true},
		{"master", false, false, false},
		{"stable", false, false, false},
		{"1.27-latest", false, false, false},
		{"v1.27", false, false, false},
		{"v1.27.3+ossm.1", false, false, false},
		{"v1.27.3-RC1", false, false, false},
		{"V1.27.3", false, false, false},
		{"v1.27.3 ", false, false, false},
		{"v1.27.0-" + strings.Repeat("a", 57), false, false, false},
	}
	for _, tc := range cases {
		for kind, want := range map[string]bool{"Istio": tc.istio, "IstioCNI": tc.istio, "ZTunnel": tc.ztunnel, "IstioRevision": tc.revisn} {
			if got := accepts(kind, tc.version); got != want {
				t.Errorf("%s with spec.version %q: accepted = %v, want %v", kind, tc.version, got, want)
			}
		}
	}

	// Every name of the built-in catalog has a shape the CRDs take, for the kinds it is meant for.
	c := catalog.Embedded()
	for _, name := range c.Names() {
		if !accepts("Istio", name) {
			t.Errorf("Istio refuses the catalog's %s", name)
		}
	}
	for _, name := range c.ConcreteNames() {
		if !accepts("IstioRevision", name) {
			t.Errorf("IstioRevision refuses the catalog's %s", name)
		}
	}
}

// TestCatalogNamesHaveTheCRDsShape checks the other half: a catalog name of a shape the CRDs refuse is
// refused when the catalog loads, so no catalog can offer a version nobody can apply.
func TestCatalogNamesHaveTheCRDsShape(t *testing.T) {
	const base = "default: v1.27.3\nversions:\n  - name: v1.27.3\n    module: istio.io/istio\n    moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5\n"
	for _, text := range []string{
		base + "aliases:\n  - name: master\n    ref: v1.27.3\n",
		base + "aliases:\n  - name: 1.27-latest\n    ref: v1.27.3\n",
		base + "endOfLife:\n  - v1.24\n",
		base + "endOfLife:\n  - v1.24.3+ossm.1\n",
		strings.Replace(base, "v1.27.3", "v1.27.3-RC1", 2),
		base + "endOfLife:\n  - v1.24.0-" + strings.Repeat("a", 57) + "\n",
	} {
		if _, err := catalog.Parse([]byte(text)); err == nil {
			t.Errorf("the catalog loads, but the CRDs refuse one of its names:\n%s", text)
		}
	}
}
