package operator

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
)

// served are managed kinds a cluster serves, as apply.ServedKinds finds them.
var served = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
}

// entry returns the cache's configuration of the kind gvk, failing the test without one.
func entry(t *testing.T, o cache.Options, gvk schema.GroupVersionKind) cache.ByObject {
	t.Helper()
	for obj, by := range o.ByObject {
		if obj.GetObjectKind().GroupVersionKind() == gvk {
			return by
		}
	}
	t.Fatalf("the cache has no configuration of %s", gvk)
	return cache.ByObject{}
}

// TestCacheOptions: the cache holds pods that are neither Succeeded nor Failed and every namespace,
// both as trimmed metadata (docs/architecture.md#lesson-metadata-only-pods,
// #lesson-finished-pods); of the kinds bosun applies, only the objects labelled as bosun's, the label
// rendering stamps (docs/architecture.md#lesson-drift-put-back); and a read of a kind it was not told
// to cache fails instead of quietly starting a cluster-wide informer.
func TestCacheOptions(t *testing.T) {
	o := cacheOptions(served)
	if !o.ReaderFailOnMissingInformer {
		t.Error("a read of a kind the cache was not told about would start an informer over the whole cluster")
	}
	if len(o.ByObject) != len(served)+2 {
		t.Errorf("the cache configures %d kinds, want the %d served ones, pods and namespaces", len(o.ByObject), len(served))
	}
	for obj := range o.ByObject {
		if gvk := obj.GetObjectKind().GroupVersionKind(); gvk == corev1.SchemeGroupVersion.WithKind("Pod") || gvk == corev1.SchemeGroupVersion.WithKind("Namespace") {
			if _, ok := obj.(*metav1.PartialObjectMetadata); !ok {
				t.Errorf("%s is cached as %T, want metadata only", gvk.Kind, obj)
			}
		}
	}

	pods := entry(t, o, corev1.SchemeGroupVersion.WithKind("Pod"))
	if pods.Field == nil || pods.Label != nil || pods.Transform == nil {
		t.Fatalf("pods: field selector %v, label selector %v, transform set %t; want a field selector and a transform", pods.Field, pods.Label, pods.Transform != nil)
	}
	for phase, cached := range map[corev1.PodPhase]bool{corev1.PodPending: true, corev1.PodRunning: true, corev1.PodUnknown: true,
		corev1.PodSucceeded: false, corev1.PodFailed: false} {
		if got := pods.Field.Matches(fields.Set{"status.phase": string(phase)}); got != cached {
			t.Errorf("a %s pod is cached: %t, want %t (field selector %s)", phase, got, cached, pods.Field)
		}
	}
	namespaces := entry(t, o, corev1.SchemeGroupVersion.WithKind("Namespace"))
	if namespaces.Field != nil || namespaces.Label != nil || namespaces.Transform == nil {
		t.Errorf("namespaces: field selector %v, label selector %v, transform set %t; want every namespace, trimmed", namespaces.Field, namespaces.Label, namespaces.Transform != nil)
	}

	ours := labels.Set{render.LabelManagedBy: render.ManagedByValue}
	theirs := labels.Set{render.LabelManagedBy: "helm"}
	for _, gvk := range served {
		by := entry(t, o, gvk)
		if by.Label == nil || !by.Label.Matches(ours) || by.Label.Matches(theirs) || by.Label.Matches(labels.Set{}) || by.Field != nil {
			t.Errorf("%s: label selector %v, field selector %v; want only objects labelled %s", gvk.Kind, by.Label, by.Field, ours)
		}
		if by.Transform != nil {
			t.Errorf("%s is trimmed: drift detection reads its managedFields", gvk.Kind)
		}
	}
}

