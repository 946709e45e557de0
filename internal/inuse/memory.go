package inuse

// Memory is a Lookup over namespaces and pods held in memory: those of another cluster, read in one go
// (internal/remote), and those of the tests. It indexes them in maps
// under the same keys the operator's cache indexes (NamespaceIndexKeys, PodIndexKeys), so an
// evaluation over it reads only the objects that reference the names it asks about. It never returns
// an error.
type Memory struct {
	namespaces map[string]Namespace
	// namespacesByKey and podsByKey hold each object under each of its index keys.
	namespacesByKey map[string][]Namespace
	podsByKey       map[string][]Pod
}

// NewMemory indexes namespaces and pods. Namespace names, and pod names within a namespace, are
// expected to be unique, as in a cluster. Pods that do not count are indexed under nothing, as by the
// operator's index. The slices a Memory returns are shared: callers must not change them.
func NewMemory(namespaces []Namespace, pods []Pod) *Memory {
	m := &Memory{
		namespaces:      make(map[string]Namespace, len(namespaces)),
		namespacesByKey: map[string][]Namespace{},
		podsByKey:       map[string][]Pod{},
	}
	for _, ns := range namespaces {
		m.namespaces[ns.Name] = ns
		for _, key := range NamespaceIndexKeys(ns.Labels) {
			m.namespacesByKey[key] = append(m.namespacesByKey[key], ns)
		}
	}
	for _, p := range pods {
		for _, key := range PodIndexKeys(p.Labels, p.Annotations, p.Phase) {
			m.podsByKey[key] = append(m.podsByKey[key], p)
		}
	}
	return m
}

// NamespacesReferencing implements Lookup.
func (m *Memory) NamespacesReferencing(name string) ([]Namespace, error) {
	return m.namespacesByKey[LabelKey(name)], nil
}

// PodsByAnnotation implements Lookup.
func (m *Memory) PodsByAnnotation(name string) ([]Pod, error) {
	return m.podsByKey[AnnotationKey(name)], nil
}

// PodsByLabel implements Lookup.
func (m *Memory) PodsByLabel(name string) ([]Pod, error) {
	return m.podsByKey[LabelKey(name)], nil
}

// Namespace implements Lookup.
func (m *Memory) Namespace(name string) (Namespace, bool, error) {
	ns, found := m.namespaces[name]
	return ns, found, nil
}
