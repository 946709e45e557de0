package maistra

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Inputs are the OpenShift Service Mesh 2 objects a migration starts from.
type Inputs struct {
	ControlPlanes []*ControlPlane
	MemberRolls   []*MemberRoll
	Members       []*Member
	// Unknown are the fields of the inputs bosun does not know, as "<Kind> <namespace>/<name>:
	// <path>": bosun cannot convert them, and says so rather than dropping them.
	Unknown []string
}

// Decode reads ServiceMeshControlPlanes, ServiceMeshMemberRolls and ServiceMeshMembers. An object
// of another kind or version is an error that names it; so is a field of the wrong type. A field
// bosun does not know is listed in Unknown. The control planes' status is read for its applied spec
// and chart version only.
func Decode(objs []*unstructured.Unstructured) (*Inputs, error) {
	in := &Inputs{}
	for _, obj := range objs {
		gv, kind := obj.GetAPIVersion(), obj.GetKind()
		where := fmt.Sprintf("%s %s/%s", kind, obj.GetNamespace(), obj.GetName())
		switch {
		case kind == KindControlPlane && gv == Group+"/v2":
			cp, unknown, err := decodeControlPlane(obj)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			in.ControlPlanes = append(in.ControlPlanes, cp)
			in.Unknown = append(in.Unknown, prefixed(where, unknown)...)
		case kind == KindControlPlane:
			return nil, fmt.Errorf("%s is %s: bosun migrate reads maistra.io/v2; export it with kubectl get smcp -o yaml, which serves v2", where, gv)
		case kind == KindMemberRoll && gv == Group+"/v1":
			mr := &MemberRoll{}
			unknown, err := decodeInto(obj.Object, mr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			in.MemberRolls = append(in.MemberRolls, mr)
			in.Unknown = append(in.Unknown, prefixed(where, unknown)...)
		case kind == KindMember && gv == Group+"/v1":
			m := &Member{}
			unknown, err := decodeInto(obj.Object, m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			in.Members = append(in.Members, m)
			in.Unknown = append(in.Unknown, prefixed(where, unknown)...)
		default:
			return nil, fmt.Errorf("%s (%s): bosun migrate reads maistra.io/v2 ServiceMeshControlPlane and maistra.io/v1 ServiceMeshMemberRoll and ServiceMeshMember", where, gv)
		}
	}
	return in, nil
}

// decodeControlPlane reads the spec strictly and, from the status, the applied spec and the chart
// version.
func decodeControlPlane(obj *unstructured.Unstructured) (*ControlPlane, []string, error) {
	withoutStatus := obj.DeepCopy()
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	delete(withoutStatus.Object, "status")
	cp := &ControlPlane{}
	unknown, err := decodeInto(withoutStatus.Object, cp)
	if err != nil {
		return nil, nil, err
	}
	if applied, ok := status["appliedSpec"].(map[string]any); ok {
		spec := &ControlPlaneSpec{}
		more, err := decodeInto(applied, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("status.appliedSpec: %w", err)
		}
		for _, p := range more {
			unknown = append(unknown, "status.appliedSpec."+p)
		}
		cp.Status.AppliedSpec = spec
	}
	cp.Status.ChartVersion, _ = status["chartVersion"].(string)
	return cp, unknown, nil
}

// decodeInto converts the object into the typed value and returns the paths of the fields the type
// does not have.
func decodeInto(obj map[string]any, into any) ([]string, error) {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		return nil, err
	}
	var unknown []string
	unknownFields(reflect.TypeOf(into), obj, "", &unknown)
	slices.Sort(unknown)
	return unknown, nil
}

func prefixed(where string, paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, where+": "+p)
	}
	return out
}

// unknownFields walks the value as the JSON decoder would fill t and records the paths of the keys
// t has no field for. Kubernetes' own types (object metadata, label selectors, service specs) and
// Opaque subtrees are not walked: the first is checked by the API server that stored them, the
// second is reported as a whole by the converter.
func unknownFields(t reflect.Type, v any, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := jsonFields(t)
		for key, sub := range m {
			ft, known := fields[key]
			switch {
			case !known:
				*out = append(*out, join(path, key))
			case ft != nil:
				unknownFields(ft, sub, join(path, key), out)
			}
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return
		}
		for i, item := range items {
			unknownFields(t.Elem(), item, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Elem().Kind() == reflect.Interface {
			return
		}
		for key, sub := range m {
			unknownFields(t.Elem(), sub, join(path, key), out)
		}
	}
}

// jsonFields maps each JSON key of a struct to the type to walk under it; nil means "known, do not
// walk". Inline fields contribute their own keys.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" && (f.Anonymous || opts == "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if ours(ft) {
					for k, v := range jsonFields(ft) {
						fields[k] = v
					}
				} else {
					for k := range jsonFields(ft) {
						fields[k] = nil
					}
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if ours(elem(f.Type)) {
			fields[name] = f.Type
		} else {
			fields[name] = nil
		}
	}
	return fields
}

// ours reports whether t is declared in this package: only those are walked.
func ours(t reflect.Type) bool {
	return t.PkgPath() == reflect.TypeFor[ControlPlane]().PkgPath()
}

// elem is the type a field's values have, through pointers, slices and maps.
func elem(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			t = t.Elem()
		default:
			return t
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
