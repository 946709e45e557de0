package versionpolicy

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// RefusedError says that a resource's spec.version is not one the catalog knows. Its message is the
// API server's for the same manifest.
type RefusedError struct {
	Kind, Name string
	// Message names the field and the refused version, and lists the versions bosun installs.
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, e.Name, e.Message)
}

// Admit does offline, for a new sailoperator.io resource, what the policies of Objects(c) do in the
// API server: it sets an empty or absent spec.version of an Istio, IstioCNI or ZTunnel to the
// catalog's default, and refuses a spec.version the catalog does not know (for the kind) with a
// *RefusedError. The object should have passed internal/schemacheck, as the API server checks the CRD's
// schema first; objects of other kinds are left alone.
func Admit(c *catalog.Catalog, obj *unstructured.Unstructured) error {
	i := slices.IndexFunc(rules, func(r rule) bool { return slices.Contains(r.kinds, obj.GetKind()) })
	if obj.GroupVersionKind().Group != group || i < 0 {
		return nil
	}
	r := rules[i]
	version, _, err := unstructured.NestedString(obj.Object, "spec", "version")
	if err != nil {
		return err
	}
	if version == "" && obj.GetKind() != "IstioRevision" {
		version = c.Default()
		if err := unstructured.SetNestedField(obj.Object, version, "spec", "version"); err != nil {
			return err
		}
	}
	if !slices.Contains(r.accepted(c), catalog.Canonical(version)) {
		return &RefusedError{Kind: obj.GetKind(), Name: obj.GetName(), Message: r.refusal(c, version)}
	}
	return nil
}
