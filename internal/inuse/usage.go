package inuse

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Namespace is the part of a namespace's metadata this package reads.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Pod is the part of a pod this package reads. Phase is empty for a pod from a metadata-only cache;
// that counts (see PodFieldSelector).
type Pod struct {
	Namespace, Name     string
	Labels, Annotations map[string]string
	Phase               corev1.PodPhase
}

// Lookup answers the questions an evaluation asks about namespaces and pods. The operator implements it
// with indexed lists of its cache (IndexField); Memory implements it with maps. An error means the
// answer is unknown: the evaluation then fails rather than report a revision unused.
type Lookup interface {
	// NamespacesReferencing returns the namespaces indexed under LabelKey(name): those whose labels
	// reference name.
	NamespacesReferencing(name string) ([]Namespace, error)
	// PodsByAnnotation returns the pods indexed under AnnotationKey(name): the counting pods whose
	// istio.io/rev annotation is name.
	PodsByAnnotation(name string) ([]Pod, error)
	// PodsByLabel returns the pods indexed under LabelKey(name): the counting pods whose own labels
	// reference name, whatever their namespace says.
	PodsByLabel(name string) ([]Pod, error)
	// Namespace returns the namespace called name; found is false when there is none.
	Namespace(name string) (ns Namespace, found bool, err error)
}

// Target is a revision whose use is evaluated, with the names that resolve to it.
type Target struct {
	// Revision is the IstioRevision's name.
	Revision string
	// Tags are the IstioRevisionTags that point at the revision. Each keeps it in use, and namespaces
	// and pods may reference it by the tag's name. A tag named default makes default resolve here.
	Tags []string
	// EnableNamespacesByDefault is the revision's sidecarInjectorWebhook.enableNamespacesByDefault. It
	// keeps the revision in use when default resolves to it.
	EnableNamespacesByDefault bool
}

// isDefault reports whether the name default resolves to the target. The caller settles which of a
// revision and a tag named default is in effect (they cannot both be) by the tags it passes.
func (t Target) isDefault() bool {
	return t.Revision == Default || slices.Contains(t.Tags, Default)
}

// Usage says what references a revision or tag. The zero Usage means nothing does.
type Usage struct {
	// Namespaces are the names of the namespaces that reference it, sorted.
	Namespaces []string
	// Pods is the number of counting pods that reference it. A pod is counted once, however many of its
	// references resolve here.
	Pods int
	// Tags are the IstioRevisionTags that point at the revision, sorted. Always empty for a tag.
	Tags []string
	// ByDefault is true when default resolves here and sidecarInjectorWebhook.enableNamespacesByDefault
	// is set: the injector then serves every namespace without injection labels.
	ByDefault bool
	// Clusters are the other clusters whose workloads use the revision, sorted by name: a revision
	// whose istiod serves other clusters is used there too (internal/remote). Only the clusters that
	// use it are listed.
	Clusters []ClusterUsage

	// tag is true for the usage of a tag, whose message cannot mention tags.
	tag bool
}

// ClusterUsage is what references a revision in another cluster that its istiod serves.
type ClusterUsage struct {
	// Cluster is the cluster's name, as its remote secret gives it.
	Cluster string
	// Namespaces and Pods are as in Usage.
	Namespaces []string
	Pods       int
}

// InUse reports whether anything references the revision or tag, so that removing it would strand
// workloads.
func (u Usage) InUse() bool {
	return len(u.Namespaces) > 0 || u.Pods > 0 || len(u.Tags) > 0 || u.ByDefault || len(u.Clusters) > 0
}

// InCluster adds the usage of the revision in another cluster, evaluated there with Revision; a
// cluster where nothing uses it adds nothing. Tags are left out: another cluster's tags are its own.
// A cluster added twice (two remote secrets name it) is listed once, with the namespaces of both and
// the larger count of pods.
func (u *Usage) InCluster(cluster string, there Usage) {
	if len(there.Namespaces) == 0 && there.Pods == 0 {
		return
	}
	if i := slices.IndexFunc(u.Clusters, func(c ClusterUsage) bool { return c.Cluster == cluster }); i >= 0 {
		c := &u.Clusters[i]
		c.Namespaces = sortedUnique(append(slices.Clone(c.Namespaces), there.Namespaces...))
		c.Pods = max(c.Pods, there.Pods)
		return
	}
	u.Clusters = append(u.Clusters, ClusterUsage{Cluster: cluster, Namespaces: there.Namespaces, Pods: there.Pods})
	slices.SortFunc(u.Clusters, func(a, b ClusterUsage) int { return strings.Compare(a.Cluster, b.Cluster) })
}

