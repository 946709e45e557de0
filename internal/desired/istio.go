package desired

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/values"
)

// RevisionName is the IstioRevision an Istio's spec maps to: the Istio's own name under InPlace, and
// <istio>-<concrete version with dots as dashes> under RevisionBased (default-v1-24-3 for v1.24.3).
// The concrete version, never the alias, goes into the name, so that a new build behind an alias is a
// new revision under RevisionBased rather than an in-place upgrade
// (docs/architecture.md#lesson-alias-names-a-revision).
func RevisionName(istio *v1.Istio, version catalog.Version) string {
	if istio.Spec.UpdateStrategy == nil || istio.Spec.UpdateStrategy.Type != v1.UpdateStrategyRevisionBased {
		return istio.Name
	}
	return istio.Name + "-" + strings.ReplaceAll(version.Name, ".", "-")
}

// RevisionOf is the IstioRevision bosun writes for an Istio: its concrete version and complete values.
// It is refused when the version, profile or values cannot be installed, or the revision's name would
// make names the API server refuses.
func (e Env) RevisionOf(istio *v1.Istio) (*v1.IstioRevision, *Refusal) {
	version, profiles, user, err := e.inputs(string(istio.Spec.Version), istio.Spec.Values)
	if err != nil {
		return nil, invalid(err)
	}
	name := RevisionName(istio, version)
	if err := checkRevisionName(istio.Name, name); err != nil {
		return nil, invalid(err)
	}
	namespace := orDefault(istio.Spec.Namespace, DefaultIstioNamespace)
	computed, err := values.ControlPlane(values.ControlPlaneInput{
		Profiles: profiles, Images: version.Images, Profile: istio.Spec.Profile, Platform: e.Platform,
		User: user, Revision: name, Namespace: namespace,
	})
	if err != nil {
		return nil, invalid(err)
	}
	rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version.Name), Namespace: namespace}}
	rev.APIVersion, rev.Kind = v1.GroupVersion.String(), v1.KindIstioRevision
	rev.Name = name
	rev.Spec.Values = &v1.Values{}
	if err := values.ToObject(computed, rev.Spec.Values); err != nil {
		return nil, invalid(fmt.Errorf("the computed values do not fit IstioRevision.spec.values: %w", err))
	}
	return rev, nil
}

// IstioPlan is what an Istio becomes: the revision its spec asks for, the revision of that name that
// exists (nil when it is to be created), or the refusal of the spec.
type IstioPlan struct {
	// Revision is the IstioRevision as the spec asks for it: the spec to create or update, its owner
	// reference aside.
	Revision *v1.IstioRevision
	// Existing is the IstioRevision of that name in the facts, or nil.
	Existing *v1.IstioRevision
	Refusal  *Refusal
}

// RevisionConflictError says that an Istio's revision name is taken by a revision another resource
// owns.
type RevisionConflictError struct {
	Istio, Revision string
	// OwnerKind and OwnerName name the other owner.
	OwnerKind, OwnerName string
}

func (e *RevisionConflictError) Error() string {
	return fmt.Sprintf("IstioRevision %s already exists and belongs to %s %s: rename Istio %s, or delete the other %s",
		e.Revision, e.OwnerKind, e.OwnerName, e.Istio, e.OwnerKind)
}

// ForIstio decides an Istio: the revision its spec asks for. It is refused when that revision cannot
// be made (RevisionOf), when a revision of that name belongs to something else, when an older
// IstioRevisionTag holds the name, and when an InPlace version change would skip a minor version. A
// revision of that name that belongs to nothing (a restore left it without its owner reference,
// docs/architecture.md#lesson-restored-revisions) is the Istio's to take back.
func (e Env) ForIstio(istio *v1.Istio, f *Facts) IstioPlan {
	want, refusal := e.RevisionOf(istio)
	if refusal != nil {
		return IstioPlan{Refusal: refusal}
	}
	plan := IstioPlan{Revision: want, Existing: f.Revisions[want.Name]}
	check := want
	if existing := plan.Existing; existing != nil {
		if ref := metav1.GetControllerOf(existing); ref != nil && !refersTo(*ref, istio) {
			plan.Refusal = invalid(&RevisionConflictError{Istio: istio.Name, Revision: want.Name, OwnerKind: ref.Kind, OwnerName: ref.Name})
			return plan
		}
		check = existing
	}
	if plan.Refusal = revisionNameRefusal(check, f); plan.Refusal != nil {
		var conflict *NameConflictError
		if errors.As(plan.Refusal.Err, &conflict) {
			conflict.Istio = istio.Name
		}
		return plan
	}
	if existing := plan.Existing; existing != nil && existing.Spec.Version != want.Spec.Version {
		plan.Refusal = e.inPlaceStepRefusal(istio, existing, want)
	}
	return plan
}

