package inuse

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func ns(name string, labels map[string]string) Namespace {
	return Namespace{Name: name, Labels: labels}
}

func pod(namespace, name string, phase corev1.PodPhase, labels, annotations map[string]string) Pod {
	return Pod{Namespace: namespace, Name: name, Phase: phase, Labels: labels, Annotations: annotations}
}

// The revisions and tag the tables use: prod points at prod-1-27; prod-1-26 is the previous revision.
const (
	rev    = "prod-1-27"
	oldRev = "prod-1-26"
	tag    = "prod"
)

var (
	unlabelled = ns("shop", nil)
	optedOut   = ns("batch", m(LabelInjection, "disabled"))
	annotated  = m(AnnotationRev, rev)
)

func TestRevision(t *testing.T) {
	cases := []struct {
		name       string
		namespaces []Namespace
		pods       []Pod
		target     Target
		want       Usage
	}{
		{
			name:   "nothing references the revision",
			target: Target{Revision: rev},
		},
		{
			name:       "namespace labelled with the revision's name",
			namespaces: []Namespace{ns("shop", m(LabelRev, rev))},
			target:     Target{Revision: rev},
			want:       Usage{Namespaces: []string{"shop"}},
		},
		{
			name:       "namespace labelled with a tag that points at the revision",
			namespaces: []Namespace{ns("shop", m(LabelRev, tag))},
			target:     Target{Revision: rev, Tags: []string{tag}},
			want:       Usage{Namespaces: []string{"shop"}, Tags: []string{tag}},
		},
		{
			name:       "namespace labelled with another revision",
			namespaces: []Namespace{ns("shop", m(LabelRev, oldRev))},
			target:     Target{Revision: rev},
		},
		{
			name:       "istio-injection=enabled uses the revision named default",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled"))},
			target:     Target{Revision: Default},
			want:       Usage{Namespaces: []string{"shop"}},
		},
		{
			name:       "istio-injection=enabled uses the revision the tag named default points at",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled"))},
			target:     Target{Revision: rev, Tags: []string{Default}},
			want:       Usage{Namespaces: []string{"shop"}, Tags: []string{Default}},
		},
		{
			name:       "istio-injection=enabled does not use a revision default does not resolve to",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled"))},
			target:     Target{Revision: rev, Tags: []string{tag}},
			want:       Usage{Tags: []string{tag}},
		},
		{
			name:       "istio-injection=enabled wins over the namespace's istio.io/rev",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled", LabelRev, oldRev))},
			target:     Target{Revision: oldRev},
		},
		{
			name:       "istio-injection=disabled wins over the namespace's istio.io/rev",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "disabled", LabelRev, rev))},
			target:     Target{Revision: rev},
		},
		{
			name:       "pod annotation in an unlabelled namespace",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, annotated)},
			target:     Target{Revision: rev},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod annotation counts in an opted-out namespace",
			namespaces: []Namespace{optedOut},
			pods:       []Pod{pod("batch", "job-1", corev1.PodRunning, nil, annotated)},
			target:     Target{Revision: rev},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod annotation counts in a namespace relabelled to another revision",
			namespaces: []Namespace{ns("shop", m(LabelRev, oldRev))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, annotated)},
			target:     Target{Revision: rev},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod annotation naming another revision",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, m(AnnotationRev, oldRev))},
			target:     Target{Revision: rev},
		},
		{
			name:       "pod annotated default counts for the revision named default",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, m(AnnotationRev, Default))},
			target:     Target{Revision: Default},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod label istio.io/rev in an unlabelled namespace",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target:     Target{Revision: rev},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod label naming a tag that points at the revision",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, tag), nil)},
			target:     Target{Revision: rev, Tags: []string{tag}},
			want:       Usage{Pods: 1, Tags: []string{tag}},
		},
		{
			name:       "pod label sidecar.istio.io/inject=true uses the revision named default",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelInject, "true"), nil)},
			target:     Target{Revision: Default},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pod label sidecar.istio.io/inject=true uses the revision the tag named default points at",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelInject, "true"), nil)},
			target:     Target{Revision: rev, Tags: []string{Default}},
			want:       Usage{Pods: 1, Tags: []string{Default}},
		},
		{
			name:       "pod label in a namespace labelled for another revision follows the namespace",
			namespaces: []Namespace{ns("shop", m(LabelRev, oldRev))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target:     Target{Revision: rev},
		},
		{
			name:       "pod label in a namespace labelled for this revision follows the namespace",
			namespaces: []Namespace{ns("shop", m(LabelRev, rev))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target:     Target{Revision: rev},
			want:       Usage{Namespaces: []string{"shop"}},
		},
		{
			name:       "pod label in an istio-injection=enabled namespace follows the namespace",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled"))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target:     Target{Revision: rev},
		},
		{
			name:       "pod label in an istio-injection=disabled namespace does not count",
			namespaces: []Namespace{optedOut},
			pods:       []Pod{pod("batch", "job-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target:     Target{Revision: rev},
		},
		{
			name:       "pod label with sidecar.istio.io/inject=false does not count",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodPending, m(LabelRev, rev, LabelInject, "false"), nil)},
			target:     Target{Revision: rev},
		},
		{
			name:   "pod label in a namespace the lookup does not know counts",
			pods:   []Pod{pod("new", "cart-1", corev1.PodPending, m(LabelRev, rev), nil)},
			target: Target{Revision: rev},
			want:   Usage{Pods: 1},
		},
		{
			name:       "Succeeded pod does not count",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "migrate-1", corev1.PodSucceeded, m(LabelRev, rev), annotated)},
			target:     Target{Revision: rev},
		},
		{
			name:       "Failed pod does not count",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodFailed, m(LabelRev, rev), annotated)},
			target:     Target{Revision: rev},
		},
		{
			name:       "Pending, Unknown and phase-less pods count",
			namespaces: []Namespace{unlabelled},
			pods: []Pod{
				pod("shop", "cart-1", corev1.PodPending, nil, annotated),
				pod("shop", "cart-2", corev1.PodUnknown, nil, annotated),
				pod("shop", "cart-3", "", nil, annotated),
				pod("shop", "cart-4", corev1.PodRunning, nil, annotated),
			},
			target: Target{Revision: rev},
			want:   Usage{Pods: 4},
		},
		{
			name:       "pod referencing by annotation and by a tag label is counted once",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelRev, tag), annotated)},
			target:     Target{Revision: rev, Tags: []string{tag}},
			want:       Usage{Pods: 1, Tags: []string{tag}},
		},
		{
			name:       "pod referencing default by annotation and by label is counted once",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelInject, "true"), m(AnnotationRev, Default))},
			target:     Target{Revision: Default},
			want:       Usage{Pods: 1},
		},
		{
			name:       "pods with the same name in different namespaces are different pods",
			namespaces: []Namespace{unlabelled, optedOut},
			pods: []Pod{
				pod("shop", "worker", corev1.PodRunning, nil, annotated),
				pod("batch", "worker", corev1.PodRunning, nil, annotated),
			},
			target: Target{Revision: rev},
			want:   Usage{Pods: 2},
		},
		{
			name:   "a tag pointing at the revision keeps it in use though nothing uses the tag",
			target: Target{Revision: rev, Tags: []string{tag}},
			want:   Usage{Tags: []string{tag}},
		},
		{
			name:   "tags are sorted and listed once",
			target: Target{Revision: rev, Tags: []string{tag, "canary", tag, ""}},
			want:   Usage{Tags: []string{"canary", tag}},
		},
		{
			name:   "enableNamespacesByDefault on the revision named default",
			target: Target{Revision: Default, EnableNamespacesByDefault: true},
			want:   Usage{ByDefault: true},
		},
		{
			name:   "enableNamespacesByDefault on the revision the tag named default points at",
			target: Target{Revision: rev, Tags: []string{Default}, EnableNamespacesByDefault: true},
			want:   Usage{Tags: []string{Default}, ByDefault: true},
		},
		{
			name:   "enableNamespacesByDefault on a revision default does not resolve to",
			target: Target{Revision: rev, EnableNamespacesByDefault: true},
		},
		{
			name: "namespaces are sorted and pods in them counted",
			namespaces: []Namespace{
				ns("shop", m(LabelRev, tag)), ns("bookinfo", m(LabelRev, rev)), ns("other", m(LabelRev, oldRev)),
			},
			pods: []Pod{
				pod("shop", "cart-1", corev1.PodRunning, nil, annotated),
				pod("bookinfo", "reviews-1", corev1.PodRunning, nil, annotated),
				pod("other", "old-1", corev1.PodRunning, nil, m(AnnotationRev, oldRev)),
			},
			target: Target{Revision: rev, Tags: []string{tag}},
			want:   Usage{Namespaces: []string{"bookinfo", "shop"}, Pods: 2, Tags: []string{tag}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Revision(NewMemory(tc.namespaces, tc.pods), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Revision(%+v) = %+v, want %+v", tc.target, got, tc.want)
			}
			if got.InUse() != tc.want.InUse() {
				t.Errorf("InUse() = %t, want %t", got.InUse(), tc.want.InUse())
			}
		})
	}
}