// maxListed is how many names a message lists before it says "and N more". It keeps the InUse
// condition short enough to read in kubectl's output.
const maxListed = 5

// Message explains the usage in a sentence for the InUse condition, such as "Referenced by 2
// namespaces (bookinfo, shop) and 12 pods", or, with another cluster, "Referenced by 12 pods, and by 1
// namespace (shop) and 3 pods in cluster cluster2". It depends only on the usage, whose lists are
// sorted, so the same cluster always gives the same message and status is not rewritten for nothing.
func (u Usage) Message() string {
	refs := workloads(u.Namespaces, u.Pods)
	if n := len(u.Tags); n > 0 {
		kind := "IstioRevisionTag"
		if n > 1 {
			kind += "s"
		}
		refs = append(refs, kind+" "+list(u.Tags))
	}
	var by []string
	if len(refs) > 0 {
		by = append(by, and(refs))
	}
	for _, c := range u.Clusters {
		by = append(by, and(workloads(c.Namespaces, c.Pods))+" in cluster "+c.Cluster)
	}
	const byDefault = "sidecarInjectorWebhook.enableNamespacesByDefault is true"
	switch {
	case len(by) > 0 && u.ByDefault:
		return "Referenced by " + strings.Join(by, ", and by ") + ", and injects every namespace without injection labels (" + byDefault + ")"
	case len(by) > 0:
		return "Referenced by " + strings.Join(by, ", and by ")
	case u.ByDefault:
		return "Injects every namespace without injection labels (" + byDefault + ")"
	case u.tag:
		return "Not referenced by any namespace or pod"
	default:
		return "Not referenced by any namespace, pod or tag"
	}
}

// workloads are the parts of a message that count namespaces and pods.
func workloads(namespaces []string, pods int) []string {
	var refs []string
	if n := len(namespaces); n > 0 {
		refs = append(refs, fmt.Sprintf("%s (%s)", count(n, "namespace"), list(namespaces)))
	}
	if pods > 0 {
		refs = append(refs, count(pods, "pod"))
	}
	return refs
}

// count is "1 pod" or "12 pods".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// list joins the first maxListed names with commas and says how many it left out.
func list(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}

