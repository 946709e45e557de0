// Package values computes the Helm values bosun renders a component with. It is pure: every function
// takes maps and returns new maps, never changing its inputs.
//
// Precedence, lowest first: the chart's own defaults (applied by Helm when rendering) < the profile <
// the version's image pins (from the catalog; skipped for a component whose image the user chooses) <
// the platform < the user's spec.values < the fields bosun forces. The platform layer sets only
// global.platform, and only where no other layer sets it, so it never overrides a profile or a user.
// Maps merge key by key; lists and scalars replace whole, so a user's list is never spliced into a
// profile's. precedence_test.go pins the order of every pair of neighbouring layers.
package values

import (
	"bytes"
	"encoding/json"
)

// Map is a tree of Helm values as decoded from YAML or JSON.
type Map = map[string]any

// Merge returns base overlaid with each of overlays in turn: maps merge recursively, anything else in
// an overlay replaces what base had. The inputs are not changed; the result shares no map with them.
func Merge(base Map, overlays ...Map) Map {
	out := DeepCopy(base)
	if out == nil {
		out = Map{}
	}
	for _, o := range overlays {
		mergeInto(out, o)
	}
	return out
}

func mergeInto(dst, src Map) {
	for k, v := range src {
		sv, srcIsMap := v.(Map)
		dv, dstIsMap := dst[k].(Map)
		if srcIsMap && dstIsMap {
			mergeInto(dv, sv)
			continue
		}
		dst[k] = deepCopyValue(v)
	}
}

// DeepCopy returns a copy of m that shares no map or list with it.
func DeepCopy(m Map) Map {
	if m == nil {
		return nil
	}
	out := make(Map, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch v := v.(type) {
	case Map:
		return DeepCopy(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyValue(e)
		}
		return out
	default:
		return v
	}
}

// Get returns the value at a path of keys, and whether it is there.
func Get(m Map, path ...string) (any, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(Map)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Set stores v at a path of keys in m, creating maps on the way and replacing non-maps in the way.
func Set(m Map, v any, path ...string) {
	cur := m
	for _, k := range path[:len(path)-1] {
		next, ok := cur[k].(Map)
		if !ok {
			next = Map{}
			cur[k] = next
		}
		cur = next
	}
	cur[path[len(path)-1]] = v
}

// FromObject turns a typed value (such as an API object's spec.values) into a Map by way of its JSON
// form, so that exactly what the API server stores is what gets merged.
func FromObject(v any) (Map, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m Map
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// ToObject decodes a Map into a typed value (such as IstioRevision.spec.values) by way of JSON,
// refusing keys the type does not have, so that nothing is dropped in silence.
func ToObject(m Map, into any) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