func TestTag(t *testing.T) {
	cases := []struct {
		name       string
		namespaces []Namespace
		pods       []Pod
		tag        string
		enable     bool
		want       Usage
	}{
		{
			name: "nothing references the tag",
			tag:  tag,
			want: Usage{tag: true},
		},
		{
			name:       "namespace labelled with the tag",
			namespaces: []Namespace{ns("shop", m(LabelRev, tag))},
			tag:        tag,
			want:       Usage{Namespaces: []string{"shop"}, tag: true},
		},
		{
			name:       "istio-injection=enabled uses the tag named default",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled"))},
			tag:        Default,
			want:       Usage{Namespaces: []string{"shop"}, tag: true},
		},
		{
			name:       "istio-injection=enabled does not use another tag",
			namespaces: []Namespace{ns("shop", m(LabelInjection, "enabled", LabelRev, tag))},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:       "pod label sidecar.istio.io/inject=true uses the tag named default",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelInject, "true"), annotated)},
			tag:        Default,
			want:       Usage{Pods: 1, tag: true},
		},
		{
			name:       "pod label istio.io/rev naming the tag",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelRev, tag), annotated)},
			tag:        tag,
			want:       Usage{Pods: 1, tag: true},
		},
		{
			name:       "pod annotation never counts for a tag",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, m(AnnotationRev, tag))},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:       "pod label in a namespace labelled with another name follows the namespace",
			namespaces: []Namespace{ns("shop", m(LabelRev, rev))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelRev, tag), nil)},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:       "pod label in an istio-injection=disabled namespace does not count",
			namespaces: []Namespace{optedOut},
			pods:       []Pod{pod("batch", "job-1", corev1.PodRunning, m(LabelRev, tag), nil)},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:       "Failed pod does not count for a tag",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodFailed, m(LabelRev, tag), nil)},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:       "Succeeded pod does not count for a tag",
			namespaces: []Namespace{unlabelled},
			pods:       []Pod{pod("shop", "migrate-1", corev1.PodSucceeded, m(LabelInject, "true"), nil)},
			tag:        Default,
			want:       Usage{tag: true},
		},
		{
			name:       "references to the tag's revision do not make the tag in use",
			namespaces: []Namespace{ns("shop", m(LabelRev, rev))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, annotated)},
			tag:        tag,
			want:       Usage{tag: true},
		},
		{
			name:   "enableNamespacesByDefault keeps the tag named default in use",
			tag:    Default,
			enable: true,
			want:   Usage{ByDefault: true, tag: true},
		},
		{
			name:   "enableNamespacesByDefault does not concern another tag",
			tag:    tag,
			enable: true,
			want:   Usage{tag: true},
		},
		{
			name:       "no name references nothing",
			namespaces: []Namespace{ns("shop", m(LabelRev, ""))},
			pods:       []Pod{pod("shop", "cart-1", corev1.PodRunning, nil, nil)},
			want:       Usage{tag: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Tag(NewMemory(tc.namespaces, tc.pods), tc.tag, tc.enable)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Tag(%q, %t) = %+v, want %+v", tc.tag, tc.enable, got, tc.want)
			}
			if got.InUse() != tc.want.InUse() {
				t.Errorf("InUse() = %t, want %t", got.InUse(), tc.want.InUse())
			}
		})
	}
}

