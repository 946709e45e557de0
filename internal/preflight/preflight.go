// Package preflight checks a change of an Istio's version before bosun makes it, whatever the update
// strategy, with or without updateWorkloads: what the change would leave broken or stuck. A hard finding
// (the change would break the data plane, or cannot be installed at all) refuses the change: nothing of
// it is applied, the running revision keeps serving, and the Istio's Reconciled condition says what to
// fix. Soft findings warn: the change proceeds, and the Istio's UpdatePreflight condition and a Warning
// Event for each say what to look at. The checks are pure functions of a Snapshot; cluster.go reads it.
package preflight

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/meshview"
)

// Change is a change of an Istio's version.
type Change struct {
	From, To string
	// Target is the revision the change makes, as the plan asks for it.
	Target *v1.IstioRevision
	// Running is the revision that serves now, and keeps serving when the change is refused.
	Running *v1.IstioRevision
	// InPlace is true when the running revision is updated: its proxies then talk to the new control
	// plane until they restart.
	InPlace bool
}

// ChangeOf reports whether the Istio's plan changes its version, given the revisions it owns: an
// InPlace revision updated to another version, or a RevisionBased revision created beside the ones it
// has. The first revision of a new Istio is no change.
func ChangeOf(istio *v1.Istio, plan desired.IstioPlan, owned []*v1.IstioRevision) (Change, bool) {
	if plan.Refusal != nil || plan.Revision == nil {
		return Change{}, false
	}
	to := string(plan.Revision.Spec.Version)
	if plan.Existing != nil {
		from := string(plan.Existing.Spec.Version)
		return Change{From: from, To: to, Target: plan.Revision, Running: plan.Existing, InPlace: true}, from != to
	}
	if len(owned) == 0 {
		return Change{}, false
	}
	from := owned[len(owned)-1]
	for _, rev := range owned {
		if rev.Name == istio.Status.ActiveRevisionName {
			from = rev
		}
	}
	return Change{From: string(from.Spec.Version), To: to, Target: plan.Revision, Running: from}, true
}

// Budget is a PodDisruptionBudget that allows no disruption now, in a namespace with pods of the mesh.
type Budget struct{ Namespace, Name string }

// Snapshot is what the checks read.
type Snapshot struct {
	Facts *desired.Facts
	// Pods are the pods the Istio's revisions injected.
	Pods []inuse.Pod
	// Namespaces are the namespaces the Istio discovers, with their labels.
	Namespaces []inuse.Namespace
	// Budgets are read only when the Istio moves its workloads itself.
	Budgets []Budget
	// Render is why the target revision's charts do not render with its values, or nil when they do.
	Render error
}

// Finding is one thing the checks found, as a sentence that says what is wrong and what to do.
type Finding struct {
	Message string
	// Hard findings refuse the change; the others warn.
	Hard bool
	// Recheck is true when what lifts a hard finding is something that wakes no reconcile of the Istio
	// (pods restarting): the Istio is then looked at again after a while.
	Recheck bool
}

// maxNamed is how many pods or namespaces a finding names before it counts the rest.
const maxNamed = 5

