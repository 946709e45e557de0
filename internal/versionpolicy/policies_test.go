package versionpolicy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// objectsByKey returns Objects(c) keyed by "Kind/name".
func objectsByKey(t *testing.T, c *catalog.Catalog) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := versionpolicy.Objects(c)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[o.GetKind()+"/"+o.GetName()] = o
	}
	return m
}

// validatingPolicy converts the ValidatingAdmissionPolicy called name of Objects(c) back to its type.
func validatingPolicy(t *testing.T, c *catalog.Catalog, name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	t.Helper()
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objectsByKey(t, c)["ValidatingAdmissionPolicy/"+name].Object, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// acceptedNames lists the names a validating policy's "known" variable takes.
func acceptedNames(t *testing.T, p *admissionregistrationv1.ValidatingAdmissionPolicy) []string {
	t.Helper()
	for _, v := range p.Spec.Variables {
		if v.Name == "known" {
			_, list, ok := strings.Cut(v.Expression, " in [")
			if !ok {
				t.Fatalf("policy %s: known is %s, not a test of a list", p.Name, v.Expression)
			}
			var names []string
			for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(list, -1) {
				names = append(names, m[1])
			}
			return names
		}
	}
	t.Fatalf("policy %s has no variable known", p.Name)
	return nil
}

// TestEachPolicyAcceptsItsKindsNames: the API server takes, in spec.version, every name of the
// catalog for an Istio or IstioCNI (end of life included, so that existing manifests apply), only
// those with ambient mode for a ZTunnel, and only concrete versions, never aliases, for an
// IstioRevision.
func TestEachPolicyAcceptsItsKindsNames(t *testing.T) {
	vendor := vendorCatalog(t)
	cases := []struct {
		policy string
		want   []string
	}{
		{versionpolicy.IstioPolicy, []string{"v1.29-latest", "v1.28-latest", "v1.29.6", "v1.28.9", "v1.23-latest", "v1.23.6", "v1.27.0"}},
		{versionpolicy.ZTunnelPolicy, []string{"v1.29-latest", "v1.28-latest", "v1.29.6", "v1.28.9", "v1.27.0"}},
		{versionpolicy.RevisionPolicy, []string{"v1.29.6", "v1.28.9", "v1.23.6", "v1.27.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			if got := acceptedNames(t, validatingPolicy(t, vendor, tc.policy)); !slices.Equal(got, tc.want) {
				t.Errorf("%s accepts %v\nwant %v", tc.policy, got, tc.want)
			}
		})
	}
}

// TestPoliciesMatchTheirKinds: each policy applies to creating and changing its kinds, in every
// version the CRDs serve, and to nothing else: not to a status write, which bosun makes for a resource
// whose version it refuses, nor to a deletion.
func TestPoliciesMatchTheirKinds(t *testing.T) {
	objs := objectsByKey(t, catalog.Embedded())
	want := map[string][]string{
		"ValidatingAdmissionPolicy/" + versionpolicy.IstioPolicy:    {"v1 istios", "v1 istiocnis"},
		"ValidatingAdmissionPolicy/" + versionpolicy.ZTunnelPolicy:  {"v1 ztunnels", "v1alpha1 ztunnels"},
		"ValidatingAdmissionPolicy/" + versionpolicy.RevisionPolicy: {"v1 istiorevisions"},
		"MutatingAdmissionPolicy/" + versionpolicy.DefaultPolicy:    {"v1 istios", "v1 istiocnis", "v1 ztunnels", "v1alpha1 ztunnels"},
	}
	for key, resources := range want {
		t.Run(key, func(t *testing.T) {
			rules, _, _ := unstructured.NestedSlice(objs[key].Object, "spec", "matchConstraints", "resourceRules")
			var got []string
			for _, r := range rules {
				var rule admissionregistrationv1.NamedRuleWithOperations
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.(map[string]any), &rule); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(rule.APIGroups, []string{"sailoperator.io"}) {
					t.Errorf("a rule matches the groups %v", rule.APIGroups)
				}
				if !slices.Equal(rule.Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
					t.Errorf("a rule matches the operations %v, want CREATE and UPDATE", rule.Operations)
				}
				for _, v := range rule.APIVersions {
					for _, r := range rule.Resources {
						got = append(got, v+" "+r)
					}
				}
			}
			slices.Sort(got)
			slices.Sort(resources)
			if !slices.Equal(got, resources) {
				t.Errorf("matches %v, want %v (no subresource)", got, resources)
			}
		})
	}
}

// TestFailurePolicies: a validating policy that cannot be evaluated refuses (a typo must not slip
// through), while the defaulting policy that fails lets the apply through, because bosun resolves an
// empty version to the same default; a binding denies, rather than only warns or audits.
func TestFailurePolicies(t *testing.T) {
	objs := objectsByKey(t, catalog.Embedded())
	for _, name := range []string{versionpolicy.IstioPolicy, versionpolicy.ZTunnelPolicy, versionpolicy.RevisionPolicy} {
		if fp, _, _ := unstructured.NestedString(objs["ValidatingAdmissionPolicy/"+name].Object, "spec", "failurePolicy"); fp != "Fail" {
			t.Errorf("%s has failurePolicy %q, want Fail", name, fp)
		}
		if actions, _, _ := unstructured.NestedStringSlice(objs["ValidatingAdmissionPolicyBinding/"+name].Object, "spec", "validationActions"); !slices.Equal(actions, []string{"Deny"}) {
			t.Errorf("the binding of %s has validationActions %v, want [Deny]", name, actions)
		}
	}
	mutating := objs["MutatingAdmissionPolicy/"+versionpolicy.DefaultPolicy].Object
	if fp, _, _ := unstructured.NestedString(mutating, "spec", "failurePolicy"); fp != "Ignore" {
		t.Errorf("%s has failurePolicy %q, want Ignore", versionpolicy.DefaultPolicy, fp)
	}
	if rp, _, _ := unstructured.NestedString(mutating, "spec", "reinvocationPolicy"); rp != "Never" {
		t.Errorf("%s has reinvocationPolicy %q, want Never", versionpolicy.DefaultPolicy, rp)
	}
}

// TestHashesFollowTheContent: Install writes an object only when its hash annotation differs from the
// one in the cluster, so the hash must be the same for the same catalog every time, and differ for a
// catalog that changes the object; the names stay, so the new lists replace the old.
func TestHashesFollowTheContent(t *testing.T) {
	hashes := func(c *catalog.Catalog) map[string]string {
		m := map[string]string{}
		for key, o := range objectsByKey(t, c) {
			m[key] = o.GetAnnotations()[render.AnnotationHash]
			if m[key] == "" {
				t.Errorf("%s has no %s annotation", key, render.AnnotationHash)
			}
		}
		return m
	}
	first, again, vendor := hashes(catalog.Embedded()), hashes(catalog.Embedded()), hashes(vendorCatalog(t))
	for key, h := range first {
		if again[key] != h {
			t.Errorf("%s: the hash changed between two calls with the same catalog", key)
		}
		v, ok := vendor[key]
		if !ok {
			t.Errorf("%s is not among the vendor catalog's objects; the names must not depend on the catalog", key)
		}
		changes := !strings.Contains(key, "Binding/")
		if changes == (v == h) {
			t.Errorf("%s: vendor hash %s, built-in %s; want them to differ exactly for the policies", key, v, h)
		}
	}
}
