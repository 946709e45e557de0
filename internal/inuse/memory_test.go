package inuse

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// cluster builds namespaces × podsPerNamespace pods, all of them using rev: the namespaces select it
// by its name, by the tag prod, or by istio-injection=enabled through the tag named default; every pod
// is injected (annotated), and some also carry the tag's label. The last namespace, legacy, instead
// runs podsPerNamespace pods still injected by oldRev.
func cluster(namespaces, podsPerNamespace int) ([]Namespace, []Pod) {
	var nss []Namespace
	var pods []Pod
	for i := range namespaces {
		name := fmt.Sprintf("app-%05d", i)
		var labels map[string]string
		switch i % 3 {
		case 0:
			labels = m(LabelRev, rev)
		case 1:
			labels = m(LabelRev, tag)
		case 2:
			labels = m(LabelInjection, "enabled")
		}
		injectedBy := rev
		if i == namespaces-1 {
			name, labels, injectedBy = "legacy", m(LabelRev, oldRev), oldRev
		}
		nss = append(nss, ns(name, labels))
		for j := range podsPerNamespace {
			pods = append(pods, pod(name, fmt.Sprintf("web-%d", j), corev1.PodRunning,
				m("app", "web", LabelRev, tag), m(AnnotationRev, injectedBy)))
		}
	}
	return nss, pods
}

// counting counts the namespaces and pods a Lookup hands out.
type counting struct {
	Lookup
	objects int
}

func (c *counting) NamespacesReferencing(name string) ([]Namespace, error) {
	namespaces, err := c.Lookup.NamespacesReferencing(name)
	c.objects += len(namespaces)
	return namespaces, err
}

func (c *counting) PodsByAnnotation(name string) ([]Pod, error) {
	pods, err := c.Lookup.PodsByAnnotation(name)
	c.objects += len(pods)
	return pods, err
}

func (c *counting) PodsByLabel(name string) ([]Pod, error) {
	pods, err := c.Lookup.PodsByLabel(name)
	c.objects += len(pods)
	return pods, err
}

// TestEvaluationReadsOnlyReferencingObjects guards docs/architecture.md#lesson-metadata-only-pods: in a cluster of 10,000 pods, judging
// a revision that five pods use reads those pods and their namespace, not the cluster.
func TestEvaluationReadsOnlyReferencingObjects(t *testing.T) {
	namespaces, pods := cluster(2000, 5)
	l := &counting{Lookup: NewMemory(namespaces, pods)}
	u, err := Revision(l, Target{Revision: oldRev})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Referenced by 1 namespace (legacy) and 5 pods"; u.Message() != want {
		t.Errorf("Message() = %q, want %q", u.Message(), want)
	}
	if l.objects > 6 {
		t.Errorf("the evaluation read %d namespaces and pods, want at most the 6 that reference the revision", l.objects)
	}

	l.objects = 0
	if u, err = Revision(l, Target{Revision: "unused"}); err != nil || u.InUse() {
		t.Fatalf("Revision(unused) = %s, %v; want not in use", u.Message(), err)
	}
	if l.objects != 0 {
		t.Errorf("judging an unused revision read %d namespaces and pods, want 0", l.objects)
	}
}

func TestCluster10kPods(t *testing.T) {
	namespaces, pods := cluster(2000, 5)
	u, err := Revision(NewMemory(namespaces, pods), Target{Revision: rev, Tags: []string{tag, Default}})
	if err != nil {
		t.Fatal(err)
	}
	// Every pod but legacy's is annotated with rev and labelled with the tag; each counts once.
	if len(u.Namespaces) != 1999 || u.Pods != 9995 {
		t.Errorf("Revision over 2,000 namespaces × 5 pods: %d namespaces and %d pods, want 1999 and 9995", len(u.Namespaces), u.Pods)
	}
}

// BenchmarkRevision10kPods evaluates revisions in a cluster of 2,000 namespaces × 5 pods: the revision
// nearly every namespace and pod references, one only legacy's five pods reference, and one nothing
// references.
func BenchmarkRevision10kPods(b *testing.B) {
	namespaces, pods := cluster(2000, 5)
	l := NewMemory(namespaces, pods)
	for _, bc := range []struct {
		name   string
		target Target
	}{
		{"all", Target{Revision: rev, Tags: []string{tag, Default}}},
		{"legacy", Target{Revision: oldRev}},
		{"unused", Target{Revision: "unused"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Revision(l, bc.target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
