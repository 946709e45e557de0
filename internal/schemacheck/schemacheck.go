// Package schemacheck checks custom resources offline the way the API server checks them on create
// with strict field validation, from their CustomResourceDefinitions: `bosun render` uses it so that it
// never prints objects for a manifest that `kubectl apply` would refuse, and refuses it with the API
// server's own message.
//
// It does so with the API server's own code from k8s.io/apiextensions-apiserver, because a copy of the
// rules would drift from what the server enforces:
//   - pkg/apis/apiextensions and its v1 conversion: the server's schema code takes the internal form of
//     a CRD's OpenAPI schema;
//   - pkg/apiserver/schema: the structural schema that pruning, defaulting and CEL work on;
//   - pkg/apiserver/schema/pruning: unknown fields, which strict field validation refuses;
//   - pkg/apiserver/schema/defaulting: nulls dropped and defaults applied, as the server stores them;
//   - pkg/apiserver/validation: the OpenAPI schema check, with the server's messages;
//   - pkg/apiserver/schema/cel, with k8s.io/apiserver's CEL cost limits: the x-kubernetes-validations
//     rules.
//
// These are the API server's internals, not a stable API, and they are large. They are kept in this
// one package so that only what checks manifests links them (config/crd, which embeds and installs the
// CRDs, does not), and so that an upgrade that changes them breaks here; config/crd's tests compare this
// package's messages with a real API server's.
package schemacheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// versionSchema is what the API server checks a resource of one served version against.
type versionSchema struct {
	namespaced bool
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

// Checker checks resources of the kinds and versions its CRDs define.
type Checker struct {
	schemas map[schema.GroupVersionKind]*versionSchema
}

// New builds a Checker from CRDs. Building compiles every schema and CEL rule, so a caller that checks
// many objects builds one Checker and keeps it.
func New(crds []*apiextensionsv1.CustomResourceDefinition) (*Checker, error) {
	c := &Checker{schemas: map[schema.GroupVersionKind]*versionSchema{}}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s %s has no schema", crd.Name, v.Name)
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			ss, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			validator, _, err := validation.NewSchemaValidator(internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			c.schemas[gvk] = &versionSchema{
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				structural: ss,
				validator:  validator,
				cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
			}
		}
	}
	return c, nil
}

// InvalidError lists what is wrong with a resource, in the API server's words.
type InvalidError struct {
	Kind, Name string
	Errors     field.ErrorList
}

func (e *InvalidError) Error() string {
	var msgs []string
	for _, err := range e.Errors {
		msgs = append(msgs, err.Error())
	}
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, e.Name, strings.Join(msgs, "; "))
}

// ErrUnknownKind means an object is not of a kind and version the Checker's CRDs define.
var ErrUnknownKind = errors.New("not a kind and version the CRDs define")

// Check checks a resource as the API server checks it on create with strict field validation: unknown
// fields are errors, nulls are dropped, defaults are applied, then the OpenAPI schema, the CEL rules
// and the object's metadata are checked. It returns the object as the API server would store it
// (defaulted), or an *InvalidError. The object passed in is not changed.
func (c *Checker) Check(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	s, ok := c.schemas[gvk]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", obj.GetAPIVersion(), obj.GetKind(), ErrUnknownKind)
	}
	out := &unstructured.Unstructured{Object: normaliseNumbers(obj.DeepCopy().Object).(map[string]any)}
	// What the API server would never store; a manifest taken from a cluster has them.
	delete(out.Object, "status")
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")
	// The API server clears the namespace of a cluster-scoped object rather than refuse it.
	if !s.namespaced {
		unstructured.RemoveNestedField(out.Object, "metadata", "namespace")
	}

	var errs field.ErrorList
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	unknown := pruning.PruneWithOptions(out.Object, s.structural, true, opts)
	sort.Strings(unknown)
	for _, path := range unknown {
		// The schema says nothing of metadata: its fields are ObjectMeta's, and only others are unknown.
		if m, ok := strings.CutPrefix(path, "metadata."); ok && objectMetaFields[strings.SplitN(m, ".", 2)[0]] {
			continue
		}
		errs = append(errs, field.Invalid(field.NewPath(path), nil, fmt.Sprintf("unknown field %q", path)))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(out.Object, s.structural)
	structuraldefaulting.Default(out.Object, s.structural)
	schemaErrs := validation.ValidateCustomResource(nil, out.Object, s.validator)
	errs = append(errs, schemaErrs...)
	// CEL rules run unless the schema found a value of which they could not make sense: a wrong type,
	// a missing required field, an unsupported enum value, a list or string too long. The API server
	// skips them then, and only then.
	if s.cel != nil && !blocksRules(schemaErrs) {
		celErrs, _ := s.cel.Validate(ctx, nil, s.structural, out.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	// The API server checks a custom resource's metadata as it does any object's: a DNS subdomain
	// name, valid labels and annotations.
	errs = append(errs, apimachineryvalidation.ValidateObjectMetaAccessor(out, s.namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	if len(errs) > 0 {
		return nil, &InvalidError{Kind: gvk.Kind, Name: obj.GetName(), Errors: errs}
	}
	return out, nil
}

// blocksRules reports whether a schema error keeps the API server from running CEL rules.
func blocksRules(errs field.ErrorList) bool {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// objectMetaFields are the fields of metadata the API server knows: ObjectMeta's, by their JSON names.
var objectMetaFields = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(metav1.ObjectMeta{})
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// normaliseNumbers gives numbers the types the API server decodes them to: whole numbers int64, others
// float64, whichever YAML or JSON decoder read the manifest; so a type error names the same type.
func normaliseNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normaliseNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normaliseNumbers(e)
		}
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	default:
		return v
	}
}
