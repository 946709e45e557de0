package desired

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Choice is the revision a tag's webhook (or ztunnel) points at, and the one it is waiting to move to.
type Choice struct {
	// Revision is the revision pointed at.
	Revision *v1.IstioRevision
	// Waiting is the revision the targetRef resolves to while Revision is kept until its istiod is
	// ready; nil when Revision is where the targetRef points.
	Waiting *v1.IstioRevision
}

// Choose decides which revision a tag's webhook, or a ZTunnel, points at. want is the revision the
// targetRef resolves to now (from the spec, field lesson #26), current the one pointed at so far (named
// by the status), nil when there is none. It moves to want at once, unless current's istiod is ready
// and want's is not yet: then it stays on current until want is ready, so that the workloads that use
// it always have a control plane that answers them.
func Choose(want, current *v1.IstioRevision) Choice {
	if current == nil || current.Name == want.Name || !current.DeletionTimestamp.IsZero() ||
		Ready(want) || !Ready(current) {
		return Choice{Revision: want}
	}
	return Choice{Revision: current, Waiting: want}
}

// Ready reports whether a revision's istiod is ready for its current spec: its Ready condition is True
// and describes its latest generation.
func Ready(rev *v1.IstioRevision) bool {
	c := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && rev.Status.ObservedGeneration == rev.Generation
}
