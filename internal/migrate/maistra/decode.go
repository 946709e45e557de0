package maistra

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "sigs.k8s.io/json"
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

// decodeInto decodes the object into the typed value as the API server's strict decoding does
// (sigs.k8s.io/json, case-sensitive) and returns the paths of the fields the type does not have. A
// value of the wrong type is an error.
func decodeInto(obj map[string]any, into any) ([]string, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	strict, err := kjson.UnmarshalStrict(data, into, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, e := range strict {
		var field kjson.FieldError
		if !errors.As(e, &field) {
			return nil, e
		}
		unknown = append(unknown, field.FieldPath())
	}
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
