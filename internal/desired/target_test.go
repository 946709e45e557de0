package desired

import (
	"strings"
	"testing"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestResolve is the table of every answer a targetRef can get, for a tag and a ZTunnel alike: the
// revision pointed at, the one moved to next, or why neither can be decided.
func TestResolve(t *testing.T) {
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v127)
	prod.UID = "uid-prod"
	broken := istio("broken", v1.UpdateStrategyRevisionBased, "v1.19.0")
	const (
		old = "prod-v1-25-0-snapshot-be4b14ad"
		cur = "prod-v1-27-0-snapshot-b9159ca3"
	)
	toIstio := v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}
	toRevision := func(name string) v1.TargetReference {
		return v1.TargetReference{Kind: v1.KindIstioRevision, Name: name}
	}
	cases := []struct {
		name    string
		ref     v1.TargetReference
		current string
		objs    []any
		target  string
		next    string
		reason  string
	}{
		{name: "an Istio's revision", ref: toIstio, objs: []any{prod, ready(revision(cur, v127, 10), false)}, target: cur},
		{name: "an Istio's new revision is not created yet: stay", ref: toIstio, current: old,
			objs: []any{prod, ready(revision(old, v125, 5), true)}, target: old, next: cur},
		{name: "an Istio's new revision is not created yet, and nothing to stay on: wait", ref: toIstio,
			objs: []any{prod}, reason: "waiting:" + v1.ReasonRefNotFound},
		{name: "an Istio's new revision is not created yet, and what it points at is being deleted: wait", ref: toIstio, current: old,
			objs: []any{prod, deleting(ready(revision(old, v125, 5), true))}, reason: "waiting:" + v1.ReasonRefNotFound},
		{name: "an Istio's new revision is not created yet, and what it points at is gone: wait", ref: toIstio, current: old,
			objs: []any{prod}, reason: "waiting:" + v1.ReasonRefNotFound},
		{name: "the new revision is not ready: stay on the ready one", ref: toIstio, current: old,
			objs: []any{prod, ready(revision(old, v125, 5), true), ready(revision(cur, v127, 10), false)}, target: old, next: cur},
		{name: "the new revision is ready: move", ref: toIstio, current: old,
			objs: []any{prod, ready(revision(old, v125, 5), true), ready(revision(cur, v127, 10), true)}, target: cur},
		{name: "neither ready: nothing to keep", ref: toIstio, current: old,
			objs: []any{prod, ready(revision(old, v125, 5), false), ready(revision(cur, v127, 10), false)}, target: cur},
		{name: "an Istio that does not exist", ref: toIstio, current: old, objs: []any{ready(revision(old, v125, 5), true)}, reason: v1.ReasonRefNotFound},
		{name: "an Istio whose revision cannot be decided", ref: v1.TargetReference{Kind: v1.KindIstio, Name: "broken"}, objs: []any{broken}, reason: v1.ReasonReconcileError},
		{name: "a revision", ref: toRevision(old), objs: []any{revision(old, v125, 5)}, target: old},
		{name: "a revision that does not exist", ref: toRevision("nope"), reason: v1.ReasonRefNotFound},
		{name: "a revision that does not exist, though it points at one", ref: toRevision("nope"), current: old,
			objs: []any{ready(revision(old, v125, 5), true)}, reason: v1.ReasonRefNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target, next, refusal := testEnv().Resolve(tc.ref, tc.current, facts(nil, tc.objs...))
			if got := reasonOf(refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, refusal, tc.reason)
			}
			if name(target) != tc.target || name(next) != tc.next {
				t.Errorf("points at %q, next %q; want %q, next %q", name(target), name(next), tc.target, tc.next)
			}
		})
	}
}

// TestChoose: the webhook moves to the revision its spec resolves to, except while that one's istiod
// is not ready and the one it points at is: injection never lacks a control plane that answers.
func TestChoose(t *testing.T) {
	stale := ready(revision("new", v127, 2), true)
	stale.Generation = 3 // Ready describes the spec before
	cases := []struct {
		name          string
		want, current *v1.IstioRevision
		points, next  string
	}{
		{"first reconcile", ready(revision("new", v127, 2), false), nil, "new", ""},
		{"same revision", ready(revision("new", v127, 2), false), ready(revision("new", v127, 2), false), "new", ""},
		{"new revision ready", ready(revision("new", v127, 2), true), ready(revision("old", v125, 1), true), "new", ""},
		{"new revision not ready yet: stay on the ready one", ready(revision("new", v127, 2), false), ready(revision("old", v125, 1), true), "old", "new"},
		{"new revision ready for an older spec only", stale, ready(revision("old", v125, 1), true), "old", "new"},
		{"neither ready: nothing to keep", ready(revision("new", v127, 2), false), ready(revision("old", v125, 1), false), "new", ""},
		{"the old one is being deleted", ready(revision("new", v127, 2), false), deleting(ready(revision("old", v125, 1), true)), "new", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target, next := Choose(tc.want, tc.current)
			if name(target) != tc.points || name(next) != tc.next {
				t.Errorf("points at %s, next %q; want %s, next %q", name(target), name(next), tc.points, tc.next)
			}
		})
	}
}

// TestUsageTarget: the names that resolve to a revision are its own, the tags whose spec resolves to
// it, and the tags whose webhook still points at it; a tag whose target cannot be decided still
// counts for the revision it points at, and for no other.
func TestUsageTarget(t *testing.T) {
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v127)
	const old, cur = "prod-v1-25-0-snapshot-be4b14ad", "prod-v1-27-0-snapshot-b9159ca3"
	moving := tagOf("moving", v1.KindIstio, "prod", 1)
	moving.Status.IstioRevision = old
	pinned := tagOf("pinned", v1.KindIstioRevision, old, 1)
	lost := tagOf("lost", v1.KindIstio, "gone", 1)
	lost.Status.IstioRevision = old
	yes := true
	oldRev := revision(old, v125, 1)
	oldRev.Spec.Values = &v1.Values{SidecarInjectorWebhook: &v1.SidecarInjectorConfig{EnableNamespacesByDefault: &yes}}
	f := facts(nil, prod, oldRev, revision(cur, v127, 2), moving, pinned, lost)
	for _, tc := range []struct {
		rev       *v1.IstioRevision
		tags      string
		byDefault bool
	}{
		{oldRev, "lost,moving,pinned", true},
		{f.Revisions[cur], "moving", false},
	} {
		got := testEnv().UsageTarget(tc.rev, f)
		if got.Revision != tc.rev.Name || strings.Join(got.Tags, ",") != tc.tags || got.EnableNamespacesByDefault != tc.byDefault {
			t.Errorf("UsageTarget(%s) = %+v, want tags %s, enableNamespacesByDefault %t", tc.rev.Name, got, tc.tags, tc.byDefault)
		}
	}
}

// TestTargetName: an Istio stands for the revision its spec asks for, existing or not, never the one
// its status names.
func TestTargetName(t *testing.T) {
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v127)
	prod.Status.ActiveRevisionName = "prod-v1-25-0-snapshot-be4b14ad"
	name, refusal := testEnv().TargetName(v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}, facts(nil, prod))
	if refusal != nil || name != "prod-v1-27-0-snapshot-b9159ca3" {
		t.Errorf("TargetName = %q, %v; want the revision of the spec", name, refusal)
	}
	name, refusal = testEnv().TargetName(v1.TargetReference{Kind: v1.KindIstioRevision, Name: "anything"}, facts(nil))
	if refusal != nil || name != "anything" {
		t.Errorf("TargetName of an IstioRevision = %q, %v; want its name, whether it exists or not", name, refusal)
	}
}
