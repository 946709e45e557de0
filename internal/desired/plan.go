package desired

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
)

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

// ActiveRevision is the IstioRevision an Istio's spec asks for (Revision), and the revision of that
// name that exists, or nil. It is refused with a *RevisionConflictError when that revision belongs to
// something else. A revision of that name that belongs to nothing (a restore left it without its owner
// reference, field lesson #28) is the Istio's to take back. A revision name an older IstioRevisionTag
// holds is refused with a *NameConflictError: the revision would not be created, or, existing, would be
// refused by the revision controller.
func (e Env) ActiveRevision(ctx context.Context, l Lookup, istio *v1.Istio) (want, existing *v1.IstioRevision, err error) {
	want, err = e.Revision(istio)
	if err != nil {
		return nil, nil, err
	}
	existing, err = l.Revision(ctx, want.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: IstioRevision %s: %w", ErrLookup, want.Name, err)
	}
	if existing != nil {
		if ref := metav1.GetControllerOf(existing); ref != nil && !refersTo(*ref, istio) {
			return nil, nil, &RevisionConflictError{Istio: istio.Name, Revision: want.Name, OwnerKind: ref.Kind, OwnerName: ref.Name}
		}
	}
	check := want
	if existing != nil {
		check = existing
	}
	if err := e.CheckRevisionName(ctx, l, check); err != nil {
		return nil, nil, err
	}
	return want, existing, nil
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

// ErrLookup wraps a failure to look a resource up, which is worth retrying, unlike a refusal of the
// resource as written.
var ErrLookup = errors.New("looking up")

// ErrTargetNotFound means a targetRef names an Istio or IstioRevision that does not exist (yet).
var ErrTargetNotFound = errors.New("target not found")

// Target is the IstioRevision a targetRef points at. An Istio stands for the revision its spec asks
// for, decided from the spec rather than from its status, which lags behind a version change (field
// lesson #26). Both kinds give an error wrapping ErrTargetNotFound when nothing is there, and one
// wrapping ErrLookup when the lookup failed.
func (e Env) Target(ctx context.Context, l Lookup, ref v1.TargetReference) (*v1.IstioRevision, error) {
	name := ref.Name
	if ref.Kind == v1.KindIstio {
		istio, err := l.Istio(ctx, ref.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: Istio %s: %w", ErrLookup, ref.Name, err)
		}
		if istio == nil {
			return nil, fmt.Errorf("%w: targetRef names Istio %s, which does not exist", ErrTargetNotFound, ref.Name)
		}
		want, err := e.Revision(istio)
		if err != nil {
			return nil, fmt.Errorf("targetRef names Istio %s, whose revision cannot be decided: %w", ref.Name, err)
		}
		name = want.Name
	}
	rev, err := l.Revision(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: IstioRevision %s: %w", ErrLookup, name, err)
	}
	if rev == nil {
		return nil, fmt.Errorf("%w: targetRef names IstioRevision %s, which does not exist", ErrTargetNotFound, name)
	}
	return rev, nil
}

// NameConflictError says that an IstioRevision and an IstioRevisionTag share a name and that the
// other one keeps it. Workloads select revisions and tags by the same istio.io/rev label, and a revision
// and a tag named default would both render the default validator, so only one of them may act: the
// older (Precedes).
type NameConflictError struct {
	// Kind is the kind of the resource refused, Holder the kind of the older one that keeps Name.
	Kind, Holder, Name string
}

func (e *NameConflictError) Error() string {
	return fmt.Sprintf("an %s named %s already exists and is older: a revision and a tag cannot share a name, since workloads select both with istio.io/rev=%s; rename this %s, or delete the %s",
		e.Holder, e.Name, e.Name, e.Kind, e.Holder)
}

// Precedes reports whether resource a holds a name before b: it was created earlier, or in the same
// second with the smaller UID. A resource not created yet (no creation time: an Istio's revision about
// to be made, or a manifest given to bosun render) comes after every one that was, and a tie between two
// such holds for neither.
func Precedes(a, b metav1.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	switch {
	case ta.IsZero():
		return false
	case tb.IsZero():
		return true
	case !ta.Equal(&tb):
		return ta.Before(&tb)
	}
	return a.GetUID() != "" && a.GetUID() < b.GetUID()
}

// CheckTagName refuses a tag when an IstioRevision of the same name precedes it, with a
// *NameConflictError. A lookup failure wraps ErrLookup.
func (e Env) CheckTagName(ctx context.Context, l Lookup, tag *v1.IstioRevisionTag) error {
	rev, err := l.Revision(ctx, tag.Name)
	if err != nil {
		return fmt.Errorf("%w: IstioRevision %s: %w", ErrLookup, tag.Name, err)
	}
	if rev != nil && !Precedes(tag, rev) {
		return &NameConflictError{Kind: v1.KindIstioRevisionTag, Holder: v1.KindIstioRevision, Name: tag.Name}
	}
	return nil
}

// CheckRevisionName refuses a revision when an IstioRevisionTag of the same name precedes it, with a
// *NameConflictError: a revision not created yet is preceded by any tag. A lookup failure wraps
// ErrLookup.
func (e Env) CheckRevisionName(ctx context.Context, l Lookup, rev *v1.IstioRevision) error {
	tag, err := l.Tag(ctx, rev.Name)
	if err != nil {
		return fmt.Errorf("%w: IstioRevisionTag %s: %w", ErrLookup, rev.Name, err)
	}
	if tag != nil && !Precedes(rev, tag) {
		return &NameConflictError{Kind: v1.KindIstioRevision, Holder: v1.KindIstioRevisionTag, Name: rev.Name}
	}
	return nil
}

// CRDChartInUse is the chart whose CRDs bosun applies: the base chart of the newest version any
// revision uses (CRDChart). ok is false when no revision has a version bosun knows.
func (e Env) CRDChartInUse(ctx context.Context, l Lookup) (req render.Request, ok bool, err error) {
	revs, err := l.Revisions(ctx)
	if err != nil {
		return render.Request{}, false, err
	}
	var versions []string
	for _, rev := range revs {
		versions = append(versions, string(rev.Spec.Version))
	}
	req, ok = e.CRDChart(versions)
	return req, ok, nil
}

// Retiring reports whether a revision is one an Istio keeps only until its workloads move: an older
// revision of a RevisionBased Istio, whose spec now asks for another. Node components follow the
// control plane being moved to, so the version rule leaves retiring revisions out (updating §4.1.1:
// create the new control plane revision, then update the CNI). A revision no Istio owns, or whose
// Istio cannot be read or decided, is not retiring.
func (e Env) Retiring(ctx context.Context, l Lookup, rev *v1.IstioRevision) bool {
	ref := metav1.GetControllerOf(rev)
	if ref == nil || ref.Kind != v1.KindIstio {
		return false
	}
	istio, err := l.Istio(ctx, ref.Name)
	if err != nil || istio == nil || istio.UID != ref.UID {
		return false
	}
	want, err := e.Revision(istio)
	return err == nil && want.Name != rev.Name
}
