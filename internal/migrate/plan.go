package migrate

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/bosun-mesh/bosun/internal/meshview"
)

// The namespace labels a migration changes, as the OpenShift Service Mesh migration article sets them.
const (
	// LabelIgnoreNamespace stops 2.6's injector from injecting the namespace's pods.
	LabelIgnoreNamespace = "maistra.io/ignore-namespace"
	// LabelInjection would select the "default" revision (2.6 in cluster-wide mode) and win over
	// istio.io/rev: it is removed.
	LabelInjection = "istio-injection"
	// LabelRev selects the new revision.
	LabelRev = "istio.io/rev"
	// LabelMemberOf is the label 2.x puts on each member namespace of a multitenant mesh: the
	// control plane's namespace. It finds the members a member roll selects by label.
	LabelMemberOf = "maistra.io/member-of"
)

// Workload is a Deployment, StatefulSet or DaemonSet to restart.
type Workload struct {
	// Kind is as kubectl names it: deployment, statefulset or daemonset.
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// NamespaceState is what a plan needs of a namespace: its labels and its workloads.
type NamespaceState struct {
	Name      string
	Labels    map[string]string
	Workloads []Workload
}

// Step moves one namespace.
type Step struct {
	Namespace string `json:"namespace"`
	// Set and Remove are the label changes.
	Set    map[string]string `json:"set"`
	Remove []string          `json:"remove"`
	// Restart are the workloads to restart, sorted by kind and name.
	Restart []Workload `json:"restart"`
	// BackSet and BackRemove are the label changes that return the namespace to 2.6; restarting the
	// same workloads then moves their pods back.
	BackSet    map[string]string `json:"backSet"`
	BackRemove []string          `json:"backRemove"`
}

// Plan is the namespace-by-namespace migration of one control plane.
type Plan struct {
	ControlPlane string `json:"controlPlane"`
	// Old and Revision are the 2.6 and 3.x revisions.
	Old      string `json:"old"`
	Revision string `json:"revision"`
	Steps    []Step `json:"steps"`
}

// NewPlan lists the steps that move the 2.6 control plane's namespaces to the converted one, in a
// stable order: the namespaces named in only, in that order, or else every namespace the 2.6 mesh
// covers (in multitenant mode the members, named or labelled maistra.io/member-of by 2.x; in
// cluster-wide mode those labelled for the 2.6 injector), sorted by name. A namespace named in only
// must exist, be named once and, in a multitenant mesh, be a member, which the converted Istio's
// discovery selectors select. Namespaces already moved stay in the plan, so that a plan made while a
// migration is under way is the same as the first. The control plane's own namespace is never moved.
func NewPlan(res *Result, namespaces []NamespaceState, only []string) (*Plan, error) {
	byName := map[string]NamespaceState{}
	for _, ns := range namespaces {
		byName[ns.Name] = ns
	}
	// A member of a multitenant mesh is named by its member roll or a ServiceMeshMember, or labelled
	// by 2.x (which covers the roll's memberSelectors and "*").
	member := func(ns NamespaceState) bool {
		return ns.Name != res.Namespace && (slices.Contains(res.Members, ns.Name) || ns.Labels[LabelMemberOf] == res.Namespace)
	}
	var names []string
	switch {
	case len(only) > 0:
		for i, n := range only {
			ns, ok := byName[n]
			switch {
			case !ok:
				return nil, fmt.Errorf("namespace %q does not exist", n)
			case n == res.Namespace:
				return nil, fmt.Errorf("namespace %q is the control plane's: it is not moved", n)
			case slices.Contains(only[:i], n):
				return nil, fmt.Errorf("namespace %q is named twice: name each namespace once", n)
			case res.MultiTenant && !res.AllNamespaces && !member(ns):
				// The new Istio's discovery selectors list the members only: it would inject the
				// namespace's pods without programming them.
				return nil, fmt.Errorf("namespace %q is not a member of the multitenant mesh %s/%s (not in its member roll, no ServiceMeshMember, no label %s=%s), so the converted Istio does not discover it: add it to the member roll first, or leave it out of -n", n, res.Namespace, res.Old, LabelMemberOf, res.Namespace)
			}
		}
		names = only
	case res.MultiTenant:
		for _, ns := range namespaces {
			if member(ns) {
				names = append(names, ns.Name)
			}
		}
		slices.Sort(names)
	default:
		for _, ns := range namespaces {
			// A member of another control plane's mesh is that mesh's to move, whatever it is labelled.
			other := ns.Labels[LabelMemberOf] != "" && ns.Labels[LabelMemberOf] != res.Namespace
			if ns.Name != res.Namespace && !other && (ns.Labels[LabelInjection] == "enabled" || ns.Labels[LabelRev] == res.Old || ns.Labels[LabelRev] == res.Revision) {
				names = append(names, ns.Name)
			}
		}
		slices.Sort(names)
	}
	if len(names) == 0 {
		rule := fmt.Sprintf("bosun looks for the namespaces labelled %s=enabled or %s=%s", LabelInjection, LabelRev, res.Old)
		if res.MultiTenant {
			rule = fmt.Sprintf("bosun looks for the members its member roll or a ServiceMeshMember names, and the namespaces labelled %s=%s", LabelMemberOf, res.Namespace)
		}
		return nil, fmt.Errorf("no namespace of the 2.6 mesh %s/%s found: %s; name the namespaces to move with -n", res.Namespace, res.Old, rule)
	}
	p := &Plan{ControlPlane: res.Namespace + "/" + res.Old, Old: res.Old, Revision: res.Revision}
	for _, n := range names {
		ns := byName[n]
		step := Step{
			Namespace: n,
			Set:       map[string]string{LabelIgnoreNamespace: "true", LabelRev: res.Revision},
			Remove:    []string{LabelInjection},
			Restart:   sortedWorkloads(ns.Workloads),
		}
		step.BackSet, step.BackRemove = wayBack(step, ns.Labels, res.MultiTenant)
		p.Steps = append(p.Steps, step)
	}
	return p, nil
}

// wayBack is the label changes that return a namespace to 2.6. A namespace not moved yet gets back
// the values it has now of every label the step changes (istio.io/rev=<2.6 revision> stays that, not
// istio-injection=enabled); one already moved, whose labels before are gone, gets what 2.6 selects:
// istio-injection=enabled in cluster-wide mode, no label in multitenant mode, where 2.x's own
// maistra.io/member-of label selects it.
func wayBack(step Step, labels map[string]string, multiTenant bool) (set map[string]string, remove []string) {
	if step.Labelled(labels) {
		if !multiTenant {
			set = map[string]string{LabelInjection: "enabled"}
		}
		return set, []string{LabelIgnoreNamespace, LabelRev}
	}
	set = map[string]string{}
	// The labels the step sets, in the order the article names them: removed where the namespace
	// has none.
	for _, k := range []string{LabelIgnoreNamespace, LabelRev} {
		if v, ok := labels[k]; ok {
			set[k] = v
		} else {
			remove = append(remove, k)
		}
	}
	for _, k := range step.Remove {
		if v, ok := labels[k]; ok {
			set[k] = v
		}
	}
	return set, remove
}

func sortedWorkloads(ws []Workload) []Workload {
	out := slices.Clone(ws)
	slices.SortFunc(out, func(a, b Workload) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Labelled reports whether the namespace's labels are those the step sets.
func (s Step) Labelled(labels map[string]string) bool {
	for k, v := range s.Set {
		if labels[k] != v {
			return false
		}
	}
	for _, k := range s.Remove {
		if _, ok := labels[k]; ok {
			return false
		}
	}
	return true
}

// Verify is the check after a step, read from bosun status (its view built for the namespace): the
// new revision is Ready, the namespace selects it, and no workload of the namespace is due for a
// restart (every injected pod runs the revision the namespace selects). It returns what is wrong.
func Verify(st meshview.Status, namespace, revision string) error {
	var rev *meshview.Revision
	for i := range st.Revisions {
		if st.Revisions[i].Name == revision {
			rev = &st.Revisions[i]
		}
	}
	if rev == nil {
		return fmt.Errorf("bosun status shows no revision %s: apply the converted Istio first", revision)
	}
	if !rev.Ready {
		return fmt.Errorf("revision %s is not Ready: %s", revision, rev.Message)
	}
	if !slices.ContainsFunc(rev.Namespaces, func(n meshview.NamespaceRef) bool { return n.Name == namespace }) {
		return fmt.Errorf("namespace %s does not select revision %s", namespace, revision)
	}
	var due []string
	for _, r := range st.Restarts {
		if r.Namespace == namespace {
			due = append(due, fmt.Sprintf("%s/%s (pods on %s: %d)", strings.ToLower(r.Kind), r.Name, r.RunsOn, r.Pods))
		}
	}
	if len(due) > 0 {
		return fmt.Errorf("namespace %s: %d still run another revision than %s: %s", namespace, len(due), revision, strings.Join(due, ", "))
	}
	return nil
}

// OnRevision counts the namespace's workloads and pods the revision injected, for the line printed
// after a check.
func OnRevision(st meshview.Status, namespace, revision string) (workloads, pods int) {
	for _, rev := range st.Revisions {
		if rev.Name != revision {
			continue
		}
		for _, w := range rev.Workloads {
			if w.Namespace == namespace {
				workloads++
				pods += w.Pods
			}
		}
	}
	return workloads, pods
}

// LabelCommand is the kubectl command that makes the label changes.
func LabelCommand(namespace string, set map[string]string, remove []string) string {
	args := []string{"kubectl", "label", "namespace", namespace}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		args = append(args, k+"="+set[k])
	}
	for _, k := range remove {
		args = append(args, k+"-")
	}
	return strings.Join(append(args, "--overwrite"), " ")
}

// VerifyCommand is the command that runs Verify.
func (p *Plan) VerifyCommand(namespace string) string {
	return fmt.Sprintf("bosun migrate verify %s --revision %s", namespace, p.Revision)
}

// Text writes the plan for a person to read.
func (p *Plan) Text(w io.Writer) error {
	fmt.Fprintf(w, "Migration of ServiceMeshControlPlane %s (revision %s) to revision %s: %d namespaces, one at a time.\n", p.ControlPlane, p.Old, p.Revision, len(p.Steps))
	for i, s := range p.Steps {
		fmt.Fprintf(w, "\n%d. namespace %s\n", i+1, s.Namespace)
		fmt.Fprintf(w, "   labels:   %s\n", LabelCommand(s.Namespace, s.Set, s.Remove))
		if len(s.Restart) == 0 {
			fmt.Fprintf(w, "   restart:  nothing (no Deployment, StatefulSet or DaemonSet)\n")
		}
		for _, wl := range s.Restart {
			fmt.Fprintf(w, "   restart:  kubectl rollout restart %s/%s -n %s && kubectl rollout status %s/%s -n %s\n", wl.Kind, wl.Name, s.Namespace, wl.Kind, wl.Name, s.Namespace)
		}
		fmt.Fprintf(w, "   check:    %s (what bosun status -n %s shows)\n", p.VerifyCommand(s.Namespace), s.Namespace)
		fmt.Fprintf(w, "   go back:  %s, then restart the same workloads\n", LabelCommand(s.Namespace, s.BackSet, s.BackRemove))
	}
	_, err := fmt.Fprintf(w, "\nOnce every namespace is on %s: move the gateways' clients, then remove the ServiceMeshControlPlane %s.\n", p.Revision, p.ControlPlane)
	return err
}

// Shell writes the plan as a POSIX shell script that stops at the first command or check that fails,
// saying how to go back.
func (p *Plan) Shell(w io.Writer) error {
	fmt.Fprintf(w, "#!/bin/sh\n# Moves the namespaces of ServiceMeshControlPlane %s (revision %s) to revision %s, one at a\n# time; stops at the first command or check that fails. Written by bosun migrate plan --format sh.\nset -eu\n", p.ControlPlane, p.Old, p.Revision)
	for i, s := range p.Steps {
		back := LabelCommand(s.Namespace, s.BackSet, s.BackRemove)
		fmt.Fprintf(w, "\n# %d. %s (to go back: %s, then restart the same workloads)\n", i+1, s.Namespace, back)
		fmt.Fprintf(w, "%s\n", LabelCommand(s.Namespace, s.Set, s.Remove))
		for _, wl := range s.Restart {
			fmt.Fprintf(w, "kubectl rollout restart %s/%s -n %s\n", wl.Kind, wl.Name, s.Namespace)
		}
		for _, wl := range s.Restart {
			fmt.Fprintf(w, "kubectl rollout status %s/%s -n %s --timeout=10m\n", wl.Kind, wl.Name, s.Namespace)
		}
		fmt.Fprintf(w, "%s || { echo 'namespace %s did not move to %s; to go back: %s, then restart its workloads' >&2; exit 1; }\n", p.VerifyCommand(s.Namespace), s.Namespace, p.Revision, back)
	}
	_, err := fmt.Fprintf(w, "\necho 'every namespace is on %s'\n", p.Revision)
	return err
}
