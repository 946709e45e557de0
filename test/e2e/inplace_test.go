//go:build e2e

package e2e

import (
	"context"
	"fmt"
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
// strategy" and "Updating Istio control plane with InPlace strategy" (updating chapter, §2.2.2–2.2.3),
// then "Updating the Istio CNI" (chapter 4, §4.1.1), with the documents' manifests and Bookinfo in the
// namespace bookinfo labelled istio-injection=enabled:
//   - Bookinfo's pods are injected by istiod's own webhook, from the revision named default, with the
//     1.24.3 proxy, and `oc get istio` prints the documents' row (IN USE 1);
//   - after the version patch the same IstioRevision is updated, Ready is False until the new istiod
//     serves, `oc get istio` prints v1.24.4, and the running pods are left alone;
//   - `oc rollout restart deployment -n bookinfo` gives every pod the 1.24.4 proxy (what `istioctl
//     proxy-status` shows as VERSION);
//   - the IstioCNI patch rolls istio-cni-node to 1.24.4, Ready is False while it rolls (what `oc wait
//     --for=condition=Ready` waits for), `oc get istiocni` prints the documents' row, and Bookinfo's
//     pods are not restarted by it.
//
// Deleting the Istio then removes everything bosun applied for it and nothing else.
func TestInPlaceInstallAndUpdate(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	ctx := t.Context()

	// oc create ns istio-system
	ensureNamespace(t, c, "istio-system")
	// A user's object beside istiod, which deleting the mesh must leave alone.
	userCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "team-notes", Namespace: "istio-system"}}
	if err := c.Create(ctx, userCM); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), userCM) })
	applyExample(t, c, "03-inplace-istio.yaml")
	t.Cleanup(func() { deleteIstio(t, c, "default") })
	ensureNamespace(t, c, "istio-cni")
	applyExample(t, c, "03-istiocni.yaml")
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.IstioCNI{}) })
	// oc create ns bookinfo; oc label namespace bookinfo istio-injection=enabled
	appNamespace(t, c, "bookinfo", map[string]string{"istio-injection": "enabled"})

	istioHealthy(t, c, "default")
	agentHealthy(t, c, &v1.IstioCNI{})
	// oc apply -f bookinfo.yaml -n bookinfo
	pods := deployBookinfo(t, c, "bookinfo")
	assertSidecars(t, pods, "default", "proxyv2:1.24.3")
	// oc get istio -n istio-system: IN USE is 1, "because both the namespace label and the injected
	// proxies reference the IstioRevision resource".
	rows(t, "istios", []string{"default", "1", "1", "1", "default", "Healthy", "v1.24.3"})
	waitFor(t, "the revision to count Bookinfo's namespace and pods", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "default", "Referenced by 1 namespace (bookinfo) and 6 pods")
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
	// oc get istio
	rows(t, "istios", []string{"default", "1", "1", "1", "default", "Healthy", "v1.24.4"})
	istiodPods(t, c, "istio-system", "default")
	// The workloads keep their proxies until they are restarted.
	assertSidecars(t, assertSamePods(t, c, "bookinfo", pods), "default", "proxyv2:1.24.3")

	// oc rollout restart deployment -n bookinfo; istioctl proxy-status: VERSION 1.24.4.
	pods = rolloutRestart(t, c, "bookinfo")
	assertSidecars(t, pods, "default", "proxyv2:1.24.4")

	// Chapter 4: oc patch istiocni default -n istio-cni --type='merge' -p '{"spec":{"version":"v1.24.4"}}'
	ds := daemonSetImage(t, c, "istio-cni", "istio-cni-node", ":1.24.3")
	oldCNIGeneration := ds.Generation
	sawRolling := watchAgentReady(t, &v1.IstioCNIList{}, v1.ReasonDaemonSetRollingOut)
	mergePatch(t, c, &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	// oc wait --for=condition=Ready istiocnis/default --timeout=5m
	agentHealthy(t, c, &v1.IstioCNI{})
	ds = daemonSetImage(t, c, "istio-cni", "istio-cni-node", ":1.24.4")
	if ds.Generation == oldCNIGeneration {
		t.Error("the istio-cni-node DaemonSet's template did not change")
	}
	if s := ds.Status; s.ObservedGeneration != ds.Generation || s.UpdatedNumberScheduled != s.DesiredNumberScheduled || s.NumberReady != s.DesiredNumberScheduled || s.DesiredNumberScheduled == 0 {
		t.Errorf("IstioCNI Ready while istio-cni-node has not rolled out: generation %d, status %+v", ds.Generation, s)
	}
	if !sawRolling() {
		t.Error("Ready never turned False (DaemonSetRollingOut) while istio-cni-node rolled out")
	}
	// oc get istiocni default: NAME READY STATUS VERSION
	rows(t, "istiocnis", []string{"default", "True", "Healthy", "v1.24.4"})
	// oc get pods -n istio-cni: every istio-cni-node pod runs the new image.
	waitFor(t, "the istio-cni-node pods to run the new image", func(ctx context.Context) error {
		return podsRun(ctx, c, "istio-cni", ":1.24.4")
	})
	assertSidecars(t, assertSamePods(t, c, "bookinfo", pods), "default", "proxyv2:1.24.4")

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
