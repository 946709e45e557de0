package apply

import (
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
func (ownedChange) Update(event.UpdateEvent) bool   { return true }
func (ownedChange) Delete(event.DeleteEvent) bool   { return true }
func (ownedChange) Generic(event.GenericEvent) bool { return false }
