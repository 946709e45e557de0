// Package meshview answers a platform engineer's question during an upgrade or a migration: what still
// runs on the old control plane, and is the new one healthy. Build turns a Snapshot of the cluster
// (bosun's resources, and the metadata of namespaces and pods) into a Status: each Istio with its
// migration, each revision with the namespaces that select it and how, the workloads its injector
// injected and their proxy versions, the workloads due for a restart and the command that moves them,
// and the node agents.
//
// What the view calls "on revision X" is what the revision's IN USE counts: the namespaces and pods
// are those internal/inuse finds for desired.UsageTarget, the operator's own rules, over the same
// metadata (with -n, the namespaces shown are those of the namespaces asked for; the pod count stays
// the revision's). Succeeded and Failed pods are shown apart and never count.
//
// Status is a documented, versioned shape (APIVersion), printed by `bosun status -o json|yaml`.
package meshview

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/values"
)

// APIVersion and Kind name the shape of Status. A change that removes or renames a field is a new
// version.
const (
	APIVersion = "status.bosun.dev/v1alpha1"
	Kind       = "MeshStatus"
)

// Status is the view of the mesh.
type Status struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Ready is true when every Istio, revision and node agent shown is Ready.
	Ready      bool        `json:"ready"`
	Istios     []Istio     `json:"istios"`
	Revisions  []Revision  `json:"revisions"`
	Restarts   []Restart   `json:"restartsDue"`
	NodeAgents []NodeAgent `json:"nodeAgents"`
	Finished   []PodRef    `json:"finishedPods"`
	// Unresolved are the namespaces whose labels select a name that is no revision or tag: their
	// pods lose their sidecar when they restart.
	Unresolved []NamespaceRef `json:"unresolvedNamespaces"`
	Namespaces []string       `json:"namespaces,omitempty"`
}

// Health is a resource's Ready condition.
type Health struct {
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Istio is one Istio and its migration.
type Istio struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	Version        string `json:"version"`
	UpdateStrategy string `json:"updateStrategy"`
	ActiveRevision string `json:"activeRevision"`
	Health
	Migration Migration `json:"migration"`
	// WorkloadsUpdate is how far bosun moves the workloads itself (spec.updateStrategy.updateWorkloads),
	// as the Istio's status reports it; absent when it does not move them.
	WorkloadsUpdate *WorkloadsUpdate `json:"workloadsUpdate,omitempty"`
	// Preflight is what bosun found when it checked the Istio's last version change before making it
	// (its UpdatePreflight condition); absent before any version change.
	Preflight *Preflight `json:"preflight,omitempty"`
}

// Preflight is an Istio's UpdatePreflight condition.
type Preflight struct {
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// WorkloadsUpdate is an Istio's WorkloadsUpdated condition and the summary beside it.
type WorkloadsUpdate struct {
	Done    bool   `json:"done"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	v1.WorkloadsUpdateStatus
}

// Migration counts the workloads on an Istio's revisions: on the active one, and left on the others.
type Migration struct {
	Workloads int `json:"workloads"`
	OnActive  int `json:"onActive"`
	// LeftOn lists, by revision, the workloads (namespace/name) still on an inactive revision.
	LeftOn map[string][]string `json:"leftOn,omitempty"`
}

// Revision is one IstioRevision and what uses it.
type Revision struct {
	Name    string `json:"name"`
	Istio   string `json:"istio,omitempty"`
	Version string `json:"version"`
	Active  bool   `json:"active"`
	Health
	Tags []string `json:"tags,omitempty"`
	// Namespaces select the revision, each with the label that does.
	Namespaces []NamespaceRef `json:"namespaces,omitempty"`
	// Pods is the number of pods that use the revision: its IN USE count.
	Pods int `json:"pods"`
	// Workloads are the workloads whose pods the revision's injector injected.
	Workloads []Workload `json:"workloads,omitempty"`
	// Proxies counts those pods by the proxy version they were injected with ("unknown" for a pod
	// injected before bosun marked versions).
	Proxies map[string]int `json:"proxies,omitempty"`
}

// NamespaceRef is a namespace that selects a revision, and the label by which.
type NamespaceRef struct {
	Name string `json:"name"`
	By   string `json:"by"`
}

// Workload is a Deployment, StatefulSet, DaemonSet, Job or bare pod, or a Gateway API Gateway (a gateway
// or a waypoint) whose Deployment istiod deploys, with its pods on one revision.
type Workload struct {
	Namespace string   `json:"namespace"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Pods      int      `json:"pods"`
	Proxies   []string `json:"proxyVersions"`
}

// Restart is a workload whose pods run on another revision, or another proxy version, than their
// labels now select.
type Restart struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Pods      int    `json:"pods"`
	// RunsOn is the revision (and proxy version) the pods run; Wants the one their labels select.
	RunsOn  string `json:"runsOn"`
	Wants   string `json:"wants"`
	Command string `json:"command"`
}

