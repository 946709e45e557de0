package controller

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// RevisionChange passes the events of a revision that can change what the resources pointing at it
// (tags, a ZTunnel) do: its coming and going, a change of its spec, the revision catching up with its
// spec (observedGeneration: Ready counts only for the current spec), and a change of whether it is
// Ready or its installation was refused. A change of its InUse condition, which a tag itself causes,
// does not wake them.
type RevisionChange struct{ predicate.Funcs }

func (RevisionChange) Create(event.CreateEvent) bool   { return true }
func (RevisionChange) Delete(event.DeleteEvent) bool   { return true }
func (RevisionChange) Generic(event.GenericEvent) bool { return false }
func (RevisionChange) Update(e event.UpdateEvent) bool {
	old, okOld := e.ObjectOld.(*v1.IstioRevision)
	rev, okNew := e.ObjectNew.(*v1.IstioRevision)
	if !okOld || !okNew {
		return true
	}
	status := func(r *v1.IstioRevision, t string) metav1.ConditionStatus {
		if c := meta.FindStatusCondition(r.Status.Conditions, t); c != nil {
			return c.Status
		}
		return ""
	}
	return old.Generation != rev.Generation || !old.DeletionTimestamp.Equal(rev.DeletionTimestamp) ||
		old.Status.ObservedGeneration != rev.Status.ObservedGeneration || desired.Ready(old) != desired.Ready(rev) ||
		status(old, v1.ConditionReady) != status(rev, v1.ConditionReady) ||
		status(old, v1.ConditionReconciled) != status(rev, v1.ConditionReconciled)
}
