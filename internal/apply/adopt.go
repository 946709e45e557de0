package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Adopting objects another installer left.
//
// An object bosun would apply that already exists and was not applied by bosun (no managedFields entry
// of bosun's apply) belongs to someone else: a Helm release, the Sail Operator, kubectl. bosun does
// not take it silently: Apply refuses with a *NotOursError that names the object's field managers,
// until the operator is told which managers' objects it may take over (Options.Adopt, the operator's
// --adopt-from flag). Then bosun applies the object, makes the fields those managers owned its own,
// and applies once more, so that fields its chart no longer sets (a Helm release annotation, a
// label of the old operator) are removed rather than left co-owned for ever. Other managers' fields,
// such as the caBundle istiod writes into a webhook configuration, stay theirs.

// NotOursError refuses to apply over an object that another installer created.
type NotOursError struct {
	Ref Ref
	// Managers are the object's field managers (status aside).
	Managers []string
}

func (e *NotOursError) Error() string {
	if len(e.Managers) == 0 {
		// --adopt-from names managers, and this object has none: only deleting it helps.
		return fmt.Sprintf("%s exists and was not created by bosun (no field manager on record, so bosun cannot tell who owns it): delete it, and bosun creates it within a minute", e.Ref)
	}
	return fmt.Sprintf("%s exists and was not created by bosun (%s): delete it (bosun creates it within a minute), or let bosun take it over by running the operator with --adopt-from=%s",
		e.Ref, strings.Join(e.Managers, ", "), strings.Join(e.Managers, ","))
}

// foreignManagers lists the field managers of an object, status subresource entries aside.
func foreignManagers(obj *unstructured.Unstructured) []string {
	var out []string
	for _, e := range obj.GetManagedFields() {
		if e.Subresource == "" && !slices.Contains(out, e.Manager) {
			out = append(out, e.Manager)
		}
	}
	return out
}

// adoptable reports whether some of the object's managers are ones bosun may take over.
func (a *Applier) adoptable(managers []string) bool {
	for _, m := range managers {
		if slices.Contains(a.adopt, m) {
			return true
		}
	}
	return false
}

// takeOver takes an existing object over: it applies desired, hands the fields of the managers bosun may
// take over to bosun's apply entry, and applies again, which removes what bosun does not render.
func (a *Applier) takeOver(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	// The answer of the apply is the object as stored now; the cache has not seen it yet.
	live, err := a.send(ctx, desired)
	if err != nil {
		return nil, err
	}
	entries, err := a.mergeManagers(live.GetManagedFields())
	if err != nil {
		return nil, fmt.Errorf("taking over the fields of %s: %w", refOf(desired), err)
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": entries},
	})
	if err != nil {
		return nil, err
	}
	if err := a.writer.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return nil, fmt.Errorf("taking over the fields of %s: %w", refOf(desired), err)
	}
	return a.send(ctx, desired)
}

// mergeManagers folds the entries of the managers bosun may take over into bosun's apply entry.
func (a *Applier) mergeManagers(entries []metav1.ManagedFieldsEntry) ([]metav1.ManagedFieldsEntry, error) {
	bosun := -1
	merged := &fieldpath.Set{}
	var out []metav1.ManagedFieldsEntry
	for _, e := range entries {
		switch {
		case isBosunApply(e):
			bosun = len(out)
			out = append(out, e)
		case e.Subresource == "" && slices.Contains(a.adopt, e.Manager):
		default:
			out = append(out, e)
			continue
		}
		if e.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, err
		}
		merged = merged.Union(set)
	}
	if bosun < 0 {
		return nil, fmt.Errorf("no entry of bosun's apply")
	}
	raw, err := merged.ToJSON()
	if err != nil {
		return nil, err
	}
	out[bosun].FieldsV1 = &metav1.FieldsV1{Raw: raw}
	return out, nil
}