// Check lists the findings of a change. Hard ones, which refuse it:
//   - node agents (IstioCNI, ZTunnel) the new control plane needs whose version it does not support:
//     they would break the data plane;
//   - values the new version's charts refuse (Snapshot.Render): the new control plane cannot be
//     installed at all;
//   - under InPlace, proxies that would run outside the skew Istio supports beside the new control
//     plane (its minor version or one behind) with nothing to restart them: unless bosun moves the
//     workloads (updateWorkloads restarts them right after the update) or the Istio carries the
//     annotation desired.AnnotationAllowMinorSkip, which says its owner checked them.
//
// Soft ones, which warn:
//   - those proxies, when bosun restarts them or the owner allowed them;
//   - with updateWorkloads, PodDisruptionBudgets that allow no disruption, whose workloads the move
//     will skip;
//   - namespaces the mesh discovers whose injection label names no revision or tag: their pods lose
//     their sidecar when they restart.
func Check(env desired.Env, istio *v1.Istio, ch Change, s Snapshot) []Finding {
	var out []Finding
	moving := istio.Spec.UpdateStrategy != nil && istio.Spec.UpdateStrategy.UpdateWorkloads
	for _, err := range env.AgentsOutOfSkew(ch.Target, s.Facts) {
		out = append(out, Finding{Hard: true, Message: fmt.Sprintf("%v, before Istio %s can go to %s (the new control plane does not support it)", err, istio.Name, ch.To)})
	}
	if s.Render != nil {
		out = append(out, Finding{Hard: true, Message: fmt.Sprintf("the charts of %s refuse the Istio's values: %v; change spec.values so that %s accepts them, or keep spec.version at %s", ch.To, s.Render, ch.To, ch.From)})
	}
	if ch.InPlace {
		var outside []string
		for _, p := range s.Pods {
			if v := meshview.ProxyVersion(p.Annotations); meshview.OutsideSkew(v, ch.To) {
				outside = append(outside, fmt.Sprintf("%s/%s (%s)", p.Namespace, p.Name, v))
			}
		}
		if len(outside) > 0 {
			slices.Sort(outside)
			what, keeps := fmt.Sprintf("%d pods run proxies", len(outside)), "keep them until they restart"
			if len(outside) == 1 {
				what, keeps = "1 pod runs a proxy", "keeps it until it restarts"
			}
			f := Finding{Message: fmt.Sprintf("%s outside the skew Istio supports beside %s (its minor version or one behind) and %s: %s", what, ch.To, keeps, named(outside))}
			switch {
			case moving:
				f.Message += "; bosun restarts them right after the update (updateWorkloads)"
			case istio.Annotations[desired.AnnotationAllowMinorSkip] == "true":
				f.Message += fmt.Sprintf("; the annotation %s lets the update go ahead: restart them right after it", desired.AnnotationAllowMinorSkip)
			default:
				f.Hard, f.Recheck = true, true
				f.Message += fmt.Sprintf("; restart them first (kubectl rollout restart), set spec.updateStrategy.updateWorkloads: true for bosun to restart them right after the update, or set the annotation %s: \"true\" to update anyway", desired.AnnotationAllowMinorSkip)
			}
			out = append(out, f)
		}
	}
	if moving {
		for _, b := range s.Budgets {
			out = append(out, Finding{Message: fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption: bosun will skip the workloads it covers when it moves the workloads", b.Namespace, b.Name)})
		}
	}
	var unresolved []string
	for _, ns := range s.Namespaces {
		name, _ := inuse.NamespaceReference(ns.Labels)
		if name == "" || s.Facts.Revisions[name] != nil || s.Facts.Tags[name] != nil {
			continue
		}
		unresolved = append(unresolved, fmt.Sprintf("%s (%s)", ns.Name, name))
	}
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		out = append(out, Finding{Message: fmt.Sprintf("namespaces labelled for a revision or tag that does not exist: %s; their pods lose their sidecar when they restart: label them for %s or create the tag",
			named(unresolved), ch.Target.Name)})
	}
	return out
}

func named(items []string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxNamed], ", "), len(items)-maxNamed)
}

// Condition is the UpdatePreflight condition of a change's findings.
func Condition(ch Change, findings []Finding) metav1.Condition {
	c := metav1.Condition{Type: v1.ConditionUpdatePreflight}
	if len(findings) == 0 {
		c.Status, c.Reason = metav1.ConditionTrue, v1.ReasonPreflightPassed
		c.Message = fmt.Sprintf("the change from %s to %s was checked before it was made: nothing found", ch.From, ch.To)
		return c
	}
	c.Status, c.Reason = metav1.ConditionFalse, v1.ReasonPreflightWarnings
	verdict := "was checked before it was made"
	if hard(findings) != nil {
		c.Reason, verdict = v1.ReasonPreflightFailed, "was checked and refused"
	}
	c.Message = fmt.Sprintf("the change from %s to %s %s: %s", ch.From, ch.To, verdict, strings.Join(messages(findings), "; "))
	return c
}

// Refusal is the refusal of a change with hard findings, or nil when it has none: nothing of the change
// is applied, the running revision keeps serving, and the message says what to fix.
func Refusal(ch Change, findings []Finding) *desired.Refusal {
	h := hard(findings)
	if h == nil {
		return nil
	}
	running := ""
	if ch.Running != nil {
		running = fmt.Sprintf(" and IstioRevision %s keeps serving %s", ch.Running.Name, ch.From)
	}
	r := &desired.Refusal{Reason: v1.ReasonPreflightFailed, Err: fmt.Errorf("the change from %s to %s is refused until its pre-flight checks pass; nothing of it was applied%s: %s",
		ch.From, ch.To, running, strings.Join(messages(h), "; "))}
	for _, f := range h {
		r.Recheck = r.Recheck || f.Recheck
	}
	return r
}

func hard(findings []Finding) []Finding {
	var out []Finding
	for _, f := range findings {
		if f.Hard {
			out = append(out, f)
		}
	}
	return out
}

func messages(findings []Finding) []string {
	out := make([]string, len(findings))
	for i, f := range findings {
		out[i] = f.Message
	}
	return out
}
