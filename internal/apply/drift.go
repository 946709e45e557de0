package apply

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// AppliedByBosun reports whether obj's managedFields have an entry of bosun's server-side apply: labels
// alone do not make an object bosun's (the EndpointSlices and Endpoints Kubernetes makes for a Service
// bosun applied carry its labels).
func AppliedByBosun(obj metav1.Object) bool {
	for _, e := range obj.GetManagedFields() {
		if isBosunApply(e) {
			return true
		}
	}
	return false
}

func isBosunApply(e metav1.ManagedFieldsEntry) bool {
	return e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == ""
}

// Drift lists the fields of desired that bosun's apply no longer owns in live: fields someone changed
// or removed after bosun applied them. An empty list means live still holds what bosun applied.
//
// It walks desired alongside the field set of bosun's managedFields entry. A map key must be in the
// set; a list item must match an element of the set by index, by value (set-like lists), or by key
// (lists keyed by name, port, …), where a key field absent from desired is taken as one the API server
// defaulted. A field the set holds as a member without children owns its whole subtree (atomic lists
// and maps); one with children is checked field by field.
func Drift(live, desired *unstructured.Unstructured) []string {
	owned := &fieldpath.Set{}
	found := false
	for _, e := range live.GetManagedFields() {
		if !isBosunApply(e) || e.FieldsV1 == nil {
			continue
		}
		if err := owned.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return []string{fmt.Sprintf("(unreadable managedFields: %v)", err)}
		}
		found = true
	}
	if !found {
		return []string{"(not applied by bosun)"}
	}
	var missing []string
	for k, v := range desired.Object {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			md, _ := v.(map[string]any)
			child, ok := owned.Children.Get(fieldpath.FieldNameElement("metadata"))
			for mk, mv := range md {
				if mk == "name" || mk == "namespace" || mv == nil {
					continue
				}
				if !ok {
					missing = append(missing, "metadata."+mk)
					continue
				}
				walkField(child, mk, mv, "metadata", &missing)
			}
		default:
			walkField(owned, k, v, "", &missing)
		}
	}
	return missing
}

// walkField checks map key k with value v against set.
func walkField(set *fieldpath.Set, k string, v any, path string, missing *[]string) {
	if v == nil {
		return
	}
	p := join(path, k)
	pe := fieldpath.FieldNameElement(k)
	// A path with children is owned field by field, even if it is a member too (a list item or map
	// that the applier also set as a whole); only a member without children is owned whole.
	if child, ok := set.Children.Get(pe); ok {
		walkValue(child, v, p, missing)
		return
	}
	if !set.Members.Has(pe) {
		*missing = append(*missing, p)
	}
}

// walkValue checks the contents of a map or list value against the set of its children.
func walkValue(set *fieldpath.Set, v any, path string, missing *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, cv := range v {
			walkField(set, k, cv, path, missing)
		}
	case []any:
		// Two passes: items match elements on every key field first, then, among the elements left,
		// on the key fields an item has (the others defaulted by the API server). So a port rendered
		// without its protocol is never matched with another port of the same number and another
		// protocol that an item of its own matches.
		found := make([]*fieldpath.PathElement, len(v))
		var claimed []fieldpath.PathElement
		for _, exact := range []bool{true, false} {
			for i, item := range v {
				if found[i] == nil {
					found[i] = matchItem(set, i, item, exact, claimed)
					if found[i] != nil {
						claimed = append(claimed, *found[i])
					}
				}
			}
		}
		for i, item := range v {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case found[i] == nil:
				*missing = append(*missing, p)
			default:
				if child, ok := set.Children.Get(*found[i]); ok {
					walkValue(child, item, p, missing)
				}
			}
		}
	}
}

// matchItem finds the element of set (a child or a leaf member) that list item i is, matching key
// fields exactly or, unless exact, on the key fields the item has; elements already claimed by other
// items are passed over. It returns nil when there is none.
func matchItem(set *fieldpath.Set, i int, item any, exact bool, claimed []fieldpath.PathElement) *fieldpath.PathElement {
	matches := func(pe fieldpath.PathElement) bool {
		if slices.ContainsFunc(claimed, pe.Equals) {
			return false
		}
		switch {
		case pe.Index != nil:
			return *pe.Index == i
		case pe.Value != nil:
			return value.Equals(*pe.Value, value.NewValueInterface(item))
		case pe.Key != nil:
			return keyMatches(*pe.Key, item, exact)
		}
		return false
	}
	// A child is preferred to a member of the same element: the item is owned field by field. The
	// sets' Iterate methods are used rather than their All iterators, whose loops may not be left
	// early.
	var found *fieldpath.PathElement
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		if found == nil && matches(pe) {
			found = &pe
		}
	})
	if found == nil {
		set.Members.Iterate(func(pe fieldpath.PathElement) {
			if found == nil && matches(pe) {
				found = &pe
			}
		})
	}
	return found
}

// keyMatches reports whether a list item has the key's field values. Unless exact, a key field the
// item lacks is taken as one the API server defaulted (a port's protocol, say); at least one key field
// must be present.
func keyMatches(key value.FieldList, item any, exact bool) bool {
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	present := 0
	for _, f := range key {
		v, ok := m[f.Name]
		if !ok {
			if exact {
				return false
			}
			continue
		}
		if !value.Equals(f.Value, value.NewValueInterface(v)) {
			return false
		}
		present++
	}
	return present > 0
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
