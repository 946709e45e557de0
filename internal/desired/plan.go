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
// reference, field lesson #28) is the Istio's to take back.
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
// lesson #26). Both kinds give an error wrapping ErrTargetNotFound when nothing is there.
func (e Env) Target(ctx context.Context, l Lookup, ref v1.TargetReference) (*v1.IstioRevision, error) {
	name := ref.Name
	if ref.Kind == v1.KindIstio {
		istio, err := l.Istio(ctx, ref.Name)
		if err != nil {
			return nil, err
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
		return nil, err
	}
	if rev == nil {
		return nil, fmt.Errorf("%w: targetRef names IstioRevision %s, which does not exist", ErrTargetNotFound, name)
	}
	return rev, nil
}

// CheckTagName refuses a tag that has a revision's name: workloads select revisions and tags by the
// same istio.io/rev label, so the two would be indistinguishable.
func (e Env) CheckTagName(ctx context.Context, l Lookup, tag *v1.IstioRevisionTag) error {
	rev, err := l.Revision(ctx, tag.Name)
	if err != nil {
		return err
	}
	if rev != nil {
		return fmt.Errorf("an IstioRevision named %s exists; a tag and a revision cannot share a name, so rename the tag", tag.Name)
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
