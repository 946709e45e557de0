//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestRevisionBasedUpdate follows "Installing Istio with RevisionBased strategy" and "Updating Istio
// control plane with RevisionBased strategy" (updating chapter, §2.3.2–2.3.3) with the documents'
// manifest and Bookinfo in the namespace bookinfo labelled istio.io/rev=default-v1-24-3:
//   - `oc get istiorevision` shows default-v1-24-3 not in use, then in use once Bookinfo runs, whose
//     pods istiod's webhook injected from that revision with the 1.24.3 proxy; `oc get istio` shows
//     the documents' row;
//   - after the version patch a second revision runs beside the first (two istiod pods, both revisions
//     Ready, the old one in use) and the pods keep the old revision's proxies;
//   - relabelling the namespace alone moves nothing: the old revision stays in use by its pods;
//   - after `oc rollout restart` every pod carries the new revision's 1.24.4 proxy, and the old
//     revision, now unused, is deleted with its istiod after the grace period and not before.
func TestRevisionBasedUpdate(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	ctx := t.Context()
	const grace = 8

	// oc create ns istio-system
	ensureNamespace(t, c, "istio-system")
	applyExample(t, c, "03-revisionbased-istio.yaml")
	t.Cleanup(func() { deleteIstio(t, c, "default") })
	// A grace period shorter than the documented default of 30 s, so that the test sees the old
	// revision go.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, fmt.Sprintf(`{"spec":{"updateStrategy":{"inactiveRevisionDeletionGracePeriodSeconds":%d}}}`, grace))
	istioHealthy(t, c, "default")
	// oc get istiorevision -n istio-system
	rows(t, "istiorevisions", []string{"default-v1-24-3", "Local", "True", "Healthy", "False", "v1.24.3"})

	// oc create ns bookinfo; oc label namespace bookinfo istio.io/rev=default-v1-24-3; oc apply -f
	// bookinfo.yaml -n bookinfo
	appNamespace(t, c, "bookinfo", map[string]string{"istio.io/rev": "default-v1-24-3"})
	pods := deployBookinfo(t, c, "bookinfo")
	assertSidecars(t, pods, "default-v1-24-3", "proxyv2:1.24.3")
	// oc get istio -n istio-system: IN USE 1 once the application runs.
	rows(t, "istios", []string{"default", "1", "1", "1", "default-v1-24-3", "Healthy", "v1.24.3"})
	rows(t, "istiorevisions", []string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"})

	// oc patch istio default --type='merge' -p '{"spec":{"version":"v1.24.4"}}'
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "default")
	// oc get istio; oc get istiorevision; oc get pods -n istio-system
	rows(t, "istios", []string{"default", "2", "2", "1", "default-v1-24-4", "Healthy", "v1.24.4"})
	rows(t, "istiorevisions",
		[]string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"},
		[]string{"default-v1-24-4", "Local", "True", "Healthy", "False", "v1.24.4"})
	istiodPods(t, c, "istio-system", "default-v1-24-3", "default-v1-24-4")
	// istioctl proxy-status: the sidecars are still those of the old control plane.
	assertSidecars(t, assertSamePods(t, c, "bookinfo", pods), "default-v1-24-3", "proxyv2:1.24.3")

	// oc label namespace bookinfo istio.io/rev=default-v1-24-4 --overwrite
	labelNamespace(t, c, "bookinfo", "istio.io/rev", "default-v1-24-4")
	// The old revision still serves the pods it injected: it stays in use, counted by its pods alone.
	waitFor(t, "the old revision to be in use by its pods alone", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "default-v1-24-3", "Referenced by 6 pods")
	})
	rows(t, "istiorevisions",
		[]string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"},
		[]string{"default-v1-24-4", "Local", "True", "Healthy", "True", "v1.24.4"})
	// oc rollout restart deployment -n bookinfo; istioctl proxy-status: the new control plane's version.
	pods = rolloutRestart(t, c, "bookinfo")
	assertSidecars(t, pods, "default-v1-24-4", "proxyv2:1.24.4")

	// The old revision turns unused, stays for the grace period, and is deleted afterwards.
	var unusedSince time.Time
	waitFor(t, "the old revision to be unused", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "default-v1-24-3"}, rev); err != nil {
			return err
		}
		cond, err := condition(rev.Status.Conditions, v1.ConditionInUse)
		if err != nil || cond.Status != metav1.ConditionFalse {
			return fmt.Errorf("InUse %+v %v", cond, err)
		}
		unusedSince = cond.LastTransitionTime.Time
		return nil
	})
	waitFor(t, "the old revision to be deleted", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: "default-v1-24-3"}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Since(unusedSince) < grace*time.Second {
			return fmt.Errorf("within the grace period (%v)", err)
		}
		return fmt.Errorf("still there %s after it became unused: %v", time.Since(unusedSince).Round(time.Second), err)
	})
	// The transition time has whole seconds; the deletion may not come before it plus the grace.
	if deletedAfter := time.Since(unusedSince); deletedAfter < grace*time.Second {
		t.Errorf("the old revision was deleted %s after it became unused, before the %ds grace period", deletedAfter, grace)
	}
	// Verification: oc get pods -n istio-system; oc get istio; oc get istiorevision.
	istiodPods(t, c, "istio-system", "default-v1-24-4")
	if err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod-default-v1-24-3"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old istiod Deployment: %v, want it removed with its revision", err)
	}
	rows(t, "istios", []string{"default", "1", "1", "1", "default-v1-24-4", "Healthy", "v1.24.4"})
	rows(t, "istiorevisions", []string{"default-v1-24-4", "Local", "True", "Healthy", "True", "v1.24.4"})
	assertSidecars(t, assertSamePods(t, c, "bookinfo", pods), "default-v1-24-4", "proxyv2:1.24.4")
}

// TestRevisionBasedAliasNamesTheResolvedVersion: an Istio on an alias gets a revision named after the
// concrete version the alias resolves to, never the alias (docs/architecture.md#lesson-alias-names-a-revision).
func TestRevisionBasedAliasNamesTheResolvedVersion(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-alias")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: alias
spec:
  namespace: istio-alias
  version: v1.24-latest
  updateStrategy:
    type: RevisionBased`)
	t.Cleanup(func() { deleteIstio(t, c, "alias") })
	istio := istioHealthy(t, c, "alias")
	if istio.Status.ActiveRevisionName != "alias-v1-24-4" {
		t.Errorf("active revision %q, want alias-v1-24-4 (the version v1.24-latest resolves to)", istio.Status.ActiveRevisionName)
	}
	rev := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "alias-v1-24-4"}, rev); err != nil {
		t.Fatal(err)
	}
	if rev.Spec.Version != v1244 {
		t.Errorf("revision version %s, want %s", rev.Spec.Version, v1244)
	}
}

// deleteIstio deletes an Istio and waits until its revisions are gone.
func deleteIstio(t *testing.T, c client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Delete(ctx, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting Istio %s: %v", name, err)
		return
	}
	waitFor(t, "the revisions of Istio "+name+" to be gone", func(ctx context.Context) error {
		var list v1.IstioRevisionList
		if err := c.List(ctx, &list); err != nil {
			return err
		}
		for _, rev := range list.Items {
			for _, ref := range rev.OwnerReferences {
				if ref.Kind == v1.KindIstio && ref.Name == name {
					return fmt.Errorf("IstioRevision %s is still there", rev.Name)
				}
			}
		}
		return nil
	})
}
