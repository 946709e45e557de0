// Package preflight checks a change of an Istio's version before bosun makes it, whatever the update
// strategy, with or without updateWorkloads: what the change would leave broken or stuck. Its findings
// are warnings: the change proceeds, and the Istio's UpdatePreflight condition and a Warning Event for
// each finding say what to look at. The checks are pure functions of a Snapshot; cluster.go reads it.
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
		return Change{From: from, To: to, Target: plan.Revision, InPlace: true}, from != to
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
	return Change{From: string(from.Spec.Version), To: to, Target: plan.Revision}, true
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
}

// maxNamed is how many pods or namespaces a finding names before it counts the rest.
const maxNamed = 5

// Check lists the findings of a change, each a sentence that says what is wrong and what to do:
//   - under InPlace, proxies that would run outside the skew Istio supports beside the new control
//     plane (its minor version or one behind), until their pods restart;
//   - node agents (IstioCNI, ZTunnel) the new control plane needs whose version it does not support;
//   - with updateWorkloads, PodDisruptionBudgets that allow no disruption, whose workloads the move
//     will skip;
//   - namespaces the mesh discovers whose injection label names no revision or tag: their pods lose
//     their sidecar when they restart.
func Check(env desired.Env, istio *v1.Istio, ch Change, s Snapshot) []string {
	var out []string
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
			out = append(out, fmt.Sprintf("%s outside the skew Istio supports beside %s (its minor version or one behind) and %s: %s; restart them right after the update, or update one minor version at a time",
				what, ch.To, keeps, named(outside)))
		}
	}
	for _, err := range env.AgentsOutOfSkew(ch.Target, s.Facts) {
		out = append(out, err.Error())
	}
	if istio.Spec.UpdateStrategy != nil && istio.Spec.UpdateStrategy.UpdateWorkloads {
		for _, b := range s.Budgets {
			out = append(out, fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption: bosun will skip the workloads it covers when it moves the workloads", b.Namespace, b.Name))
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
		out = append(out, fmt.Sprintf("namespaces labelled for a revision or tag that does not exist: %s; their pods lose their sidecar when they restart: label them for %s or create the tag",
			named(unresolved), ch.Target.Name))
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
func Condition(ch Change, findings []string) metav1.Condition {
	c := metav1.Condition{Type: v1.ConditionUpdatePreflight}
	if len(findings) == 0 {
		c.Status, c.Reason = metav1.ConditionTrue, v1.ReasonPreflightPassed
		c.Message = fmt.Sprintf("the change from %s to %s was checked before it was made: nothing found", ch.From, ch.To)
		return c
	}
	c.Status, c.Reason = metav1.ConditionFalse, v1.ReasonPreflightWarnings
	c.Message = fmt.Sprintf("the change from %s to %s was checked before it was made: %s", ch.From, ch.To, strings.Join(findings, "; "))
	return c
}