// NodeAgent is an IstioCNI or ZTunnel, with its pods' readiness across the nodes.
type NodeAgent struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Health
	// NodesReady and NodesDesired are the nodes whose agent pod is ready, and the nodes that should
	// run one (its DaemonSet's numberReady and desiredNumberScheduled).
	NodesReady   int32 `json:"nodesReady"`
	NodesDesired int32 `json:"nodesDesired"`
}

// PodRef is a pod that finished (Succeeded or Failed): shown, never counted.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Revision  string `json:"revision"`
}

// Pod is the metadata of a pod the view reads.
type Pod struct {
	inuse.Pod
	// OwnerKind and OwnerName are the pod's controller, or empty for a bare pod.
	OwnerKind, OwnerName string
}

// Snapshot is what a view is built from.
type Snapshot struct {
	Facts      *desired.Facts
	Namespaces []inuse.Namespace
	// Pods are the pods that count (not Succeeded or Failed); Finished the others.
	Pods, Finished []Pod
	// Nodes are the node agents' DaemonSet counts, by kind: how many nodes run a ready agent, of
	// how many should.
	Nodes map[string]NodeCount
}

// NodeCount is a DaemonSet's readiness across its nodes.
type NodeCount struct{ Ready, Desired int32 }

// Build makes the view of the snapshot, deciding with env as the operator does. With namespaces, only
// those namespaces' workloads and references are shown; every Istio and revision still is.
func Build(env desired.Env, s Snapshot, namespaces ...string) Status {
	st := Status{APIVersion: APIVersion, Kind: Kind, Ready: true, Namespaces: namespaces,
		Istios: []Istio{}, Revisions: []Revision{}, Restarts: []Restart{}, NodeAgents: []NodeAgent{}, Finished: []PodRef{}, Unresolved: []NamespaceRef{}}
	shown := func(ns string) bool { return len(namespaces) == 0 || slices.Contains(namespaces, ns) }
	inuseNS := make([]inuse.Namespace, 0, len(s.Namespaces))
	nsLabels := map[string]map[string]string{}
	for _, ns := range s.Namespaces {
		inuseNS = append(inuseNS, ns)
		nsLabels[ns.Name] = ns.Labels
	}
	pods := make([]inuse.Pod, 0, len(s.Pods))
	for _, p := range s.Pods {
		pods = append(pods, p.Pod)
	}
	lookup := inuse.NewMemory(inuseNS, pods)

	revisionOwner := map[string]string{}
	for _, rev := range s.Facts.SortedRevisions() {
		r := Revision{Name: rev.Name, Version: string(rev.Spec.Version), Health: health(rev.Status.Conditions)}
		if owner := metav1.GetControllerOf(rev); owner != nil && owner.Kind == v1.KindIstio {
			r.Istio = owner.Name
			revisionOwner[rev.Name] = owner.Name
			if istio := s.Facts.Istios[owner.Name]; istio != nil && istio.Status.ActiveRevisionName == rev.Name {
				r.Active = true
			}
		}
		target := env.UsageTarget(rev, s.Facts)
		r.Tags = target.Tags
		if usage, err := inuse.Revision(lookup, target); err == nil {
			r.Pods = usage.Pods
			for _, name := range usage.Namespaces {
				if shown(name) {
					r.Namespaces = append(r.Namespaces, NamespaceRef{Name: name, By: selectedBy(nsLabels[name], s.Facts)})
				}
			}
		}
		r.Workloads, r.Proxies = workloadsOf(s.Pods, rev.Name, shown)
		st.Ready = st.Ready && r.Ready
		st.Revisions = append(st.Revisions, r)
	}

	for _, istio := range sortedIstios(s.Facts) {
		i := Istio{Name: istio.Name, Namespace: orDefault(istio.Spec.Namespace, desired.DefaultIstioNamespace), Version: string(istio.Spec.Version),
			UpdateStrategy: v1.UpdateStrategyInPlace, ActiveRevision: istio.Status.ActiveRevisionName, Health: health(istio.Status.Conditions)}
		if us := istio.Spec.UpdateStrategy; us != nil && us.Type != "" {
			i.UpdateStrategy = us.Type
		}
		i.Migration = migrationOf(istio.Name, st.Revisions)
		i.WorkloadsUpdate = workloadsUpdate(istio)
		if c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionUpdatePreflight); c != nil {
			i.Preflight = &Preflight{Passed: c.Status == metav1.ConditionTrue, Message: c.Message}
		}
		st.Ready = st.Ready && i.Ready
		st.Istios = append(st.Istios, i)
	}

	st.Restarts = restarts(s, nsLabels, shown)
	st.Unresolved = unresolved(s.Namespaces, s.Facts, shown)
	for _, agent := range nodeAgents(s.Facts) {
		n := s.Nodes[agent.Kind]
		agent.NodesReady, agent.NodesDesired = n.Ready, n.Desired
		st.Ready = st.Ready && agent.Ready
		st.NodeAgents = append(st.NodeAgents, agent)
	}
	for _, p := range s.Finished {
		if shown(p.Namespace) {
			st.Finished = append(st.Finished, PodRef{Namespace: p.Namespace, Name: p.Name, Revision: p.Annotations[inuse.AnnotationRev]})
		}
	}
	return st
}

