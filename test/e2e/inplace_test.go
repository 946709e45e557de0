package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestInPlaceInstallAndUpdate follows OpenShift Service Mesh 3's "Installing with InPlace update
// strategy" and "Updating Istio control plane with InPlace strategy" (updating chapter, §2.2.2–2.2.3):
// the same IstioRevision is updated, istiod rolls out, Ready is False until the new istiod serves, and
// `kubectl get istio` prints the documents' columns and values. Deleting the Istio then removes
// everything bosun applied and nothing else.
func TestInPlaceInstallAndUpdate(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()

	createNamespace(t, c, "istio-system", nil)
	createNamespace(t, c, "bookinfo", map[string]string{"istio-injection": "enabled"})
	pods := workloadPods(t, c, "bookinfo", "productpage", "default", 2)
	// A user's object beside istiod, which deleting the mesh must leave alone.
	userCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "team-notes", Namespace: "istio-system"}}
	if err := c.Create(ctx, userCM); err != nil {
		t.Fatal(err)
	}
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  namespace: istio-system
  version: v1.24.3
  updateStrategy:
    type: InPlace`)

	istioHealthy(t, c, "default")
	waitFor(t, "kubectl get istio to print the documents' row", func(context.Context) error {
		want := []string{"default", "1", "1", "1", "default", "Healthy", "v1.24.3"}
		if got := row(table(t, "istios"), "default"); !slices.Equal(got, want) {
			return fmt.Errorf("row %q, want %q", got, want)
		}
		return nil
	})
	rev := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, rev); err != nil {
		t.Fatalf("InPlace creates an IstioRevision named like the Istio: %v", err)
	}
	revUID := rev.UID
	istiod := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, istiod); err != nil {
		t.Fatalf("istiod Deployment: %v", err)
	}
	if img := istiod.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":1.24.3") {
		t.Errorf("istiod image %s, want the 1.24.3 image", img)
	}
	oldTemplateGeneration := istiod.Generation

	// oc patch istio default --type='merge' -p '{"spec":{"version":"v1.24.4"}}'
	sawNotReady := watchReady(t, c, "default")
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "default")

	// Ready came back only once the new istiod was serving: the Deployment has rolled out its new
	// template completely.
	if err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, istiod); err != nil {
		t.Fatal(err)
	}
	if img := istiod.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":1.24.4") {
		t.Errorf("istiod image %s after the update, want the 1.24.4 image", img)
	}
	if istiod.Generation == oldTemplateGeneration {
		t.Error("the istiod Deployment's template did not change")
	}
	if s := istiod.Status; istiod.Status.ObservedGeneration != istiod.Generation || s.UpdatedReplicas != s.Replicas || s.ReadyReplicas != s.Replicas || s.Replicas == 0 {
		t.Errorf("Istio Healthy while istiod has not rolled out: generation %d, status %+v", istiod.Generation, s)
	}
	if !sawNotReady() {
		t.Error("the revision's Ready condition never turned False while istiod rolled out")
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, rev); err != nil {
		t.Fatal(err)
	}
	if rev.UID != revUID || rev.Spec.Version != v1244 {
		t.Errorf("after the update: revision UID %s (was %s), version %s; want the same revision on %s", rev.UID, revUID, rev.Spec.Version, v1244)
	}
	want := []string{"default", "1", "1", "1", "default", "Healthy", "v1.24.4"}
	if got := row(table(t, "istios"), "default"); !slices.Equal(got, want) {
		t.Errorf("kubectl get istio after the update: %q, want %q", got, want)
	}

	// Deleting the Istio removes its revision and every object applied for it; the user's ConfigMap
	// in the same namespace stays.
	if err := c.Delete(ctx, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revision and istiod to be removed", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("IstioRevision default: %v", err)
		}
		left, err := ownedObjects(ctx, c, "IstioRevision.default")
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %v", left)
		}
		return nil
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(userCM), &corev1.ConfigMap{}); err != nil {
		t.Errorf("the user's ConfigMap in istio-system is gone: %v", err)
	}
	deletePods(t, c, "bookinfo", pods)
}

// watchReady records the Ready condition of an IstioRevision from now on; the returned func reports
// whether it was ever False with reason IstiodNotReady.
func watchReady(t *testing.T, c client.Client, name string) func() bool {
	t.Helper()
	w, err := newWatchClient(t).Watch(t.Context(), &v1.IstioRevisionList{}, client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			rev, ok := ev.Object.(*v1.IstioRevision)
			if !ok {
				continue
			}
			if cond, err := condition(rev.Status.Conditions, v1.ConditionReady); err == nil &&
				cond.Status == metav1.ConditionFalse && cond.Reason == v1.ReasonIstiodNotReady {
				close(seen)
				return
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() bool {
		select {
		case <-seen:
			return true
		default:
			return false
		}
	}
}

func newWatchClient(t *testing.T) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: newClient(t).Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ownedObjects lists, across the kinds bosun applies, the objects labelled as belonging to owner.
func ownedObjects(ctx context.Context, c client.Client, owner string) ([]string, error) {
	var left []string
	lists := map[string]client.ObjectList{
		"Deployment": &appsv1.DeploymentList{}, "ConfigMap": &corev1.ConfigMapList{},
		"Service": &corev1.ServiceList{}, "ServiceAccount": &corev1.ServiceAccountList{},
	}
	for kind, list := range lists {
		if err := c.List(ctx, list, client.MatchingLabels{"bosun.dev/owner": owner}); err != nil {
			return nil, err
		}
		items, _ := metaItems(list)
		for _, name := range items {
			left = append(left, kind+" "+name)
		}
	}
	return left, nil
}