// inPlaceStepRefusal refuses an InPlace version change of an existing revision that skips a minor
// version (CheckInPlaceStep). The running version may have left the catalog (end of life after an
// operator upgrade, when big jumps are likeliest): its minor version comes from its name, and a name
// that says none refuses the change rather than allowing it.
func (e Env) inPlaceStepRefusal(istio *v1.Istio, existing, want *v1.IstioRevision) *Refusal {
	from, err := catalog.ParseVersion(string(existing.Spec.Version))
	if err != nil {
		return refuse(v1.ReasonVersionChangeNotAllowed, fmt.Errorf("IstioRevision %s runs %q, whose minor version bosun cannot tell, so it cannot check the change to %s: %w", existing.Name, existing.Spec.Version, want.Spec.Version, err))
	}
	to, err := catalog.ParseVersion(string(want.Spec.Version))
	if err != nil {
		return invalid(err)
	}
	if err := CheckInPlaceStep(istio, from, to, e.Catalog); err != nil {
		return refuse(v1.ReasonVersionChangeNotAllowed, err)
	}
	return nil
}

// refersTo reports whether an owner reference names the Istio: by UID when both have one (in a
// cluster), by name otherwise (manifests not yet applied).
func refersTo(ref metav1.OwnerReference, istio *v1.Istio) bool {
	if ref.Kind != v1.KindIstio {
		return false
	}
	if ref.UID != "" && istio.UID != "" {
		return ref.UID == istio.UID
	}
	return ref.Name == istio.Name
}

// AnnotationAllowMinorSkip, set to "true" on an Istio, lets an InPlace version change move more than
// one minor version at once. It is for an operator of the cluster who has checked that the workloads'
// sidecars can talk to a control plane that far ahead, or who restarts every workload at once.
const AnnotationAllowMinorSkip = "bosun.dev/allow-minor-version-skip"

// MinorSkipError refuses an InPlace version change of more than one minor version.
type MinorSkipError struct {
	Istio    string
	From, To catalog.Version
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

// Retiring reports whether a revision is one an Istio keeps only until its workloads move: an older
// revision of a RevisionBased Istio, whose spec now asks for another. Node agents follow the control
// plane being moved to, so the version rule leaves retiring revisions out (updating §4.1.1: create the
// new control plane revision, then update the CNI). A revision no Istio owns, or whose Istio cannot be
// decided, is not retiring.
func (e Env) Retiring(rev *v1.IstioRevision, f *Facts) bool {
	ref := metav1.GetControllerOf(rev)
	if ref == nil || ref.Kind != v1.KindIstio {
		return false
	}
	istio := f.Istios[ref.Name]
	if istio == nil || istio.UID != ref.UID {
		return false
	}
	want, refusal := e.RevisionOf(istio)
	return refusal == nil && want.Name != rev.Name
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

// Prune decides whether an inactive revision of istio may be deleted: only when its InUse condition has
// been False for the whole grace period, and its use evaluated afresh (inUseNow, asked only then) is False
// too: a workload may have come back since the condition was written, while the operator was down,
// say. True keeps it; Unknown or a missing condition keeps it too, since bosun cannot tell that no
// workload uses it (docs/architecture.md#lesson-unknown-is-in-use). For a revision whose istiod serves
// other clusters, both evaluations count those clusters' workloads too, and cannot be False while one
// of them cannot be read (docs/architecture.md#lesson-remote-revisions).
func Prune(istio *v1.Istio, rev *v1.IstioRevision, now time.Time, inUseNow func() metav1.Condition) PruneDecision {
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
	deadline := c.LastTransitionTime.Add(GracePeriod(istio) + time.Second)
	if now.Before(deadline) {
		return PruneDecision{RecheckAfter: deadline.Sub(now), Why: "unused, within the grace period"}
	}
	if fresh := inUseNow(); fresh.Status != metav1.ConditionFalse {
		return PruneDecision{Why: "in use again, or its use cannot be told: " + fresh.Message}
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

// ServesRemoteClusters reports whether the control plane of an Istio's or revision's values serves
// other clusters' workloads (an external istiod): its revisions' use is then evaluated in those
// clusters too (internal/remote), and an Istio reports whether they are reachable.
func ServesRemoteClusters(vals *v1.Values) bool {
	if vals == nil {
		return false
	}
	if vals.Pilot != nil {
		if s, found := vals.Pilot.Env["EXTERNAL_ISTIOD"]; found {
			// istiod reads it as a bool (1, t, TRUE, True …); one it cannot read keeps revisions too.
			if on, err := strconv.ParseBool(s); err != nil || on {
				return true
			}
		}
	}
	return vals.Global != nil && vals.Global.ExternalIstiod != nil && *vals.Global.ExternalIstiod
}
