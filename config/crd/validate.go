package crd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// versionSchema is what the API server checks a resource of one served version against.
type versionSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

var (
	schemasOnce sync.Once
	schemas     map[string]*versionSchema // "<group>/<version>/<Kind>" → schema
	schemasErr  error
)

func loadSchemas() (map[string]*versionSchema, error) {
	schemasOnce.Do(func() {
		crds, err := CRDs()
		if err != nil {
			schemasErr = err
			return
		}
		schemas = map[string]*versionSchema{}
		for _, c := range crds {
			for _, v := range c.Spec.Versions {
				internal := &apiextensions.JSONSchemaProps{}
				if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
					schemasErr = fmt.Errorf("%s %s: %w", c.Name, v.Name, err)
					return
				}
				ss, err := structuralschema.NewStructural(internal)
				if err != nil {
					schemasErr = fmt.Errorf("%s %s: %w", c.Name, v.Name, err)
					return
				}
				validator, _, err := validation.NewSchemaValidator(internal)
				if err != nil {
					schemasErr = fmt.Errorf("%s %s: %w", c.Name, v.Name, err)
					return
				}
				schemas[c.Spec.Group+"/"+v.Name+"/"+c.Spec.Names.Kind] = &versionSchema{
					structural: ss,
					validator:  validator,
					cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
				}
			}
		}
	})
	return schemas, schemasErr
}

// ValidationError lists what is wrong with a resource, in the API server's words.
type ValidationError struct {
	Kind, Name string
	Errors     field.ErrorList
}

func (e *ValidationError) Error() string {
	var msgs []string
	for _, err := range e.Errors {
		msgs = append(msgs, err.Error())
	}
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, e.Name, strings.Join(msgs, "; "))
}

// ErrNotBosunKind means an object is not one of bosun's kinds and versions.
var ErrNotBosunKind = errors.New("not a sailoperator.io kind bosun serves")

// Validate checks a sailoperator.io resource offline the way the API server checks it on create with
// strict field validation, using bosun's own CRDs: unknown fields are errors, nulls are dropped,
// defaults are applied, then the OpenAPI schema and the CEL rules are checked. It returns the object as
// the API server would store it (defaulted), or a *ValidationError.
func Validate(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	all, err := loadSchemas()
	if err != nil {
		return nil, err
	}
	gvk := obj.GroupVersionKind()
	s, ok := all[gvk.Group+"/"+gvk.Version+"/"+gvk.Kind]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", obj.GetAPIVersion(), obj.GetKind(), ErrNotBosunKind)
	}
	out := &unstructured.Unstructured{Object: normaliseNumbers(obj.DeepCopy().Object).(map[string]any)}
	// What the API server would never store; a manifest taken from a cluster has them.
	delete(out.Object, "status")
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")

	var errs field.ErrorList
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	unknown := pruning.PruneWithOptions(out.Object, s.structural, true, opts)
	sort.Strings(unknown)
	for _, path := range unknown {
		if strings.HasPrefix(path, "metadata.") {
			continue
		}
		errs = append(errs, field.Invalid(field.NewPath(path), nil, fmt.Sprintf("unknown field %q", path)))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(out.Object, s.structural)
	structuraldefaulting.Default(out.Object, s.structural)
	errs = append(errs, validation.ValidateCustomResource(nil, out.Object, s.validator)...)
	if s.cel != nil && len(errs) == 0 {
		celErrs, _ := s.cel.Validate(ctx, nil, s.structural, out.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Kind: gvk.Kind, Name: obj.GetName(), Errors: errs}
	}
	return out, nil
}

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
