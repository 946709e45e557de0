package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestRevisionBasedUpdate follows "Installing Istio with RevisionBased strategy" and "Updating Istio
// control plane with RevisionBased strategy" (updating chapter, §2.3.2–2.3.3): a version change runs a
// second revision beside the first, both Ready, the old one in use; once the namespace is relabelled
// and its pods restarted, the old revision becomes unused and is deleted after the grace period, and
// not before.
func TestRevisionBasedUpdate(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	const grace = 8

	createNamespace(t, c, "istio-system", nil)
	applyYAML(t, c, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  namespace: istio-system
  version: v1.24.3
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriodSeconds: %d`, grace))
	t.Cleanup(func() { deleteIstio(t, c, "default") })

	istioHealthy(t, c, "default")
	// oc get istiorevision: NAME TYPE READY STATUS IN USE VERSION
	waitFor(t, "the first revision to be listed as the documents show", func(context.Context) error {
		want := []string{"default-v1-24-3", "Local", "True", "Healthy", "False", "v1.24.3"}
		if got := row(table(t, "istiorevisions"), "default-v1-24-3"); !slices.Equal(got, want) {
			return fmt.Errorf("row %q, want %q", got, want)
		}
		return nil
	})

	createNamespace(t, c, "bookinfo-rb", nil)
	labelNamespace(t, c, "bookinfo-rb", "istio.io/rev", "default-v1-24-3")
	oldPods := workloadPods(t, c, "bookinfo-rb", "reviews", "default-v1-24-3", 3)
	waitFor(t, "the Istio to count its revision in use", func(context.Context) error {
		want := []string{"default", "1", "1", "1", "default-v1-24-3", "Healthy", "v1.24.3"}
		if got := row(table(t, "istios"), "default"); !slices.Equal(got, want) {
			return fmt.Errorf("row %q, want %q", got, want)
		}
		return nil
	})

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "default")
	waitFor(t, "two revisions, both ready, the old one in use", func(context.Context) error {
		rows := table(t, "istiorevisions")
		wantOld := []string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"}
		wantNew := []string{"default-v1-24-4", "Local", "True", "Healthy", "False", "v1.24.4"}
		if got := row(rows, "default-v1-24-3"); !slices.Equal(got, wantOld) {
			return fmt.Errorf("old revision %q, want %q", got, wantOld)
		}
		if got := row(rows, "default-v1-24-4"); !slices.Equal(got, wantNew) {
			return fmt.Errorf("new revision %q, want %q", got, wantNew)
		}
		want := []string{"default", "2", "2", "1", "default-v1-24-4", "Healthy", "v1.24.4"}
		if got := row(table(t, "istios"), "default"); !slices.Equal(got, want) {
			return fmt.Errorf("istio %q, want %q", got, want)
		}
		return nil
	})
	for _, name := range []string{"istiod-default-v1-24-3", "istiod-default-v1-24-4"} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: name}, &appsv1.Deployment{}); err != nil {
			t.Errorf("istiod Deployment %s: %v", name, err)
		}
	}

	// oc label namespace bookinfo istio.io/rev=default-v1-24-4 --overwrite; oc rollout restart
	labelNamespace(t, c, "bookinfo-rb", "istio.io/rev", "default-v1-24-4")
	deletePods(t, c, "bookinfo-rb", oldPods)
	newPods := workloadPods(t, c, "bookinfo-rb", "reviews-new", "default-v1-24-4", 3)
	t.Cleanup(func() { deletePods(t, c, "bookinfo-rb", newPods) })

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
	waitFor(t, "the old istiod to be removed", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod-default-v1-24-3"}, &appsv1.Deployment{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("istiod-default-v1-24-3: %v", err)
		}
		return nil
	})
	want := []string{"default", "1", "1", "1", "default-v1-24-4", "Healthy", "v1.24.4"}
	waitFor(t, "the Istio to show one revision", func(context.Context) error {
		if got := row(table(t, "istios"), "default"); !slices.Equal(got, want) {
			return fmt.Errorf("row %q, want %q", got, want)
		}
		return nil
	})
}

// TestRevisionBasedAliasNamesTheResolvedVersion: an Istio on an alias gets a revision named after the
// concrete version the alias resolves to, never the alias (field lesson #16).
func TestRevisionBasedAliasNamesTheResolvedVersion(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	createNamespace(t, c, "istio-alias", nil)
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