// names returns n namespace names ns-01 … ns-n.
func names(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("ns-%02d", i))
	}
	return out
}

func TestMessage(t *testing.T) {
	cases := []struct {
		name  string
		usage Usage
		want  string
	}{
		{"unused revision", Usage{}, "Not referenced by any namespace, pod or tag"},
		{"unused tag", Usage{tag: true}, "Not referenced by any namespace or pod"},
		{"one namespace and one pod", Usage{Namespaces: []string{"shop"}, Pods: 1}, "Referenced by 1 namespace (shop) and 1 pod"},
		{"namespaces and pods", Usage{Namespaces: []string{"bookinfo", "shop"}, Pods: 12}, "Referenced by 2 namespaces (bookinfo, shop) and 12 pods"},
		{"pods only", Usage{Pods: 3}, "Referenced by 3 pods"},
		{"one tag", Usage{Tags: []string{"default"}}, "Referenced by IstioRevisionTag default"},
		{"two tags", Usage{Tags: []string{"canary", "default"}}, "Referenced by IstioRevisionTags canary, default"},
		{"everything", Usage{Namespaces: []string{"shop"}, Pods: 2, Tags: []string{"default"}},
			"Referenced by 1 namespace (shop), 2 pods and IstioRevisionTag default"},
		{"five namespaces are all listed", Usage{Namespaces: names(5)},
			"Referenced by 5 namespaces (ns-01, ns-02, ns-03, ns-04, ns-05)"},
		{"six namespaces list five", Usage{Namespaces: names(6)},
			"Referenced by 6 namespaces (ns-01, ns-02, ns-03, ns-04, ns-05 and 1 more)"},
		{"2000 namespaces list five", Usage{Namespaces: names(2000), Pods: 10000},
			"Referenced by 2000 namespaces (ns-01, ns-02, ns-03, ns-04, ns-05 and 1995 more) and 10000 pods"},
		{"seven tags list five", Usage{Tags: []string{"a", "b", "c", "d", "e", "f", "g"}},
			"Referenced by IstioRevisionTags a, b, c, d, e and 2 more"},
		{"enableNamespacesByDefault alone", Usage{ByDefault: true},
			"Injects every namespace without injection labels (sidecarInjectorWebhook.enableNamespacesByDefault is true)"},
		{"enableNamespacesByDefault with pods", Usage{Pods: 1, ByDefault: true},
			"Referenced by 1 pod, and injects every namespace without injection labels (sidecarInjectorWebhook.enableNamespacesByDefault is true)"},
		{"another cluster only", Usage{Clusters: []ClusterUsage{{Cluster: "cluster2", Namespaces: []string{"shop"}, Pods: 3}}},
			"Referenced by 1 namespace (shop) and 3 pods in cluster cluster2"},
		{"here and in two clusters", Usage{Pods: 12, Clusters: []ClusterUsage{{Cluster: "cluster2", Namespaces: []string{"shop"}}, {Cluster: "cluster3", Pods: 1}}},
			"Referenced by 12 pods, and by 1 namespace (shop) in cluster cluster2, and by 1 pod in cluster cluster3"},
	}
	for _, tc := range cases {
		if got := tc.usage.Message(); got != tc.want {
			t.Errorf("%s: Message() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestInCluster checks that another cluster's use counts, sorted by cluster, and that a cluster where
// nothing uses the revision leaves it unused.
func TestInCluster(t *testing.T) {
	var u Usage
	u.InCluster("cluster3", Usage{Pods: 1})
	u.InCluster("cluster4", Usage{})
	if u.InUse() != true {
		t.Fatalf("a pod in cluster3 did not make the revision in use: %s", u.Message())
	}
	u.InCluster("cluster2", Usage{Namespaces: []string{"shop"}, Tags: []string{"canary"}})
	if want := "Referenced by 1 namespace (shop) in cluster cluster2, and by 1 pod in cluster cluster3"; u.Message() != want {
		t.Errorf("Message() = %q, want %q", u.Message(), want)
	}
	u.InCluster("cluster2", Usage{Namespaces: []string{"bookinfo", "shop"}, Pods: 2})
	if want := "Referenced by 2 namespaces (bookinfo, shop) and 2 pods in cluster cluster2, and by 1 pod in cluster cluster3"; u.Message() != want {
		t.Errorf("a cluster named twice: Message() = %q, want %q", u.Message(), want)
	}
	var unused Usage
	unused.InCluster("cluster2", Usage{})
	if unused.InUse() {
		t.Errorf("a cluster where nothing references the revision made it in use: %s", unused.Message())
	}
}

// TestMessageIsStable checks that the same cluster, listed in any order, gives the same message, so
// that the InUse condition is not rewritten on every reconcile.
func TestMessageIsStable(t *testing.T) {
	var namespaces []Namespace
	var pods []Pod
	for _, name := range names(9) {
		namespaces = append(namespaces, ns(name, m(LabelRev, tag)))
		pods = append(pods, pod(name, "app-1", corev1.PodRunning, nil, annotated))
	}
	target := Target{Revision: rev, Tags: []string{tag, Default}}
	want := "Referenced by 9 namespaces (ns-01, ns-02, ns-03, ns-04, ns-05 and 4 more), 9 pods and IstioRevisionTags default, prod"

	for i := range 4 {
		u, err := Revision(NewMemory(namespaces, pods), target)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Message(); got != want {
			t.Errorf("order %d: Message() = %q, want %q", i, got, want)
		}
		slices.Reverse(namespaces)
		slices.Reverse(target.Tags)
		pods = append(pods[1:], pods[0])
	}
}

// TestPodThatStopsCountingNoLongerKeepsTheRevision follows one pod through its life: while it runs it
// keeps its revision in use; once it has Succeeded or Failed it does not (docs/architecture.md#lesson-finished-pods).
func TestPodThatStopsCountingNoLongerKeepsTheRevision(t *testing.T) {
	for _, phase := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed} {
		p := pod("shop", "migrate-1", phase, m(LabelRev, rev), annotated)
		u, err := Revision(NewMemory([]Namespace{unlabelled}, []Pod{p}), Target{Revision: rev})
		if err != nil {
			t.Fatal(err)
		}
		want := phase == corev1.PodPending || phase == corev1.PodRunning
		if u.InUse() != want {
			t.Errorf("pod %s: InUse() = %t, want %t (%s)", phase, u.InUse(), want, u.Message())
		}
	}
}

// unfiltered is a Lookup whose answers are too broad: it returns every namespace and pod for every
// name, as a stale or coarse index might. An evaluation must still count only true references.
type unfiltered struct {
	namespaces []Namespace
	pods       []Pod
}

func (u unfiltered) NamespacesReferencing(string) ([]Namespace, error) { return u.namespaces, nil }
func (u unfiltered) PodsByAnnotation(string) ([]Pod, error)            { return u.pods, nil }
func (u unfiltered) PodsByLabel(string) ([]Pod, error)                 { return u.pods, nil }
func (u unfiltered) Namespace(name string) (Namespace, bool, error) {
	for _, ns := range u.namespaces {
		if ns.Name == name {
			return ns, true, nil
		}
	}
	return Namespace{}, false, nil
}

func TestEvaluationChecksWhatTheLookupReturns(t *testing.T) {
	l := unfiltered{
		namespaces: []Namespace{unlabelled, optedOut, ns("old", m(LabelRev, oldRev)), ns("enabled", m(LabelInjection, "enabled"))},
		pods: []Pod{
			pod("shop", "failed", corev1.PodFailed, m(LabelRev, rev), annotated),
			pod("shop", "succeeded", corev1.PodSucceeded, m(LabelRev, rev), annotated),
			pod("shop", "old", corev1.PodRunning, m(LabelRev, oldRev), m(AnnotationRev, oldRev)),
			pod("batch", "opted-out", corev1.PodRunning, m(LabelRev, rev), nil),
			pod("old", "follows-namespace", corev1.PodRunning, m(LabelRev, rev), nil),
		},
	}
	u, err := Revision(l, Target{Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	if u.InUse() {
		t.Errorf("Revision over an unfiltered lookup: %s, want not in use", u.Message())
	}
	u, err = Tag(l, tag, false)
	if err != nil {
		t.Fatal(err)
	}
	if u.InUse() {
		t.Errorf("Tag over an unfiltered lookup: %s, want not in use", u.Message())
	}
}

// failing is a Lookup whose every question fails at one method.
type failing struct {
	Memory
	method string
}

var errCache = errors.New("cache not synced")

func (f failing) fail(method string) error {
	if f.method == method {
		return errCache
	}
	return nil
}

func (f failing) NamespacesReferencing(name string) ([]Namespace, error) {
	namespaces, _ := f.Memory.NamespacesReferencing(name)
	return namespaces, f.fail("NamespacesReferencing")
}

func (f failing) PodsByAnnotation(name string) ([]Pod, error) {
	pods, _ := f.Memory.PodsByAnnotation(name)
	return pods, f.fail("PodsByAnnotation")
}

func (f failing) PodsByLabel(name string) ([]Pod, error) {
	pods, _ := f.Memory.PodsByLabel(name)
	return pods, f.fail("PodsByLabel")
}

func (f failing) Namespace(name string) (Namespace, bool, error) {
	ns, found, _ := f.Memory.Namespace(name)
	return ns, found, f.fail("Namespace")
}

// TestLookupErrorsAreNotUnused guards docs/architecture.md#lesson-unknown-is-in-use: when bosun cannot tell, the answer is an error
// (InUse Unknown, never pruned), not a usage that says nothing references the revision.
func TestLookupErrorsAreNotUnused(t *testing.T) {
	memory := NewMemory([]Namespace{unlabelled}, []Pod{pod("shop", "cart-1", corev1.PodRunning, m(LabelRev, tag), nil)})
	for _, method := range []string{"NamespacesReferencing", "PodsByAnnotation", "PodsByLabel", "Namespace"} {
		l := failing{Memory: *memory, method: method}
		if _, err := Revision(l, Target{Revision: rev, Tags: []string{tag}}); !errors.Is(err, errCache) {
			t.Errorf("Revision with %s failing: error %v, want %v", method, err, errCache)
		}
		if method == "PodsByAnnotation" {
			continue // Tag never asks about annotations.
		}
		if _, err := Tag(l, tag, false); !errors.Is(err, errCache) {
			t.Errorf("Tag with %s failing: error %v, want %v", method, err, errCache)
		}
	}
}
