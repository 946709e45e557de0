package versionpolicy_test

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// vendorCatalog is testdata/vendor-versions.yaml: v1.29-latest, v1.29.6, v1.28-latest and v1.28.9,
// none of which the built-in catalog installs, and v1.27.0, which it accepts, end of life.
func vendorCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load("testdata/vendor-versions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// builtInList is what the refusals of the built-in catalog offer: aliases, then versions newest first.
const builtInList = "latest, v1.31-latest, v1.27-latest, v1.25-latest, v1.31.0-snapshot.eed52ebb, v1.27.0-snapshot.b9159ca3, v1.25.0-snapshot.be4b14ad"

func TestObjects(t *testing.T) {
	objs, err := versionpolicy.Objects(catalog.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ kind, name string }
	want := map[key]bool{
		{"ValidatingAdmissionPolicy", versionpolicy.IstioPolicy}:           true,
		{"ValidatingAdmissionPolicy", versionpolicy.ZTunnelPolicy}:         true,
		{"ValidatingAdmissionPolicy", versionpolicy.RevisionPolicy}:        true,
		{"ValidatingAdmissionPolicyBinding", versionpolicy.IstioPolicy}:    true,
		{"ValidatingAdmissionPolicyBinding", versionpolicy.ZTunnelPolicy}:  true,
		{"ValidatingAdmissionPolicyBinding", versionpolicy.RevisionPolicy}: true,
		{"MutatingAdmissionPolicy", versionpolicy.DefaultPolicy}:           true,
		{"MutatingAdmissionPolicyBinding", versionpolicy.DefaultPolicy}:    true,
	}
	for i, obj := range objs {
		k := key{obj.GetKind(), obj.GetName()}
		if !want[k] {
			t.Errorf("unexpected or repeated object %v", k)
		}
		delete(want, k)
		if obj.GetAPIVersion() != "admissionregistration.k8s.io/v1" {
			t.Errorf("%v is %s, want the GA admissionregistration.k8s.io/v1", k, obj.GetAPIVersion())
		}
		if obj.GetLabels()["app.kubernetes.io/managed-by"] != "bosun" {
			t.Errorf("%v is not labelled as bosun's: %v", k, obj.GetLabels())
		}
		if _, ok := obj.Object["status"]; ok {
			t.Errorf("%v carries a status, which server-side apply would claim", k)
		}
		if strings.HasSuffix(obj.GetKind(), "Binding") {
			if policy, _, _ := unstructured.NestedString(obj.Object, "spec", "policyName"); policy != obj.GetName() {
				t.Errorf("binding %s binds %q", obj.GetName(), policy)
			}
		} else if i >= 4 {
			t.Errorf("policy %s comes after a binding; policies first", obj.GetName())
		}
	}
	for k := range want {
		t.Errorf("no %v", k)
	}
}

// TestObjectsFollowTheCatalog checks that the objects are the catalog's, in the parts a user sees: the
// versions the refusal offers and the default an empty version gets.
func TestObjectsFollowTheCatalog(t *testing.T) {
	for _, tc := range []struct {
		name       string
		catalog    *catalog.Catalog
		list       string
		defaultVal string
	}{
		{"built in", catalog.Embedded(), builtInList, "v1.27-latest"},
		{"vendor", vendorCatalog(t), "v1.29-latest, v1.28-latest, v1.29.6, v1.28.9", "v1.29-latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := versionpolicy.Objects(tc.catalog)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range objs {
				switch obj.GetKind() {
				case "ValidatingAdmissionPolicy":
					validations, _, _ := unstructured.NestedSlice(obj.Object, "spec", "validations")
					msg := validations[0].(map[string]any)["messageExpression"].(string)
					if obj.GetName() == versionpolicy.IstioPolicy && !strings.Contains(msg, "set it to one of: "+tc.list+"'") {
						t.Errorf("%s's message %s does not list %s", obj.GetName(), msg, tc.list)
					}
				case "MutatingAdmissionPolicy":
					mutations, _, _ := unstructured.NestedSlice(obj.Object, "spec", "mutations")
					expr, _, _ := unstructured.NestedString(mutations[0].(map[string]any), "applyConfiguration", "expression")
					if want := "Object{spec: Object.spec{version: '" + tc.defaultVal + "'}}"; expr != want {
						t.Errorf("the default is set by %s, want %s", expr, want)
					}
				}
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	embedded, vendor := catalog.Embedded(), vendorCatalog(t)
	cases := []struct {
		name     string
		catalog  *catalog.Catalog
		manifest string
		// want is a part of the refusal; "" when the object is admitted.
		want string
		// version is spec.version after admission, when admitted.
		version string
	}{
		{name: "a supported alias", catalog: embedded, manifest: istio("v1.27-latest"), version: "v1.27-latest"},
		{name: "a concrete version without its v", catalog: embedded, manifest: istio("1.27.0-snapshot.b9159ca3"), version: "1.27.0-snapshot.b9159ca3"},
		{name: "an end-of-life version", catalog: embedded, manifest: istio("v1.24.3"), version: "v1.24.3"},
		{name: "an end-of-life version without its v", catalog: embedded, manifest: istio("1.28.5"), version: "1.28.5"},
		{name: "an unknown version", catalog: embedded, manifest: istio("v1.99.0"),
			want: `Istio "default" is invalid: spec.version "v1.99.0" is not a version bosun knows; set it to one of: ` + builtInList},
		{name: "no version", catalog: embedded, manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  namespace: istio-system", version: "v1.27-latest"},
		{name: "no spec", catalog: embedded, manifest: "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default", version: "v1.27-latest"},
		{name: "an IstioCNI of an unknown version", catalog: embedded, manifest: kind("IstioCNI", "v1.29-latest"),
			want: `IstioCNI "default" is invalid: spec.version "v1.29-latest" is not a version bosun knows`},
		{name: "a ZTunnel of an end-of-life version with ambient mode", catalog: embedded, manifest: kind("ZTunnel", "v1.24.3"), version: "v1.24.3"},
		{name: "a v1alpha1 ZTunnel of an unknown version", catalog: embedded, manifest: strings.Replace(kind("ZTunnel", "v1.30.0"), "/v1\n", "/v1alpha1\n", 1),
			want: `ZTunnel "default" is invalid: spec.version "v1.30.0" is not a version bosun knows with ambient mode (Istio 1.24 or newer), which ztunnel needs; set it to one of: ` + builtInList},
		{name: "a revision of an alias", catalog: embedded, manifest: revision("v1.27-latest"),
			want: `spec.version "v1.27-latest" is not a concrete version bosun knows; set it to one of: v1.31.0-snapshot.eed52ebb, v1.27.0-snapshot.b9159ca3, v1.25.0-snapshot.be4b14ad`},
		{name: "a revision of an end-of-life version", catalog: embedded, manifest: revision("v1.26.1"), version: "v1.26.1"},
		{name: "a vendor alias", catalog: vendor, manifest: istio("v1.29-latest"), version: "v1.29-latest"},
		{name: "a vendor's version the built-in catalog ends", catalog: vendor, manifest: istio("v1.28.9"), version: "v1.28.9"},
		{name: "a built-in name the vendor does not have", catalog: vendor, manifest: istio("v1.27-latest"),
			want: `spec.version "v1.27-latest" is not a version bosun knows; set it to one of: v1.29-latest, v1.28-latest, v1.29.6, v1.28.9`},
		{name: "latest, which the vendor does not have", catalog: vendor, manifest: kind("ZTunnel", "latest"),
			want: `spec.version "latest" is not a version bosun knows with ambient mode`},
		{name: "no version with a vendor catalog", catalog: vendor, manifest: kind("ZTunnel", ""), version: "v1.29-latest"},
		{name: "a vendor's end-of-life ZTunnel without ambient mode", catalog: vendor, manifest: kind("ZTunnel", "v1.23.6"),
			want: `spec.version "v1.23.6" is not a version bosun knows with ambient mode`},
		{name: "a vendor's end-of-life Istio without ambient mode", catalog: vendor, manifest: istio("v1.23.6"), version: "v1.23.6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, tc.manifest)
			err := versionpolicy.Admit(tc.catalog, obj)
			if tc.want != "" {
				var refused *versionpolicy.RefusedError
				if !errors.As(err, &refused) {
					t.Fatalf("Admit = %v, want a RefusedError containing %q", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("refusal %q\ndoes not contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _, _ := unstructured.NestedString(obj.Object, "spec", "version"); v != tc.version {
				t.Errorf("spec.version = %q after admission, want %q", v, tc.version)
			}
		})
	}
}

func istio(version string) string {
	return "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: " + version
}

func kind(kind, version string) string {
	m := "apiVersion: sailoperator.io/v1\nkind: " + kind + "\nmetadata:\n  name: default\nspec:\n  namespace: x"
	if version != "" {
		m += "\n  version: " + version
	}
	return m
}

func revision(version string) string {
	return "apiVersion: sailoperator.io/v1\nkind: IstioRevision\nmetadata:\n  name: default\nspec:\n  namespace: istio-system\n  values:\n    global:\n      istioNamespace: istio-system\n  version: " + version
}

func parse(t testing.TB, manifest string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestBosunSaysWhatThePolicySays checks that an Istio which reached bosun with a version its catalog
// does not know (created before the policies were installed) is refused at reconcile in the words the
// API server uses at apply time.
func TestBosunSaysWhatThePolicySays(t *testing.T) {
	c := catalog.Embedded()
	_, resolveErr := c.Resolve("v1.99.0")
	var refused *versionpolicy.RefusedError
	if err := versionpolicy.Admit(c, parse(t, istio("v1.99.0"))); !errors.As(err, &refused) {
		t.Fatalf("Admit = %v, want a refusal", err)
	}
	if resolveErr == nil || resolveErr.Error() != refused.Message {
		t.Errorf("bosun says\n%v\nthe policy says\n%s", resolveErr, refused.Message)
	}
}
