package istio

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/values"
)

// AnnotationAllowMinorSkip, set to "true" on an Istio, lets an InPlace version change move more than
// one minor version at once. It is for an operator of the cluster who has checked that the workloads'
// sidecars can talk to a control plane that far ahead, or who restarts every workload at once.
const AnnotationAllowMinorSkip = "bosun.dev/allow-minor-version-skip"

// MinorSkipError refuses an InPlace version change of more than one minor version.
type MinorSkipError struct {
	Istio         string
	From, To      catalog.Version
	AllowedMinors []string
	// Allowed are the catalog's names an InPlace change may go to next.
	Allowed []string
}

func (e *MinorSkipError) Error() string {
	next := "the catalog has no version in those minors: switch updateStrategy.type to RevisionBased to move further at once"
	if len(e.Allowed) > 0 {
		next = "set spec.version to one of: " + strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("Istio %s runs %s (%s) and InPlace updates move one minor version at a time, so it cannot go to %s (%s) directly: %s, restart the workloads, then go on; or set the annotation %s: \"true\" to skip minors on purpose",
		e.Istio, e.From.Name, e.From.Minor(), e.To.Name, e.To.Minor(), next, AnnotationAllowMinorSkip)
}

// CheckInPlaceStep allows an InPlace revision to move from one version to another only within one
// minor version of the one it runs, up or down, as Istio supports sidecars one minor away from their
// control plane. The annotation lets an operator of the cluster override it.
func CheckInPlaceStep(istio *v1.Istio, from, to catalog.Version, cat *catalog.Catalog) error {
	if istio.Annotations[AnnotationAllowMinorSkip] == "true" || withinOneMinor(from, to) {
		return nil
	}
	err := &MinorSkipError{Istio: istio.Name, From: from, To: to}
	for _, name := range cat.Supported() {
		v, rerr := cat.Resolve(name)
		if rerr == nil && withinOneMinor(from, v) && v.Name != from.Name {
			err.Allowed = append(err.Allowed, name)
		}
	}
	return err
}

func withinOneMinor(a, b catalog.Version) bool {
	if a.Semver.Major() != b.Semver.Major() {
		return false
	}
	d := int64(a.Semver.Minor()) - int64(b.Semver.Minor())
	return d >= -1 && d <= 1
}

// PruneDecision says what to do with an inactive revision: keep it, delete it now, or look again after
// a while.
type PruneDecision struct {
	Delete bool
	// RecheckAfter is how long until the grace period ends, when the revision is unused but still
	// within it.
	RecheckAfter time.Duration
	// Why explains a decision to keep the revision, for logs.
	Why string
}

// Prune decides whether an inactive revision may be deleted: only when its InUse condition has been
// False for the whole grace period. True keeps it; Unknown or a missing condition keeps it too, since
// bosun cannot tell that no workload uses it (field lesson #27).
func Prune(rev *v1.IstioRevision, grace time.Duration, now time.Time) PruneDecision {
	c := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionInUse)
	switch {
	case c == nil:
		return PruneDecision{Why: "usage not known yet"}
	case c.Status == metav1.ConditionTrue:
		return PruneDecision{Why: "in use"}
	case c.Status != metav1.ConditionFalse:
		return PruneDecision{Why: "usage unknown: " + c.Message}
	}
	// The API server keeps transition times in whole seconds, so the transition may have come up to a
	// second after the recorded time: wait that second too, never less than the grace period.
	deadline := c.LastTransitionTime.Add(grace + time.Second)
	if now.Before(deadline) {
		return PruneDecision{RecheckAfter: deadline.Sub(now), Why: "unused, within the grace period"}
	}
	return PruneDecision{Delete: true}
}

// GracePeriod is how long an inactive revision must stay unused before it is deleted.
func GracePeriod(istio *v1.Istio) time.Duration {
	s := int64(v1.DefaultRevisionDeletionGracePeriodSeconds)
	if us := istio.Spec.UpdateStrategy; us != nil && us.InactiveRevisionDeletionGracePeriodSeconds != nil {
		s = max(*us.InactiveRevisionDeletionGracePeriodSeconds, 0)
	}
	return time.Duration(s) * time.Second
}

// ServesRemoteClusters reports whether an Istio's control plane serves other clusters' workloads
// (an external istiod), whose use bosun cannot see from here: its old revisions are never pruned
// (field lesson #29).
func ServesRemoteClusters(istio *v1.Istio) bool {
	m, err := values.FromObject(istio.Spec.Values)
	if err != nil {
		return true // values bosun cannot read: keep the revisions rather than guess
	}
	if v, _ := values.Get(m, "pilot", "env", "EXTERNAL_ISTIOD"); v == "true" {
		return true
	}
	v, _ := values.Get(m, "global", "externalIstiod")
	return v == true
}

// revisionCounts counts an Istio's revisions: all, Ready, and InUse.
func revisionCounts(revs []v1.IstioRevision) v1.RevisionSummary {
	var s v1.RevisionSummary
	for i := range revs {
		s.Total++
		if meta.IsStatusConditionTrue(revs[i].Status.Conditions, v1.ConditionReady) {
			s.Ready++
		}
		if meta.IsStatusConditionTrue(revs[i].Status.Conditions, v1.ConditionInUse) {
			s.InUse++
		}
	}
	return s
}

// copiedConditions are the active revision's conditions an Istio reports as its own, in the order its
// state summarises them.
var copiedConditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy}