// workloadsUpdate is the move of the Istio's workloads as its status reports it, or nil.
func workloadsUpdate(istio *v1.Istio) *WorkloadsUpdate {
	c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated)
	if c == nil || istio.Status.Workloads == nil {
		return nil
	}
	return &WorkloadsUpdate{Done: c.Status == metav1.ConditionTrue, Reason: c.Reason, Message: c.Message, WorkloadsUpdateStatus: *istio.Status.Workloads}
}

// migrationOf counts an Istio's workloads once each: on the active revision when all their pods are,
// and otherwise left on each other revision that still runs some of their pods.
func migrationOf(istio string, revisions []Revision) Migration {
	var m Migration
	type place struct{ active, other bool }
	places := map[workloadKey]*place{}
	var order []workloadKey
	for _, r := range revisions {
		if r.Istio != istio {
			continue
		}
		for _, w := range r.Workloads {
			k := workloadKey{w.Namespace, w.Kind, w.Name}
			if places[k] == nil {
				places[k] = &place{}
				order = append(order, k)
			}
			if r.Active {
				places[k].active = true
				continue
			}
			places[k].other = true
			if m.LeftOn == nil {
				m.LeftOn = map[string][]string{}
			}
			m.LeftOn[r.Name] = append(m.LeftOn[r.Name], w.Namespace+"/"+w.Name)
		}
	}
	m.Workloads = len(order)
	for _, k := range order {
		if p := places[k]; p.active && !p.other {
			m.OnActive++
		}
	}
	return m
}