// TestTrimKeepsWhatUsageReads: the pods and namespaces in the cache keep their identity, their
// deletion time and exactly the labels and annotations internal/inuse reads (istio.io/rev,
// sidecar.istio.io/inject and istio.io/rev on pods; istio-injection and istio.io/rev on namespaces);
// everything else, managedFields and owner references first, is dropped, and nothing kept is an empty
// map.
func TestTrimKeepsWhatUsageReads(t *testing.T) {
	o := cacheOptions(nil)
	deleted := metav1.Now()
	full := func(kind string) *metav1.PartialObjectMetadata {
		m := metadataOf(kind)
		m.ObjectMeta = metav1.ObjectMeta{
			Name: "web-1", Namespace: "shop", UID: "uid-1", ResourceVersion: "42", DeletionTimestamp: &deleted, Generation: 3,
			GenerateName: "web-", Finalizers: []string{"example.com/keep"},
			Labels: map[string]string{
				inuse.LabelRev: "canary", inuse.LabelInject: "true", inuse.LabelInjection: "enabled",
				"app": "web", "pod-template-hash": "5d8f",
			},
			Annotations: map[string]string{
				inuse.AnnotationRev: "prod-1", "kubectl.kubernetes.io/last-applied-configuration": "{...}",
			},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}},
		}
		return m
	}
	cases := []struct {
		kind            string
		wantLabels      map[string]string
		wantAnnotations map[string]string
	}{
		{"Pod", map[string]string{inuse.LabelRev: "canary", inuse.LabelInject: "true"}, map[string]string{inuse.AnnotationRev: "prod-1"}},
		{"Namespace", map[string]string{inuse.LabelRev: "canary", inuse.LabelInjection: "enabled"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			transform := entry(t, o, corev1.SchemeGroupVersion.WithKind(tc.kind)).Transform
			out, err := transform(full(tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*metav1.PartialObjectMetadata)
			want := metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1", ResourceVersion: "42", DeletionTimestamp: &deleted,
				Labels: tc.wantLabels, Annotations: tc.wantAnnotations}
			if got.Kind != tc.kind || got.APIVersion != "v1" {
				t.Errorf("type %s/%s, want v1/%s", got.APIVersion, got.Kind, tc.kind)
			}
			if got.Name != want.Name || got.Namespace != want.Namespace || got.UID != want.UID || got.ResourceVersion != want.ResourceVersion ||
				got.DeletionTimestamp != want.DeletionTimestamp || !maps.Equal(got.Labels, want.Labels) || !maps.Equal(got.Annotations, want.Annotations) ||
				(tc.wantAnnotations == nil) != (got.Annotations == nil) {
				t.Errorf("trimmed to %+v, want %+v", got.ObjectMeta, want)
			}
			if got.ManagedFields != nil || got.OwnerReferences != nil || got.Finalizers != nil || got.GenerateName != "" || got.Generation != 0 {
				t.Errorf("kept %+v, want managedFields, owner references and the rest dropped", got.ObjectMeta)
			}

			bare := metadataOf(tc.kind)
			bare.Name, bare.Labels, bare.Annotations = "bare", map[string]string{"app": "web"}, map[string]string{"note": "x"}
			out, err = transform(bare)
			if err != nil {
				t.Fatal(err)
			}
			if m := out.(*metav1.PartialObjectMetadata); m.Labels != nil || m.Annotations != nil {
				t.Errorf("an object referencing nothing keeps labels %#v and annotations %#v, want nil maps", m.Labels, m.Annotations)
			}
		})
	}
}

// TestTrimLeavesOtherObjectsAlone: the transform changes only metadata-only objects; anything else the
// informer hands it comes back as it was, without an error that would stop the informer.
func TestTrimLeavesOtherObjectsAlone(t *testing.T) {
	transform := trim(podLabels, podAnnotations)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}}}
	for _, in := range []any{pod, "not an object"} {
		out, err := transform(in)
		if err != nil || out != in {
			t.Errorf("transform(%T) = %v, %v; want it back unchanged", in, out, err)
		}
	}
	if pod.Labels["app"] != "web" {
		t.Errorf("the pod's labels were changed: %v", pod.Labels)
	}
}
