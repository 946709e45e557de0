//go:build integration

package operator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller/tag"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/values"
)

// eventually polls cond until it returns nil, failing the test with its last error after 30 s.
func eventually(t *testing.T, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startOperator runs the operator, without leader election, until the test ends, and returns the
// client its controllers read with (from its cache) once the cache has synced.
func startOperator(t *testing.T) client.Client {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := New(cfg, Options{Catalog: catalog.Embedded(), Resources: os.DirFS(filepath.Join(root, "resources")), Platform: values.Kubernetes,
		BosunVersion: "test", MetricsAddr: "0", HealthAddr: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() { exited <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-exited; err != nil {
			t.Errorf("the operator stopped with an error: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the operator's cache did not sync")
	}
	return mgr.GetClient()
}

// podMeta is an empty metadata-only pod, as the operator's cache holds pods.
func podMeta(namespace, name string) *metav1.PartialObjectMetadata {
	m := metadataOf("Pod")
	m.Namespace, m.Name = namespace, name
	return m
}

// TestTheOperatorsCache checks the cache the operator's controllers read, against a real API server:
// which pods, namespaces and applied objects it holds, what it keeps of them, and the indexes that
// answer "who uses revision R" without listing (docs/architecture.md#lesson-metadata-only-pods,
// #lesson-finished-pods, #lesson-drift-put-back).
func TestTheOperatorsCache(t *testing.T) {
	admin, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	const ns, rev = "cache-app", "cache-rev"
	create := func(obj client.Object) {
		t.Helper()
		if err := admin.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Delete(context.Background(), obj) })
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{inuse.LabelRev: rev, "team": "shop"},
		Annotations: map[string]string{"owner": "shop@example.com"}}})
	cached := startOperator(t)
	usage := func(ctx context.Context) (inuse.Usage, error) {
		return inuse.Revision(inuse.Cache{Ctx: ctx, Reader: cached}, inuse.Target{Revision: rev})
	}
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels:          map[string]string{inuse.LabelInject: "true", "app": "web"},
			Annotations:     map[string]string{inuse.AnnotationRev: rev, "prometheus.io/scrape": "true"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "0000"}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/web:1"}}}}
		create(p)
		if phase != "" {
			p.Status.Phase = phase
			if err := admin.Status().Update(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}

	t.Run("finished pods leave the cache", func(t *testing.T) {
		// The running pod comes last: once the cache holds it, it has seen the others finish.
		pod("succeeded", corev1.PodSucceeded)
		pod("failed", corev1.PodFailed)
		running := pod("running", "")
		eventually(t, "only the running pod cached, and counted", func(ctx context.Context) error {
			var list metav1.PartialObjectMetadataList
			list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
			if err := cached.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return err
			}
			var names []string
			for _, p := range list.Items {
				names = append(names, p.Name)
			}
			u, err := usage(ctx)
			if err != nil || !slices.Equal(names, []string{"running"}) || u.Pods != 1 {
				return fmt.Errorf("cached pods %v, usage %+v (%v)", names, u, err)
			}
			return nil
		})
		running.Status.Phase = corev1.PodSucceeded
		if err := admin.Status().Update(context.Background(), running); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the pod that finished to stop counting", func(ctx context.Context) error {
			err := cached.Get(ctx, client.ObjectKeyFromObject(running), podMeta(ns, "running"))
			u, uerr := usage(ctx)
			if !apierrors.IsNotFound(err) || uerr != nil || u.Pods != 0 {
				return fmt.Errorf("reading the pod: %v; usage %+v (%v)", err, u, uerr)
			}
			return nil
		})
	})

	t.Run("pods and namespaces are trimmed and indexed", func(t *testing.T) {
		pod("trimmed", "")
		got := podMeta(ns, "trimmed")
		eventually(t, "the pod in the cache", func(ctx context.Context) error { return cached.Get(ctx, client.ObjectKeyFromObject(got), got) })
		if want := map[string]string{inuse.LabelInject: "true"}; !maps.Equal(got.Labels, want) || len(got.Annotations) != 1 || got.Annotations[inuse.AnnotationRev] != rev {
			t.Errorf("the cached pod has labels %v and annotations %v, want %v and only %s", got.Labels, got.Annotations, want, inuse.AnnotationRev)
		}
		if got.ManagedFields != nil || got.OwnerReferences != nil || got.UID == "" || got.ResourceVersion == "" {
			t.Errorf("the cached pod: %+v, want its identity without managedFields or owner references", got.ObjectMeta)
		}
		namespace := metadataOf("Namespace")
		if err := cached.Get(t.Context(), client.ObjectKey{Name: ns}, namespace); err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{inuse.LabelRev: rev}; !maps.Equal(namespace.Labels, want) || namespace.Annotations != nil {
			t.Errorf("the cached namespace has labels %v and annotations %v, want %v and none", namespace.Labels, namespace.Annotations, want)
		}
		u, err := usage(t.Context())
		if err != nil || !slices.Equal(u.Namespaces, []string{ns}) {
			t.Errorf("the namespaces found through the index: %+v (%v), want [%s]", u, err, ns)
		}
	})

	t.Run("of the kinds bosun applies, only its own objects", func(t *testing.T) {
		deployment := func(name string, labels map[string]string) *appsv1.Deployment {
			one := int32(1)
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
				Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/web:1"}}}}}}
			create(d)
			return d
		}
		deployment("someone-elses", map[string]string{render.LabelManagedBy: "helm"})
		deployment("bosuns", map[string]string{render.LabelManagedBy: render.ManagedByValue})
		read := func(ctx context.Context, name string) error {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
			return cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
		}
		eventually(t, "bosun's Deployment in the cache", func(ctx context.Context) error { return read(ctx, "bosuns") })
		if err := read(t.Context(), "someone-elses"); !apierrors.IsNotFound(err) {
			t.Errorf("reading another installer's Deployment from the cache: %v, want not found", err)
		}
	})

	t.Run("a kind the cache was not told about is an error", func(t *testing.T) {
		err := cached.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "anything"}, &corev1.ConfigMap{})
		var notCached *cache.ErrResourceNotCached
		if !errors.As(err, &notCached) {
			t.Errorf("reading a ConfigMap from the cache: %v, want ErrResourceNotCached", err)
		}
	})

	t.Run("tags are indexed by what their spec names", func(t *testing.T) {
		canary := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "cache-canary"},
			Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstio, Name: "cache-mesh"}}}
		if err := admin.Create(t.Context(), canary); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.Delete(context.Background(), canary)
			eventually(t, "the tag to be gone", func(ctx context.Context) error {
				if err := admin.Get(ctx, client.ObjectKeyFromObject(canary), &v1.IstioRevisionTag{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("the tag is still there (%v)", err)
				}
				return nil
			})
		})
		eventually(t, "the tag under its target's key", func(ctx context.Context) error {
			var tags v1.IstioRevisionTagList
			if err := cached.List(ctx, &tags, client.MatchingFields{tag.IndexField: tag.SpecKey(v1.KindIstio, "cache-mesh")}); err != nil {
				return err
			}
			if len(tags.Items) != 1 || tags.Items[0].Name != "cache-canary" {
				return fmt.Errorf("tags %v", tags.Items)
			}
			return nil
		})
	})
}