// unresolved are the namespaces whose labels select a name that is no revision or tag.
func unresolved(namespaces []inuse.Namespace, f *desired.Facts, shown func(string) bool) []NamespaceRef {
	out := []NamespaceRef{}
	for _, ns := range namespaces {
		name, _ := inuse.NamespaceReference(ns.Labels)
		if name == "" || !shown(ns.Name) {
			continue
		}
		if _, ok := f.Revisions[name]; ok {
			continue
		}
		if _, ok := f.Tags[name]; ok {
			continue
		}
		out = append(out, NamespaceRef{Name: ns.Name, By: selectedBy(ns.Labels, f)})
	}
	slices.SortFunc(out, func(a, b NamespaceRef) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// health is the Ready condition of a status.
func health(conditions []metav1.Condition) Health {
	c := meta.FindStatusCondition(conditions, v1.ConditionReady)
	if c == nil {
		return Health{Reason: "NotReported", Message: "no Ready condition yet"}
	}
	return Health{Ready: c.Status == metav1.ConditionTrue, Reason: c.Reason, Message: c.Message}
}

// selectedBy is the label by which a namespace selects what it references.
func selectedBy(labels map[string]string, f *desired.Facts) string {
	if v, ok := labels[inuse.LabelInjection]; ok {
		if _, isTag := f.Tags[inuse.Default]; isTag {
			return inuse.LabelInjection + "=" + v + " via IstioRevisionTag " + inuse.Default
		}
		return inuse.LabelInjection + "=" + v
	}
	name := labels[inuse.LabelRev]
	if _, isTag := f.Tags[name]; isTag {
		return inuse.LabelRev + "=" + name + " via IstioRevisionTag " + name
	}
	return inuse.LabelRev + "=" + name
}

// workloadKey identifies a workload.
type workloadKey struct{ namespace, kind, name string }

// workloadOf is the workload a pod belongs to: the Gateway API Gateway istiod deployed it for (a
// gateway or a waypoint), else its controller, with a ReplicaSet taken back to its Deployment by the
// pod-template-hash it was named with, or the pod itself.
func workloadOf(p Pod) workloadKey {
	if name := inuse.GatewayOf(p.Labels); name != "" {
		return workloadKey{p.Namespace, "Gateway", name}
	}
	switch p.OwnerKind {
	case "":
		return workloadKey{p.Namespace, "Pod", p.Name}
	case "ReplicaSet":
		if hash := p.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(p.OwnerName, "-"+hash) {
			return workloadKey{p.Namespace, "Deployment", strings.TrimSuffix(p.OwnerName, "-"+hash)}
		}
	}
	return workloadKey{p.Namespace, p.OwnerKind, p.OwnerName}
}

// workloadsOf groups the pods the revision's injector injected by workload, and counts them by proxy
// version.
func workloadsOf(pods []Pod, rev string, shown func(string) bool) ([]Workload, map[string]int) {
	var proxies map[string]int
	byKey := map[workloadKey]*Workload{}
	var order []workloadKey
	for _, p := range pods {
		if p.Annotations[inuse.AnnotationRev] != rev || !shown(p.Namespace) {
			continue
		}
		k := workloadOf(p)
		w := byKey[k]
		if w == nil {
			w = &Workload{Namespace: k.namespace, Kind: k.kind, Name: k.name}
			byKey[k] = w
			order = append(order, k)
		}
		w.Pods++
		v := ProxyVersion(p.Annotations)
		if !slices.Contains(w.Proxies, v) {
			w.Proxies = append(w.Proxies, v)
			slices.Sort(w.Proxies)
		}
		if proxies == nil {
			proxies = map[string]int{}
		}
		proxies[v]++
	}
	slices.SortFunc(order, compareKeys)
	var out []Workload
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, proxies
}

func compareKeys(a, b workloadKey) int {
	return strings.Compare(a.namespace+"/"+a.kind+"/"+a.name, b.namespace+"/"+b.kind+"/"+b.name)
}

// Wanted is the revision a pod's labels, or its namespace's, select now: the revision of that name,
// or the one the tag of that name points at. "" when they select nothing that exists.
func Wanted(p Pod, nsLabels map[string]string, f *desired.Facts) string {
	name, optedOut := inuse.NamespaceReference(nsLabels)
	if name == "" && !optedOut {
		_, name = inuse.PodReferences(p.Labels, nil, "")
	}
	if name == "" {
		return ""
	}
	return f.Resolve(name)
}

// Due says why a pod is due for a restart: the revision (and proxy version) it runs, and the one its
// labels, or its namespace's, select now.
type Due struct{ RunsOn, Wants string }

// RestartDue reports whether a pod that a revision injected runs another revision than its labels, or
// its namespace's, select now (the namespace was relabelled, a tag moved), or the proxy of before an
// InPlace update of its revision. A pod without a sidecar, one that opted out
// (sidecar.istio.io/inject=false), and one whose labels select nothing that exists are not due: a
// restart would not give them a revision.
func RestartDue(p Pod, nsLabels map[string]string, f *desired.Facts) (Due, bool) {
	runs := p.Annotations[inuse.AnnotationRev]
	if runs == "" || p.Labels[inuse.LabelInject] == "false" || p.Annotations[inuse.LabelInject] == "false" {
		return Due{}, false
	}
	want := Wanted(p, nsLabels, f)
	if want == "" {
		return Due{}, false
	}
	if runs != want {
		return Due{RunsOn: runs, Wants: want}, true
	}
	rev := f.Revisions[want]
	v := p.Annotations[values.AnnotationProxyVersion]
	if rev == nil || v == "" || v == string(rev.Spec.Version) {
		return Due{}, false
	}
	return Due{RunsOn: runs + " (proxy " + v + ")", Wants: want + " (proxy " + string(rev.Spec.Version) + ")"}, true
}

// restarts lists the workloads due for a restart (RestartDue).
func restarts(s Snapshot, nsLabels map[string]map[string]string, shown func(string) bool) []Restart {
	byKey := map[workloadKey]*Restart{}
	var order []workloadKey
	for _, p := range s.Pods {
		if !shown(p.Namespace) {
			continue
		}
		due, ok := RestartDue(p, nsLabels[p.Namespace], s.Facts)
		if !ok {
			continue
		}
		k := workloadOf(p)
		r := byKey[k]
		if r == nil {
			r = &Restart{Namespace: k.namespace, Kind: k.kind, Name: k.name, RunsOn: due.RunsOn, Wants: due.Wants, Command: restartCommand(k)}
			byKey[k] = r
			order = append(order, k)
		}
		r.Pods++
	}
	slices.SortFunc(order, compareKeys)
	out := []Restart{}
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

// ProxyVersion is the proxy version a pod was injected with, "unknown" when its injector did not say
// (values.AnnotationProxyVersion).
func ProxyVersion(annotations map[string]string) string {
	if v := annotations[values.AnnotationProxyVersion]; v != "" {
		return v
	}
	return "unknown"
}

// OutsideSkew reports whether a proxy of version proxy is outside what Istio supports beside its
// revision's version: a sidecar may run the control plane's minor or one behind, never ahead. An
// unknown version is not counted.
func OutsideSkew(proxy, revision string) bool {
	pm, okP := minor(proxy)
	rm, okR := minor(revision)
	if !okP || !okR {
		return false
	}
	return pm > rm || pm < rm-1
}

// minor is the minor version of v1.MINOR.PATCH…, with its major (as major*1000+minor).
func minor(v string) (int, bool) {
	var major, min int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &min); err != nil {
		return 0, false
	}
	return major*1000 + min, true
}

// restartCommand is the command that gives a workload's pods new sidecars.
func restartCommand(k workloadKey) string {
	switch k.kind {
	case "Deployment", "StatefulSet", "DaemonSet":
		return fmt.Sprintf("kubectl rollout restart %s/%s -n %s", strings.ToLower(k.kind), k.name, k.namespace)
	case "Pod":
		return fmt.Sprintf("kubectl delete pod %s -n %s  # a bare pod: create it again", k.name, k.namespace)
	case "Gateway":
		return fmt.Sprintf("istiod deploys Gateway %s in %s again for the revision its istio.io/rev label names (or the default revision): relabel the Gateway, or restart its Deployment if the label is right", k.name, k.namespace)
	}
	return fmt.Sprintf("delete the pods of %s %s in %s; its controller creates them again", k.kind, k.name, k.namespace)
}

// sortedIstios are the Istios by name.
func sortedIstios(f *desired.Facts) []*v1.Istio {
	out := make([]*v1.Istio, 0, len(f.Istios))
	for _, istio := range f.Istios {
		out = append(out, istio)
	}
	slices.SortFunc(out, func(a, b *v1.Istio) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// nodeAgents are the IstioCNI and ZTunnel.
func nodeAgents(f *desired.Facts) []NodeAgent {
	var out []NodeAgent
	if f.CNI != nil {
		out = append(out, NodeAgent{Kind: v1.KindIstioCNI, Name: f.CNI.Name, Version: string(f.CNI.Spec.Version), Health: health(f.CNI.Status.Conditions)})
	}
	if f.ZTunnel != nil {
		out = append(out, NodeAgent{Kind: v1.KindZTunnel, Name: f.ZTunnel.Name, Version: string(f.ZTunnel.Spec.Version), Health: health(f.ZTunnel.Status.Conditions)})
	}
	return out
}
