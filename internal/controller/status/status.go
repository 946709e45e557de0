// Package status writes the status of bosun's resources. Each controller writes only the fields it
// computes, with server-side apply on the status subresource under its own field manager: conditions
// are a list keyed by type, so two controllers can each own some conditions of one resource (the
// revision controller owns Reconciled and Ready, the usage controller InUse) without overwriting each
// other from a stale cache.
package status

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Apply writes fields of obj's status with server-side apply under manager. fields is the status as a
// typed struct or map: only the fields it sets are sent, and the manager owns exactly those.
func Apply(ctx context.Context, c client.Client, obj client.Object, manager string, fields any) error {
	data, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encoding the status of %s: %w", obj.GetName(), err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("encoding the status of %s: %w", obj.GetName(), err)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	u := &unstructured.Unstructured{Object: map[string]any{"status": m}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.GetName())
	u.SetNamespace(obj.GetNamespace())
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing the status of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// Set returns conditions with c set as meta.SetStatusCondition sets it: the transition time moves only
// when the status changes, so a condition whose status stays the same does not rewrite the object.
// now is the time of a transition.
func Set(conditions []metav1.Condition, c metav1.Condition, now metav1.Time) []metav1.Condition {
	out := append([]metav1.Condition(nil), conditions...)
	if old := meta.FindStatusCondition(out, c.Type); old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	} else {
		c.LastTransitionTime = now
	}
	meta.SetStatusCondition(&out, c)
	return out
}

// State is status.state: Healthy when every condition of the given types is True, otherwise the reason
// of the first that is not (missing counts as not True, with reason empty).
func State(conditions []metav1.Condition, types ...string) string {
	for _, t := range types {
		c := meta.FindStatusCondition(conditions, t)
		if c == nil {
			return ""
		}
		if c.Status != metav1.ConditionTrue {
			return c.Reason
		}
	}
	return "Healthy"
}
