// Package status writes the status of bosun's resources. Each controller writes only the fields it
// computes, with server-side apply on the status subresource under its own field manager: conditions
// are a list keyed by type, so two controllers can each own some conditions of one resource (the
// revision controller owns Reconciled and Ready, the usage controller InUse) without overwriting each
// other from a stale cache.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Writer writes the status fields one controller owns, and remembers what it last wrote for each
// object. A reconcile often runs before the cache has seen the status its previous reconcile wrote;
// compared with that stale copy, a status that changed back would look unchanged and never be written
// (Ready stuck False after a short not-ready spell, say). The Writer compares with its own last write
// instead, and with the cache only for objects it has not written since it started.
type Writer struct {
	Client  client.Client
	Manager string

	mu   sync.Mutex
	last map[types.UID][]byte
}

// Write writes fields (the status as a typed struct or map) unless they are what was last written,
// or, when nothing was written yet, unless cachedUnchanged says the cache already holds them. It
// reports whether it wrote.
func (w *Writer) Write(ctx context.Context, obj client.Object, fields any, cachedUnchanged bool) (bool, error) {
	data, err := json.Marshal(fields)
	if err != nil {
		return false, fmt.Errorf("encoding the status of %s: %w", obj.GetName(), err)
	}
	w.mu.Lock()
	last, ok := w.last[obj.GetUID()]
	w.mu.Unlock()
	if (ok && bytes.Equal(last, data)) || (!ok && cachedUnchanged) {
		return false, nil
	}
	if err := Apply(ctx, w.Client, obj, w.Manager, fields); err != nil {
		return false, err
	}
	w.mu.Lock()
	if w.last == nil {
		w.last = map[types.UID][]byte{}
	}
	w.last[obj.GetUID()] = data
	w.mu.Unlock()
	return true, nil
}

// Forget drops what was written for an object that is gone.
func (w *Writer) Forget(uid types.UID) {
	w.mu.Lock()
	delete(w.last, uid)
	w.mu.Unlock()
}

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

// Only returns the conditions of the given types, in that order: the ones a controller owns.
func Only(conditions []metav1.Condition, types ...string) []metav1.Condition {
	var out []metav1.Condition
	for _, t := range types {
		if c := meta.FindStatusCondition(conditions, t); c != nil {
			out = append(out, *c)
		}
	}
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

// Refusal is a spec bosun will not act on as written: retrying cannot help, the resource must change.
// Reason is the reason of the Reconciled condition it sets.
type Refusal struct {
	Reason string
	Err    error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse wraps err as a Refusal with reason.
func Refuse(reason string, err error) error { return &Refusal{Reason: reason, Err: err} }

// RefusalReason returns the reason of a Refusal in err's chain, and whether there is one.
func RefusalReason(err error) (string, bool) {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason, true
	}
	return "", false
}

// Held reports whether old already holds every condition of want, exactly: then a controller that
// owns want's conditions has nothing of them to write.
func Held(old, want []metav1.Condition) bool {
	for _, c := range want {
		o := meta.FindStatusCondition(old, c.Type)
		if o == nil || !equality.Semantic.DeepEqual(*o, c) {
			return false
		}
	}
	return true
}
