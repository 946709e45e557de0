// Package status computes and writes the status of bosun's resources. Every resource has one writer:
// the reconciler of its kind computes state, conditions and counts together (Conditions) and writes
// them in one server-side apply on the status subresource (Writer), so that `kubectl get` never shows
// columns that contradict each other.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// Writer writes statuses, and remembers what it last wrote for each object. A reconcile often runs
// before the cache has seen the status its previous reconcile wrote; compared with that stale copy, a
// status that changed back would look unchanged and never be written (Ready stuck False after a short
// not-ready spell, say). The Writer compares with its own last write instead, and with the cache only
// for objects it has not written since it started. A status is written only when it changed
// (docs/architecture.md#lesson-write-status-only-on-change).
type Writer struct {
	Client  client.Client
	Manager string

	mu   sync.Mutex
	last map[types.UID][]byte
}

// Write writes st (the whole status, as a typed struct) unless it is what was last written, or, when
// nothing was written yet, unless cachedUnchanged says the cache already holds it. It reports whether
// it wrote.
func (w *Writer) Write(ctx context.Context, obj client.Object, st any, cachedUnchanged bool) (bool, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("encoding the status of %s: %w", obj.GetName(), err)
	}
	w.mu.Lock()
	last, ok := w.last[obj.GetUID()]
	w.mu.Unlock()
	if (ok && bytes.Equal(last, data)) || (!ok && cachedUnchanged) {
		return false, nil
	}
	if err := w.apply(ctx, obj, data); apierrors.IsNotFound(err) {
		// The object was deleted after it was read: it has no status left to write, and a reconcile
		// that finds it gone is not an error (docs/architecture.md#lesson-gone-is-not-an-error).
		return false, nil
	} else if err != nil {
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

// Last decodes into st the status last written for the object with uid, and reports whether there is
// one. It is newer than the cache's copy until the cache catches up with the write, so a decision that
// compares with the status before (an Event on a change, say) reads it here first.
func (w *Writer) Last(uid types.UID, st any) bool {
	w.mu.Lock()
	last, ok := w.last[uid]
	w.mu.Unlock()
	return ok && json.Unmarshal(last, st) == nil
}

// Forget drops what was written for an object that is gone.
func (w *Writer) Forget(uid types.UID) {
	w.mu.Lock()
	delete(w.last, uid)
	w.mu.Unlock()
}

// apply writes obj's status, encoded as data, with server-side apply under the Writer's manager: the
// manager owns exactly the fields it sends, and takes over any another manager of bosun owned before.
func (w *Writer) apply(ctx context.Context, obj client.Object, data []byte) error {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("encoding the status of %s: %w", obj.GetName(), err)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	u := &unstructured.Unstructured{Object: map[string]any{"status": m}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.GetName())
	u.SetNamespace(obj.GetNamespace())
	if err := w.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(w.Manager), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing the status of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// Conditions builds the conditions of one status. It starts from the conditions the object has, so
// that a condition whose status stays the same keeps its transition time and an unchanged status is
// not rewritten; each condition it sets describes the generation the reconcile acted on, and one whose
// status changes gets the reconcile's time.
type Conditions struct {
	list       []metav1.Condition
	generation int64
	now        metav1.Time
}

// NewConditions starts from old, for an object's generation, at now.
func NewConditions(old []metav1.Condition, generation int64, now metav1.Time) *Conditions {
	return &Conditions{list: append([]metav1.Condition(nil), old...), generation: generation, now: now}
}

// Set sets c, keeping the transition time of the condition of its type unless the status changes.
func (c *Conditions) Set(cond metav1.Condition) {
	cond.ObservedGeneration = c.generation
	if old := meta.FindStatusCondition(c.list, cond.Type); old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	} else {
		cond.LastTransitionTime = c.now
	}
	meta.SetStatusCondition(&c.list, cond)
}

// Reconciled sets the Reconciled condition from a reconcile's outcome: False with the refusal's reason
// and message, or ReconcileError with an error's; True with done, the message of success. It reports
// whether the resource is reconciled.
func (c *Conditions) Reconciled(refusal *desired.Refusal, err error, done string) bool {
	switch {
	case refusal != nil:
		c.Set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: refusal.Reason, Message: refusal.Error()})
	case err != nil:
		c.Set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionFalse, Reason: v1.ReasonReconcileError, Message: err.Error()})
	default:
		c.Set(metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: done})
		return true
	}
	return false
}

// Untold sets the condition of type t Unknown, for a resource that is not reconciled: what it would
// say cannot be told until it is. what names the resource ("revision", "tag", "Istio").
func (c *Conditions) Untold(t, what string) {
	reason := v1.ReasonReconcileError
	if r := meta.FindStatusCondition(c.list, v1.ConditionReconciled); r != nil {
		reason = r.Reason
	}
	msg := fmt.Sprintf("%s cannot be told until the %s is reconciled", untoldWhat[t], what)
	c.Set(metav1.Condition{Type: t, Status: metav1.ConditionUnknown, Reason: reason, Message: msg})
}

// untoldWhat says what a condition type tells, for Untold's message.
var untoldWhat = map[string]string{
	v1.ConditionReady:               "readiness",
	v1.ConditionDependenciesHealthy: "dependencies",
	v1.ConditionInUse:               "usage",
}

// Get returns the condition of type t, or nil.
func (c *Conditions) Get(t string) *metav1.Condition { return meta.FindStatusCondition(c.list, t) }

// Of returns the conditions of the given types, in that order: the ones a status holds.
func (c *Conditions) Of(types ...string) []metav1.Condition {
	var out []metav1.Condition
	for _, t := range types {
		if cond := meta.FindStatusCondition(c.list, t); cond != nil {
			out = append(out, *cond)
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
