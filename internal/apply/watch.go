package apply

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// WatchOwned makes a controller watch the objects it applies, of each served kind, for the events that
// may need it: an update (drift, a rollout's progress) or a deletion. Their creation is the
// controller's own doing and is ignored.
func WatchOwned(b *builder.Builder, served []schema.GroupVersionKind) *builder.Builder {
	for _, gvk := range served {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		b = b.Owns(obj, builder.WithPredicates(ownedChange{}))
	}
	return b
}

type ownedChange struct{ predicate.Funcs }

func (ownedChange) Create(event.CreateEvent) bool   { return false }
func (ownedChange) Delete(event.DeleteEvent) bool   { return true }
func (ownedChange) Generic(event.GenericEvent) bool { return false }

// Update passes a change of what bosun applies or may have to put back (anything but the status),
// and a workload's status, which its readiness is read from. The status of the other kinds
// (a PodDisruptionBudget's, which changes with every pod a rollout starts; an autoscaler's) concerns
// nothing bosun decides: a reconcile it woke would only delay the one a workload's progress needs.
func (ownedChange) Update(e event.UpdateEvent) bool {
	old, okOld := e.ObjectOld.(*unstructured.Unstructured)
	updated, okNew := e.ObjectNew.(*unstructured.Unstructured)
	if !okOld || !okNew || readinessFromStatus[updated.GetKind()] {
		return true
	}
	return !equality.Semantic.DeepEqual(withoutStatus(old), withoutStatus(updated))
}

// readinessFromStatus are the kinds whose status says whether what bosun applied is ready.
var readinessFromStatus = map[string]bool{"Deployment": true, "DaemonSet": true, "StatefulSet": true}

// withoutStatus is an object without its status and what every write of it changes: its
// resourceVersion, and the managedFields entries of its status. It shares the object's maps.
func withoutStatus(obj *unstructured.Unstructured) map[string]any {
	out := make(map[string]any, len(obj.Object))
	for k, v := range obj.Object {
		if k != "status" {
			out[k] = v
		}
	}
	meta, _ := obj.Object["metadata"].(map[string]any)
	trimmed := make(map[string]any, len(meta))
	for k, v := range meta {
		switch k {
		case "resourceVersion":
		case "managedFields":
			var entries []any
			for _, e := range v.([]any) {
				if entry, ok := e.(map[string]any); !ok || entry["subresource"] != "status" {
					entries = append(entries, e)
				}
			}
			trimmed[k] = entries
		default:
			trimmed[k] = v
		}
	}
	out["metadata"] = trimmed
	return out
}
