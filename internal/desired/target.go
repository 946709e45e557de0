package desired

import (
	"fmt"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// TargetName is the name of the IstioRevision a targetRef resolves to, decided from the spec of what
// it names: an Istio stands for the revision its spec asks for (RevisionOf), not the one its status
// names, which lags behind a version change (docs/architecture.md#lesson-follow-the-spec). The revision
// need not exist yet. It is refused when the targetRef names an Istio that does not exist (RefNotFound)
// or one whose revision cannot be decided.
func (e Env) TargetName(ref v1.TargetReference, f *Facts) (string, *Refusal) {
	if ref.Kind != v1.KindIstio {
		return ref.Name, nil
	}
	istio := f.Istios[ref.Name]
	if istio == nil {
		return "", refuse(v1.ReasonRefNotFound, fmt.Errorf("the targetRef names Istio %s, which does not exist: create it, or point the targetRef at an existing Istio or IstioRevision", ref.Name))
	}
	want, refusal := e.RevisionOf(istio)
	if refusal != nil {
		return "", invalid(fmt.Errorf("the targetRef names Istio %s, whose revision cannot be decided: %w", ref.Name, refusal))
	}
	return want.Name, nil
}

// Resolve decides the revision a tag's webhook or a ZTunnel points at, from its targetRef and the
// revision it points at now (current: its status, "" when it points nowhere yet). It is where every
// reference bosun follows is resolved:
//   - the targetRef resolves to a revision by TargetName;
//   - while an Istio's new revision is not created yet, the resource stays on the revision it points
//     at, if that one still exists; with nothing to stay on, it waits (a Refusal with Waiting set):
//     the revision's creation wakes it;
//   - a targetRef that names an IstioRevision that does not exist is refused (RefNotFound);
//   - once the revision exists, Choose says whether to move to it now or once its istiod is ready.
func (e Env) Resolve(ref v1.TargetReference, current string, f *Facts) (target, next *v1.IstioRevision, refusal *Refusal) {
	name, refusal := e.TargetName(ref, f)
	if refusal != nil {
		return nil, nil, refusal
	}
	var cur *v1.IstioRevision
	if current != "" {
		cur = f.Revisions[current]
	}
	want := f.Revisions[name]
	switch {
	case want == nil && ref.Kind != v1.KindIstio:
		return nil, nil, refuse(v1.ReasonRefNotFound, fmt.Errorf("the targetRef names IstioRevision %s, which does not exist: create it, or point the targetRef at an existing Istio or IstioRevision", name))
	case want == nil && cur != nil && cur.DeletionTimestamp.IsZero():
		// The Istio's new revision is about to be created: meanwhile the resource stays where it is.
		pending := &v1.IstioRevision{}
		pending.Name = name
		return cur, pending, nil
	case want == nil:
		return nil, nil, &Refusal{Reason: v1.ReasonRefNotFound, Waiting: true,
			Err: fmt.Errorf("Istio %s has not created IstioRevision %s, which its spec asks for, yet", ref.Name, name)}
	}
	target, next = Choose(want, cur)
	return target, next, nil
}

// Choose decides which of two revisions a tag's webhook, or a ZTunnel, points at: want, where the
// targetRef resolves now, or current, the one pointed at so far (nil when there is none). It moves to
// want at once, unless current's istiod is ready and want's is not yet: then it stays on current until
// want is ready (next is want), so that the workloads that use it always have a control plane that
// answers them.
func Choose(want, current *v1.IstioRevision) (target, next *v1.IstioRevision) {
	if current == nil || current.Name == want.Name || !current.DeletionTimestamp.IsZero() ||
		Ready(want) || !Ready(current) {
		return want, nil
	}
	return current, want
}

// UsageTarget is what internal/inuse evaluates for a revision: the names that resolve to it. Those are
// its own name, the tags whose spec resolves to it, and the tags whose webhook still points at it
// (status): until a tag's webhook has moved, the workloads that use the tag are injected by this one. A
// tag whose target cannot be decided points nowhere new; it still counts for the revision its status
// names, and does not keep any other revision.
func (e Env) UsageTarget(rev *v1.IstioRevision, f *Facts) inuse.Target {
	t := inuse.Target{Revision: rev.Name}
	for _, tag := range f.SortedTags() {
		name, refusal := e.TargetName(tag.Spec.TargetRef, f)
		if (refusal == nil && name == rev.Name) || tag.Status.IstioRevision == rev.Name {
			t.Tags = append(t.Tags, tag.Name)
		}
	}
	t.EnableNamespacesByDefault = EnablesNamespacesByDefault(rev)
	return t
}

// EnablesNamespacesByDefault is a revision's sidecarInjectorWebhook.enableNamespacesByDefault: with it,
// the revision's injector serves every namespace without injection labels when default resolves to it,
// which keeps the revision, and the tag named default that points at it, in use (internal/inuse).
func EnablesNamespacesByDefault(rev *v1.IstioRevision) bool {
	v := rev.Spec.Values
	return v != nil && v.SidecarInjectorWebhook != nil && v.SidecarInjectorWebhook.EnableNamespacesByDefault != nil &&
		*v.SidecarInjectorWebhook.EnableNamespacesByDefault
}
