package versionpolicy_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// TestAdmitLeavesOtherObjectsAlone: `bosun render` passes every manifest of its input through Admit;
// objects the policies do not match are neither changed nor refused, whatever their spec.version.
func TestAdmitLeavesOtherObjectsAlone(t *testing.T) {
	for _, manifest := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nspec:\n  version: v9.9.9",
		"apiVersion: install.istio.io/v1alpha1\nkind: Istio\nmetadata:\n  name: x\nspec:\n  version: v9.9.9",
		"apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: x\nspec:\n  tag: 1.27.3",
		"apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default",
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system",
	} {
		obj := parse(t, manifest)
		before := obj.DeepCopy()
		if err := versionpolicy.Admit(catalog.Embedded(), obj); err != nil {
			t.Errorf("Admit refused %s %s: %v", obj.GetAPIVersion(), obj.GetKind(), err)
		}
		if !reflect.DeepEqual(obj.Object, before.Object) {
			t.Errorf("Admit changed %s %s:\n%v", obj.GetAPIVersion(), obj.GetKind(), obj.Object)
		}
	}
}

// TestAdmitDefaultsNewObjects: an Istio, IstioCNI or ZTunnel of either API version without a version
// gets the catalog's default, as the mutating policy writes it; an IstioRevision never does, because
// bosun always writes one with a concrete version.
func TestAdmitDefaultsNewObjects(t *testing.T) {
	cases := []struct {
		manifest string
		want     string // the version after Admit, or "" when refused
	}{
		{"apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default", "v1.29-latest"},
		{"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: \"\"", "v1.29-latest"},
		{"apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default\nspec: {}", "v1.29-latest"},
		{"apiVersion: sailoperator.io/v1\nkind: IstioRevision\nmetadata:\n  name: default\nspec:\n  namespace: istio-system", ""},
	}
	for _, tc := range cases {
		obj := parse(t, tc.manifest)
		err := versionpolicy.Admit(vendorCatalog(t), obj)
		if tc.want == "" {
			var refused *versionpolicy.RefusedError
			if !errors.As(err, &refused) || !strings.Contains(refused.Message, `spec.version "" is not a concrete version bosun knows; set it to one of: v1.29.6, v1.28.9`) {
				t.Errorf("%s without a version: Admit = %v, want a refusal listing the concrete versions", obj.GetKind(), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", obj.GetAPIVersion(), obj.GetKind(), err)
			continue
		}
		if v := versionOfObject(obj.Object); v != tc.want {
			t.Errorf("%s %s without a version got %q, want the catalog's default %s", obj.GetAPIVersion(), obj.GetKind(), v, tc.want)
		}
	}
}

func versionOfObject(obj map[string]any) string {
	spec, _ := obj["spec"].(map[string]any)
	v, _ := spec["version"].(string)
	return v
}

// TestRefusedErrorNamesTheResource: the refusal reads as the API server's Invalid error does, with the
// kind and name of the resource first.
func TestRefusedErrorNamesTheResource(t *testing.T) {
	err := versionpolicy.Admit(catalog.Embedded(), parse(t, strings.Replace(istio("v1.99.0"), "name: default", "name: payments", 1)))
	want := `Istio "payments" is invalid: spec.version "v1.99.0" is not a version bosun knows; set it to one of: ` + builtInList
	if err == nil || err.Error() != want {
		t.Errorf("Admit = %v\nwant %s", err, want)
	}
}

// TestAmbientFollowsWhatANameResolvesTo: a ZTunnel takes a name by the version it stands for (an
// alias by its target, an end-of-life name by the version it spells, a major above 1 always), and a
// catalog with no version that has ambient mode says so instead of offering an empty list.
func TestAmbientFollowsWhatANameResolvesTo(t *testing.T) {
	c, err := catalog.Parse([]byte(`
default: v1.23-latest
versions:
  - {name: v2.0.0, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.24.0, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.23.6, module: istio.io/istio, moduleVersion: v0.0.0-x}
aliases:
  - {name: latest, ref: v2.0.0}
  - {name: v1.23-latest, ref: v1.23.6}
endOfLife: [v1.22.1, v1.24-latest]
`))
	if err != nil {
		t.Fatal(err)
	}
	for version, ok := range map[string]bool{
		"latest": true, "v2.0.0": true, "2.0.0": true, "v1.24.0": true, "v1.24-latest": true,
		"v1.23-latest": false, "v1.23.6": false, "v1.22.1": false, "": false,
	} {
		err := versionpolicy.Admit(c, parse(t, kind("ZTunnel", version)))
		if ok != (err == nil) {
			t.Errorf("a ZTunnel of %q: Admit = %v, want accepted %v", version, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "set it to one of: latest, v2.0.0, v1.24.0") {
			t.Errorf("a ZTunnel of %q: the refusal %v does not offer the versions with ambient mode", version, err)
		}
	}

	old, err := catalog.Parse([]byte("default: v1.23.6\nversions:\n  - {name: v1.23.6, module: istio.io/istio, moduleVersion: v0.0.0-x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = versionpolicy.Admit(old, parse(t, kind("ZTunnel", "")))
	want := `spec.version "v1.23.6" is not a version bosun knows with ambient mode (Istio 1.24 or newer), which ztunnel needs; bosun's catalog has no such version`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a ZTunnel under a catalog without ambient mode: Admit = %v\nwant %s", err, want)
	}
}