// and joins parts as "a", "a and b" or "a, b and c".
func and(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// Revision evaluates whether the target revision is in use. It asks the lookup only about the names
// that resolve to the revision, so its cost grows with the objects that reference it. An error from
// the lookup is returned, wrapped, instead of a Usage: usage is then unknown, which must never allow
// pruning (docs/architecture.md#lesson-unknown-is-in-use).
func Revision(l Lookup, t Target) (Usage, error) {
	names := append([]string{t.Revision}, t.Tags...)
	if t.isDefault() {
		names = append(names, Default)
	}
	e := newEvaluation(l)
	for _, name := range sortedUnique(names) {
		if err := e.namespacesReferencing(name); err != nil {
			return Usage{}, err
		}
		if err := e.podsByAnnotation(name); err != nil {
			return Usage{}, err
		}
		if err := e.podsByLabel(name); err != nil {
			return Usage{}, err
		}
	}
	u := e.usage()
	u.Tags = sortedUnique(t.Tags)
	u.ByDefault = t.isDefault() && t.EnableNamespacesByDefault
	return u, nil
}

// Tag evaluates whether the IstioRevisionTag called name is in use: whether a namespace or pod
// references it by label. Pod annotations do not count, because the injector writes the revision's
// name there, never the tag's; and a revision in use does not make its tags in use. For the tag named
// default, enableNamespacesByDefault (the sidecarInjectorWebhook.enableNamespacesByDefault of the
// revision it points at) keeps it in use. Errors are as for Revision.
func Tag(l Lookup, name string, enableNamespacesByDefault bool) (Usage, error) {
	if name == "" {
		return Usage{tag: true}, nil
	}
	e := newEvaluation(l)
	if err := e.namespacesReferencing(name); err != nil {
		return Usage{}, err
	}
	if err := e.podsByLabel(name); err != nil {
		return Usage{}, err
	}
	u := e.usage()
	u.ByDefault = name == Default && enableNamespacesByDefault
	u.tag = true
	return u, nil
}

// podKey identifies a pod, so that one referenced several ways is counted once.
type podKey struct{ namespace, name string }

// evaluation collects the namespaces and pods that reference a set of names. Each method checks the
// objects the lookup returns against the rules again, so that a stale or coarse index can make the
// evaluation read more, never count wrongly.
type evaluation struct {
	lookup     Lookup
	namespaces map[string]struct{}
	pods       map[podKey]struct{}
	// labelsCount remembers, per namespace, whether the labels of its pods count, so that a namespace
	// with many pods is read once.
	labelsCount map[string]bool
}

func newEvaluation(l Lookup) *evaluation {
	return &evaluation{
		lookup:      l,
		namespaces:  map[string]struct{}{},
		pods:        map[podKey]struct{}{},
		labelsCount: map[string]bool{},
	}
}

// namespacesReferencing records the namespaces whose labels reference name.
func (e *evaluation) namespacesReferencing(name string) error {
	namespaces, err := e.lookup.NamespacesReferencing(name)
	if err != nil {
		return fmt.Errorf("listing the namespaces that reference %s: %w", name, err)
	}
	for _, ns := range namespaces {
		if ref, _ := NamespaceReference(ns.Labels); ref == name {
			e.namespaces[ns.Name] = struct{}{}
		}
	}
	return nil
}

// podsByAnnotation records the counting pods whose istio.io/rev annotation is name.
func (e *evaluation) podsByAnnotation(name string) error {
	pods, err := e.lookup.PodsByAnnotation(name)
	if err != nil {
		return fmt.Errorf("listing the pods annotated %s=%s: %w", AnnotationRev, name, err)
	}
	e.reserve(len(pods))
	for _, p := range pods {
		if annotationReference(p.Annotations, p.Phase) == name {
			e.pods[podKey{p.Namespace, p.Name}] = struct{}{}
		}
	}
	return nil
}

// podsByLabel records the counting pods whose labels reference name in a namespace that lets them.
func (e *evaluation) podsByLabel(name string) error {
	pods, err := e.lookup.PodsByLabel(name)
	if err != nil {
		return fmt.Errorf("listing the pods whose labels reference %s: %w", name, err)
	}
	e.reserve(len(pods))
	for _, p := range pods {
		// The namespace first: most pods live in namespaces that select a revision, and the answer
		// for their namespace is already known.
		ok, err := e.podLabelsCount(p.Namespace)
		if err != nil {
			return err
		}
		if ok && labelReference(p.Labels, p.Phase) == name {
			e.pods[podKey{p.Namespace, p.Name}] = struct{}{}
		}
	}
	return nil
}

// reserve sizes the still empty pod set for a first batch of n pods, so that it does not grow step
// by step.
func (e *evaluation) reserve(n int) {
	if len(e.pods) == 0 && n > 0 {
		e.pods = make(map[podKey]struct{}, n)
	}
}

// podLabelsCount reports whether the labels of pods in the namespace count: whether it references
// nothing and has not opted out. A namespace the lookup does not know (a cache that has not caught up
// yet) leaves the pod's own labels to decide: bosun would rather keep a revision a little longer than
// prune one that workloads need.
func (e *evaluation) podLabelsCount(namespace string) (bool, error) {
	if ok, seen := e.labelsCount[namespace]; seen {
		return ok, nil
	}
	ns, found, err := e.lookup.Namespace(namespace)
	if err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	ok := true
	if found {
		ref, optedOut := NamespaceReference(ns.Labels)
		ok = ref == "" && !optedOut
	}
	e.labelsCount[namespace] = ok
	return ok, nil
}

func (e *evaluation) usage() Usage {
	var u Usage
	if len(e.namespaces) > 0 {
		u.Namespaces = make([]string, 0, len(e.namespaces))
		for name := range e.namespaces {
			u.Namespaces = append(u.Namespaces, name)
		}
		slices.Sort(u.Namespaces)
	}
	u.Pods = len(e.pods)
	return u
}

// sortedUnique returns a sorted copy of names without duplicates or empty names, or nil if none are left.
func sortedUnique(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
