//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestRevisionBasedUpdateWithDefaultTag follows "Installing Istio with RevisionBased strategy and
// IstioRevisionTag" and "Updating Istio control plane with RevisionBased strategy and
// IstioRevisionTag" (updating chapter, §2.3.4–2.3.5), from the documents' own manifest, with Bookinfo
// in the namespace bookinfo labelled istio-injection=enabled:
//   - the tag named default makes the namespace use the active revision (docs/architecture.md#lesson-default-tag:
//     istio-injection=enabled works with RevisionBased through it): Bookinfo's pods are injected
//     by istiod-default-v1-24-3 through the tag's webhook, with the 1.24.3 proxy; what the operator
//     applies for the tag is what bosun render prints; `oc get istiorevisiontag` shows "default
//     Healthy True default-v1-24-3";
//   - after the version patch the tag moves to the new revision (its webhook updated in place, never
//     deleted; docs/architecture.md#lesson-follow-the-spec: without any change of the tag's own), both revisions are Ready and in
//     use, two istiod pods run, and the pods keep their 1.24.3 proxies;
//   - after `oc rollout restart` (no relabelling: that is what the tag is for) every pod carries the
//     new revision's 1.24.4 proxy, and the old revision is pruned with its istiod.
func TestRevisionBasedUpdateWithDefaultTag(t *testing.T) {
	c := newClient(t)
	installBosun(t, c)
	ctx := t.Context()
	example := docExample(t, "03-revisionbased-istio-with-tag.yaml")
	printed := renderExample(t, example)

	// oc create ns istio-system
	ensureNamespace(t, c, "istio-system")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, c, string(data))
	t.Cleanup(func() { deleteIstio(t, c, "default") })
	t.Cleanup(func() { deleteTag(t, c, "default") })
	// A short grace period, so that the test sees the old revision go.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"updateStrategy":{"inactiveRevisionDeletionGracePeriodSeconds":5}}}`)
	istioHealthy(t, c, "default")
	tagReconciled(t, c, "default", "default-v1-24-3")

	// The operator applied exactly what bosun render prints for the tag: its webhook and, for the tag
	// named default, the default validator.
	owner := render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevisionTag, Name: "default"})
	var want []*unstructured.Unstructured
	for _, obj := range printed {
		if obj.GetLabels()[render.LabelOwner] == owner {
			want = append(want, obj)
		}
	}
	if len(want) == 0 {
		t.Fatal("bosun render printed no object for the tag")
	}
	compareApplied(t, c, want, owner)
	webhookPointsAt(t, c, "istio-revision-tag-default", "istio-system", "istiod-default-v1-24-3")
	validatorPointsAt(t, c, "istiod-default-validator", "istio-system", "istiod-default-v1-24-3")

	// oc create ns bookinfo; oc label namespace bookinfo istio-injection=enabled; oc apply -f
	// bookinfo.yaml -n bookinfo
	appNamespace(t, c, "bookinfo", map[string]string{"istio-injection": "enabled"})
	pods := deployBookinfo(t, c, "bookinfo")
	assertSidecars(t, pods, "default-v1-24-3", "proxyv2:1.24.3")
	// oc get istiorevisiontag: NAME STATUS IN USE REVISION. IN USE is True "because both active
	// workloads and the bookinfo namespace now reference the tag".
	tagRow(t, "default", "Healthy", "True", "default-v1-24-3")
	rows(t, "istiorevisions", []string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"})

	deleted := watchDeletions(t, "istio-revision-tag-default")
	// oc patch istio default --type='merge' -p '{"spec":{"version":"v1.24.4"}}'
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	istioHealthy(t, c, "default")
	// oc get istio. The document's example row here (IN USE 1, v1.24.3) contradicts its own
	// istiorevision listing that follows (both revisions in use) and the patch it just made: both
	// revisions are in use, the old one by its pods and the new one by the tag.
	rows(t, "istios", []string{"default", "2", "2", "2", "default-v1-24-4", "Healthy", "v1.24.4"})
	// oc get istiorevision
	rows(t, "istiorevisions",
		[]string{"default-v1-24-3", "Local", "True", "Healthy", "True", "v1.24.3"},
		[]string{"default-v1-24-4", "Local", "True", "Healthy", "True", "v1.24.4"})
	// oc get istiorevisiontag
	tagRow(t, "default", "Healthy", "True", "default-v1-24-4")
	// oc get pods -n istio-system
	istiodPods(t, c, "istio-system", "default-v1-24-3", "default-v1-24-4")
	webhookPointsAt(t, c, "istio-revision-tag-default", "istio-system", "istiod-default-v1-24-4")
	validatorPointsAt(t, c, "istiod-default-validator", "istio-system", "istiod-default-v1-24-4")
	if names := deleted(); len(names) > 0 {
		t.Errorf("the tag's webhook was deleted while it moved to the new revision: %v", names)
	}
	// istioctl proxy-status: the sidecars are still the old control plane's, and the old revision
	// stays for them.
	assertSidecars(t, assertSamePods(t, c, "bookinfo", pods), "default-v1-24-3", "proxyv2:1.24.3")
	waitFor(t, "the old revision to be in use by its pods", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "default-v1-24-3", "Referenced by 6 pods")
	})

	// oc rollout restart deployment -n bookinfo; istioctl proxy-status: the new control plane's
	// version.
	pods = rolloutRestart(t, c, "bookinfo")
	assertSidecars(t, pods, "default-v1-24-4", "proxyv2:1.24.4")
	// Verification: the old revision and its istiod are deleted after the grace period.
	waitFor(t, "the old revision to be pruned", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: "default-v1-24-3"}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	istiodPods(t, c, "istio-system", "default-v1-24-4")
	rows(t, "istios", []string{"default", "1", "1", "1", "default-v1-24-4", "Healthy", "v1.24.4"})
	rows(t, "istiorevisions", []string{"default-v1-24-4", "Local", "True", "Healthy", "True", "v1.24.4"})
	tagRow(t, "default", "Healthy", "True", "default-v1-24-4")
	waitFor(t, "the new revision to count Bookinfo's pods", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "default-v1-24-4", "Referenced by 1 namespace (bookinfo), 6 pods and IstioRevisionTag default")
	})
	if err := c.Get(ctx, client.ObjectKey{Name: "default-v1-24-3"}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old revision: %v", err)
	}
}

// TestTagWaitsForTheNewRevision: a tag that follows an Istio moves to the Istio's new revision only
// once its istiod is ready; until then its webhook keeps calling the old istiod, which serves, so
// workloads that use the tag can always be injected. Here the new istiod cannot be scheduled until
// its values are fixed. The old revision stays in use while the tag points at it, and is pruned once
// the tag has moved.
func TestTagWaitsForTheNewRevision(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	ensureNamespace(t, c, "tag-h")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: hold
spec:
  namespace: tag-h
  version: v1.24.3
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriodSeconds: 2`)
	t.Cleanup(func() { deleteIstio(t, c, "hold") })
	istioHealthy(t, c, "hold")
	applyTag(t, c, "held", v1.KindIstio, "hold")
	tagReconciled(t, c, "held", "hold-v1-24-3")

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "hold"}}, `{"spec":{"version":"v1.24.4","values":{"pilot":{"nodeSelector":{"bosun.dev/test":"no-such-node"}}}}}`)
	waitFor(t, "the tag to wait for the new revision", func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: "held"}, tag); err != nil {
			return err
		}
		cond, err := condition(tag.Status.Conditions, v1.ConditionReconciled)
		if err != nil || !strings.Contains(cond.Message, "moves to IstioRevision hold-v1-24-4 once") {
			return fmt.Errorf("Reconciled %+v (%v), istioRevision %s", cond, err, tag.Status.IstioRevision)
		}
		if err := c.Get(ctx, client.ObjectKey{Name: "hold-v1-24-4"}, &v1.IstioRevision{}); err != nil {
			return fmt.Errorf("the new revision: %w", err)
		}
		return nil
	})
	tag := &v1.IstioRevisionTag{}
	if err := c.Get(ctx, client.ObjectKey{Name: "held"}, tag); err != nil {
		t.Fatal(err)
	}
	if tag.Status.IstioRevision != "hold-v1-24-3" {
		t.Errorf("the tag points at %s, whose istiod is not ready", tag.Status.IstioRevision)
	}
	webhookPointsAt(t, c, "istio-revision-tag-held-tag-h", "tag-h", "istiod-hold-v1-24-3")
	// The old revision, which no pod uses, stays in use while the tag points at it, so it is not pruned
	// from under the tag.
	waitFor(t, "the old revision to be in use by the tag", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "hold-v1-24-3", "IstioRevisionTag held")
	})

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "hold"}}, `{"spec":{"values":{"pilot":{"nodeSelector":null}}}}`)
	tagReconciled(t, c, "held", "hold-v1-24-4")
	webhookPointsAt(t, c, "istio-revision-tag-held-tag-h", "tag-h", "istiod-hold-v1-24-4")
	// Once the tag has moved, nothing uses the old revision: it is pruned after the grace period.
	waitFor(t, "the old revision to be pruned", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: "hold-v1-24-3"}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}

// TestTagRetargeting: a tag re-targeted from one Istio to another in the same namespace has its
// webhook updated in place (a watch sees no deletion); re-targeted to an IstioRevision in another
// namespace, its new webhook exists before the old one is removed, and nothing is left in the old
// namespace. Deleting the tag removes its webhook and leaves the revision.
func TestTagRetargeting(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	installIstio(t, c, "blue", "tag-a", v1243)
	installIstio(t, c, "green", "tag-a", v1243)
	installIstio(t, c, "red", "tag-b", v1243)

	applyTag(t, c, "canary", v1.KindIstio, "blue")
	tagReconciled(t, c, "canary", "blue")
	webhookPointsAt(t, c, "istio-revision-tag-canary-tag-a", "tag-a", "istiod-blue")

	deleted := watchDeletions(t, "istio-revision-tag-canary-tag-a")
	mergePatch(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}, `{"spec":{"targetRef":{"kind":"Istio","name":"green"}}}`)
	tagReconciled(t, c, "canary", "green")
	webhookPointsAt(t, c, "istio-revision-tag-canary-tag-a", "tag-a", "istiod-green")
	if names := deleted(); len(names) > 0 {
		t.Errorf("the tag's webhook was deleted while it moved within its namespace, leaving injection without a target: %v", names)
	}

	// From an Istio to an IstioRevision in another namespace.
	order := watchTagWebhooks(t, "canary")
	mergePatch(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}, `{"spec":{"targetRef":{"kind":"IstioRevision","name":"red"}}}`)
	tagReconciled(t, c, "canary", "red")
	webhookPointsAt(t, c, "istio-revision-tag-canary-tag-b", "tag-b", "istiod-red")
	waitFor(t, "the old namespace's webhook to be removed", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: "istio-revision-tag-canary-tag-a"}, &admissionv1.MutatingWebhookConfiguration{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	events := order()
	added := slices.Index(events, "ADDED istio-revision-tag-canary-tag-b")
	removed := slices.Index(events, "DELETED istio-revision-tag-canary-tag-a")
	if added < 0 || removed < 0 || added > removed {
		t.Errorf("the new webhook must exist before the old one goes; events: %v", events)
	}
	tag := &v1.IstioRevisionTag{}
	if err := c.Get(ctx, client.ObjectKey{Name: "canary"}, tag); err != nil {
		t.Fatal(err)
	}
	if tag.Status.IstiodNamespace != "tag-b" {
		t.Errorf("istiodNamespace %q, want tag-b", tag.Status.IstiodNamespace)
	}
	for _, obj := range liveObjects(t, c, render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevisionTag, Name: "canary"})) {
		if obj.GetNamespace() == "tag-a" {
			t.Errorf("%s left in the old namespace", key(obj))
		}
	}

	// Deleting the tag removes its webhook and leaves the revision.
	deleteTag(t, c, "canary")
	if err := c.Get(ctx, client.ObjectKey{Name: "istio-revision-tag-canary-tag-b"}, &admissionv1.MutatingWebhookConfiguration{}); !apierrors.IsNotFound(err) {
		t.Errorf("the tag's webhook outlived the tag: %v", err)
	}
	istioHealthy(t, c, "red")
}

// TestTagAndRevisionWithTheSameName: a revision and a tag of one name cannot both act (§2.2 step 2);
// whichever was created first keeps the name, in either order, and the other is refused with
// NameAlreadyExists, a Warning event and nothing applied, until the older one goes.
func TestTagAndRevisionWithTheSameName(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	installIstio(t, c, "named", "tag-c", v1243)

	// The revision first: the tag is refused and the revision untouched. Creation times have whole
	// seconds, and within one second the smaller UID holds the name: create the tag a second later.
	nextSecond(t, c, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "named"}})
	applyTag(t, c, "named", v1.KindIstio, "named")
	tagRefused(t, c, "named", v1.ReasonNameAlreadyExists, "IstioRevision named")
	noTagObjects(t, c, "named")
	istioHealthy(t, c, "named")
	deleteTag(t, c, "named")

	// The tag first: a revision created later with its name is refused until the tag goes.
	applyTag(t, c, "early", v1.KindIstio, "named")
	tagReconciled(t, c, "early", "named")
	named := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "named"}, named); err != nil {
		t.Fatal(err)
	}
	nextSecond(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "early"}})
	early := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "early"}, Spec: *named.Spec.DeepCopy()}
	revName := "early"
	early.Spec.Values.Revision = &revName
	if err := c.Create(ctx, early); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteRevision(t, c, "early") })
	waitFor(t, "the later revision to be refused", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "early"}, rev); err != nil {
			return err
		}
		cond, err := condition(rev.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Reason != v1.ReasonNameAlreadyExists || !strings.Contains(cond.Message, "IstioRevisionTag named early") {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return nil
	})
	waitFor(t, "a Warning event on the refused revision", func(ctx context.Context) error {
		return hasWarning(ctx, c, v1.KindIstioRevision, "early", v1.ReasonNameAlreadyExists)
	})
	if left := liveObjects(t, c, render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: "early"})); len(left) > 0 {
		t.Errorf("objects were applied for the refused revision: %v", left)
	}
	deleteTag(t, c, "early")
	waitFor(t, "the revision to be reconciled once the tag is gone", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "early"}, rev); err != nil {
			return err
		}
		if cond, err := condition(rev.Status.Conditions, v1.ConditionReconciled); err != nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return nil
	})

	// The tag first, then an Istio whose revision would take its name: the Istio is refused and
	// creates no revision, until the tag goes.
	applyTag(t, c, "late", v1.KindIstio, "named")
	tagReconciled(t, c, "late", "named")
	nextSecond(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "late"}})
	applyYAML(t, c, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: late\nspec:\n  namespace: tag-c\n  version: v1.24.3")
	t.Cleanup(func() { deleteIstio(t, c, "late") })
	waitFor(t, "the Istio to be refused", func(ctx context.Context) error {
		msg, err := refusalOf(ctx, c, "late")
		if err == nil && !strings.Contains(msg, "IstioRevisionTag named late") {
			return fmt.Errorf("message %q", msg)
		}
		return err
	})
	warning(t, c, "late", v1.ReasonNameAlreadyExists)
	if err := c.Get(ctx, client.ObjectKey{Name: "late"}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused Istio created its revision: %v", err)
	}
	deleteTag(t, c, "late")
	waitFor(t, "the Istio to create its revision once the tag is gone", func(ctx context.Context) error {
		return c.Get(ctx, client.ObjectKey{Name: "late"}, &v1.IstioRevision{})
	})
	noRetryStorm(t, "istiorevisiontag")
}

// TestDefaultTagBesideTheDefaultRevision: the revision named default (an InPlace Istio named default)
// and a tag named default would both install the default validator; the tag, created later, is
// refused with NameAlreadyExists and the validator stays the revision's (§2.10).
func TestDefaultTagBesideTheDefaultRevision(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "default", "istio-system", v1243)
	validatorPointsAt(t, c, "istiod-default-validator", "istio-system", "istiod")
	nextSecond(t, c, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default"}})

	applyTag(t, c, "default", v1.KindIstio, "default")
	tagRefused(t, c, "default", v1.ReasonNameAlreadyExists, "an IstioRevision named default already exists")
	waitFor(t, "a Warning event on the tag", func(ctx context.Context) error {
		return hasWarning(ctx, c, v1.KindIstioRevisionTag, "default", v1.ReasonNameAlreadyExists)
	})
	noTagObjects(t, c, "default")
	vwc := &admissionv1.ValidatingWebhookConfiguration{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "istiod-default-validator"}, vwc); err != nil {
		t.Fatal(err)
	}
	if owner := vwc.Labels[render.LabelOwner]; owner != "IstioRevision.default" {
		t.Errorf("the default validator belongs to %q, want the revision named default", owner)
	}
	validatorPointsAt(t, c, "istiod-default-validator", "istio-system", "istiod")
	istioHealthy(t, c, "default")
}

// TestTagBadInput: a tag pointing at nothing, or at a remote revision, is refused with a condition that
// says what to change, a Warning event, nothing applied and no retries; the tag pointing at nothing
// goes on as soon as its target is created.
func TestTagBadInput(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()

	applyTag(t, c, "orphan", v1.KindIstio, "nowhere")
	tagRefused(t, c, "orphan", v1.ReasonRefNotFound, "Istio nowhere, which does not exist")
	waitFor(t, "a Warning event on the tag", func(ctx context.Context) error {
		return hasWarning(ctx, c, v1.KindIstioRevisionTag, "orphan", v1.ReasonRefNotFound)
	})
	noTagObjects(t, c, "orphan")

	// A remote revision (its namespace does not exist either: it is never installed).
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioRevision
metadata:
  name: far
spec:
  namespace: tag-nowhere
  version: v1.24.3
  values:
    profile: remote
    revision: far
    global:
      istioNamespace: tag-nowhere`)
	t.Cleanup(func() { deleteRevision(t, c, "far") })
	// Let the revision's own refusal (its namespace is missing) be written first: a change of its status
	// wakes the tags that point at it, which would be one more reconcile, not a retry.
	waitFor(t, "revision far to be refused", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "far"}, rev); err != nil {
			return err
		}
		if !meta.IsStatusConditionFalse(rev.Status.Conditions, v1.ConditionReconciled) {
			return fmt.Errorf("conditions %+v", rev.Status.Conditions)
		}
		return nil
	})
	applyTag(t, c, "remote", v1.KindIstioRevision, "far")
	tagRefused(t, c, "remote", v1.ReasonReconcileError, "remote revision")
	waitFor(t, "a Warning event on the tag", func(ctx context.Context) error {
		return hasWarning(ctx, c, v1.KindIstioRevisionTag, "remote", v1.ReasonReconcileError)
	})
	noTagObjects(t, c, "remote")
	noRetryStorm(t, "istiorevisiontag")

	// The missing target appears: the tag is installed.
	installIstio(t, c, "nowhere", "tag-d", v1243)
	tagReconciled(t, c, "orphan", "nowhere")
	webhookPointsAt(t, c, "istio-revision-tag-orphan-tag-d", "tag-d", "istiod-nowhere")
	if err := c.Get(ctx, client.ObjectKey{Name: "orphan"}, &v1.IstioRevisionTag{}); err != nil {
		t.Fatal(err)
	}
}

// nextSecond waits until the clock (the API server's: they share the machine) is in a later second than
// obj's creation time, so that what is created next is younger by its creation time.
func nextSecond(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	created := obj.GetCreationTimestamp().Time
	waitFor(t, "a second after "+obj.GetName()+"'s creation", func(context.Context) error {
		if now := time.Now(); now.Truncate(time.Second).After(created) {
			return nil
		}
		return fmt.Errorf("still the second of %s", created)
	})
}

// applyTag creates or updates a tag pointing at kind/name, and deletes it when the test ends (while
// the operator still runs).
func applyTag(t *testing.T, c client.Client, name, kind, target string) {
	t.Helper()
	applyYAML(t, c, fmt.Sprintf("apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: %s\nspec:\n  targetRef:\n    kind: %s\n    name: %s", name, kind, target))
	t.Cleanup(func() { deleteTag(t, c, name) })
}

// deleteTag deletes a tag and waits until it is gone, with its objects.
func deleteTag(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Delete(context.Background(), &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting IstioRevisionTag %s: %v", name, err)
		return
	}
	waitFor(t, "IstioRevisionTag "+name+" to be gone", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: name}, &v1.IstioRevisionTag{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	noTagObjects(t, c, name)
}

// deleteRevision deletes an IstioRevision made by hand and waits until it is gone.
func deleteRevision(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Delete(context.Background(), &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting IstioRevision %s: %v", name, err)
		return
	}
	waitFor(t, "IstioRevision "+name+" to be gone", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: name}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}

// tagReconciled waits until a tag has reconciled its latest generation and its webhook points at rev.
func tagReconciled(t *testing.T, c client.Client, name, rev string) {
	t.Helper()
	waitFor(t, "IstioRevisionTag "+name+" to point at "+rev, func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, tag); err != nil {
			return err
		}
		cond, err := condition(tag.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Status != metav1.ConditionTrue || tag.Status.ObservedGeneration != tag.Generation || tag.Status.IstioRevision != rev {
			return fmt.Errorf("status %+v (%v)", tag.Status, err)
		}
		return nil
	})
}

// tagRefused waits until a tag's Reconciled condition is False with reason and a message containing
// want.
func tagRefused(t *testing.T, c client.Client, name, reason, want string) {
	t.Helper()
	waitFor(t, "IstioRevisionTag "+name+" to be refused with "+reason, func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, tag); err != nil {
			return err
		}
		cond, err := condition(tag.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Status != metav1.ConditionFalse || cond.Reason != reason || !strings.Contains(cond.Message, want) {
			return fmt.Errorf("Reconciled %+v (%v)", cond, err)
		}
		if tag.Status.State != reason {
			return fmt.Errorf("state %q, want %q", tag.Status.State, reason)
		}
		return nil
	})
}

// noTagObjects checks that nothing is applied for a tag.
func noTagObjects(t *testing.T, c client.Client, name string) {
	t.Helper()
	if left := liveObjectsCtx(t, context.Background(), c, render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevisionTag, Name: name})); len(left) > 0 {
		var keys []string
		for k := range left {
			keys = append(keys, k)
		}
		t.Errorf("objects of IstioRevisionTag %s: %v", name, keys)
	}
}

// tagRow waits until kubectl get istiorevisiontag shows the tag's row as want (NAME STATUS IN USE
// REVISION).
func tagRow(t *testing.T, name string, want ...string) {
	t.Helper()
	want = append([]string{name}, want...)
	waitFor(t, "kubectl get istiorevisiontag to show "+strings.Join(want, " "), func(context.Context) error {
		if got := row(table(t, "istiorevisiontags"), name); !slices.Equal(got, want) {
			return fmt.Errorf("row %q, want %q", got, want)
		}
		return nil
	})
}

// webhookPointsAt waits until every webhook of a MutatingWebhookConfiguration calls service
// namespace/service.
func webhookPointsAt(t *testing.T, c client.Client, name, namespace, service string) {
	t.Helper()
	waitFor(t, "webhook "+name+" to call "+namespace+"/"+service, func(ctx context.Context) error {
		mwc := &admissionv1.MutatingWebhookConfiguration{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, mwc); err != nil {
			return err
		}
		return callsService(mwc.Name, len(mwc.Webhooks), func(i int) admissionv1.WebhookClientConfig { return mwc.Webhooks[i].ClientConfig }, namespace, service)
	})
}

// validatorPointsAt waits until every webhook of a ValidatingWebhookConfiguration calls service
// namespace/service.
func validatorPointsAt(t *testing.T, c client.Client, name, namespace, service string) {
	t.Helper()
	waitFor(t, "validator "+name+" to call "+namespace+"/"+service, func(ctx context.Context) error {
		vwc := &admissionv1.ValidatingWebhookConfiguration{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, vwc); err != nil {
			return err
		}
		return callsService(vwc.Name, len(vwc.Webhooks), func(i int) admissionv1.WebhookClientConfig { return vwc.Webhooks[i].ClientConfig }, namespace, service)
	})
}

func callsService(name string, n int, config func(int) admissionv1.WebhookClientConfig, namespace, service string) error {
	if n == 0 {
		return fmt.Errorf("%s has no webhooks", name)
	}
	for i := range n {
		s := config(i).Service
		if s == nil || s.Namespace != namespace || s.Name != service {
			return fmt.Errorf("%s calls %+v", name, s)
		}
	}
	return nil
}

// watchDeletions watches a MutatingWebhookConfiguration from now on; the returned func lists the
// deletions seen.
func watchDeletions(t *testing.T, name string) func() []string {
	t.Helper()
	w, err := newWatchClient(t).Watch(t.Context(), &admissionv1.MutatingWebhookConfigurationList{}, client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, w, func(ev watch.Event) bool { return ev.Type == watch.Deleted })
}

// watchTagWebhooks watches the MutatingWebhookConfigurations of a tag from now on; the returned func
// lists the additions and deletions seen, in order, as "ADDED <name>" and "DELETED <name>".
func watchTagWebhooks(t *testing.T, tag string) func() []string {
	t.Helper()
	w, err := newWatchClient(t).Watch(t.Context(), &admissionv1.MutatingWebhookConfigurationList{}, client.MatchingLabels{"istio.io/tag": tag})
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, w, func(ev watch.Event) bool { return ev.Type == watch.Added || ev.Type == watch.Deleted })
}

// collect records the events of a watch that keep passes, as "<TYPE> <name>", until the test ends.
func collect(t *testing.T, w watch.Interface, keep func(watch.Event) bool) func() []string {
	var mu sync.Mutex
	var seen []string
	go func() {
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(client.Object)
			if !ok || !keep(ev) {
				continue
			}
			mu.Lock()
			seen = append(seen, string(ev.Type)+" "+obj.GetName())
			mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// docExample is the path of an example of the documents in config/crd/testdata/ossm-docs.
func docExample(t *testing.T, name string) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "config", "crd", "testdata", "ossm-docs", name)
}

// renderExample runs bosun render on a manifest file with the test catalog, for this cluster, and
// returns what it prints.
func renderExample(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	bosun := buildBosun(t)
	catalogFile := filepath.Join(t.TempDir(), "versions.yaml")
	if err := os.WriteFile(catalogFile, []byte(catalogYAML(v1244)), 0o644); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeVersion, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bosun, "render", "-f", file, "--versions-file", catalogFile,
		"--resources-dir", resources, "--platform", "kubernetes", "--kube-version", kubeVersion.GitVersion).CombinedOutput()
	if err != nil {
		t.Fatalf("bosun render: %v\n%s", err, out)
	}
	return decodeAll(t, out)
}

// TestConvergedTagWritesNothing: once a tag is applied and its status written, reconciles caused by
// events that change nothing bosun manages (a user's label on the tag's webhook, an annotation on the
// tag, a pod that does not select the tag) make no API write, and a pod churn renders nothing (DESIGN
// decision 4, docs/architecture.md#lesson-metadata-only-pods).
func TestConvergedTagWritesNothing(t *testing.T) {
	c := newClient(t)
	// The counts the test waits for are refreshed every 2 s rather than 30 s.
	startOperatorWith(t, v1244, func(o *operator.Options) { o.InUseRefreshInterval = 2 * time.Second })
	installIstio(t, c, "quiet-tag", "tag-q", v1243)
	applyTag(t, c, "stable", v1.KindIstio, "quiet-tag")
	tagReconciled(t, c, "stable", "quiet-tag")
	tagRow(t, "stable", v1.ReasonNotReferencedByAnything, "False", "quiet-tag")
	writes := waitQuiet(t)
	before := series(t, "bosun_api_writes_total")
	renders := counter(t, "bosun_renders_total", nil)
	reconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevisiontag"})

	mergePatch(t, c, &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-revision-tag-stable-tag-q"}}, `{"metadata":{"labels":{"team":"platform"}}}`)
	mergePatch(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "stable"}}, `{"metadata":{"annotations":{"team":"platform"}}}`)
	waitFor(t, "the tag controller to reconcile", func(context.Context) error {
		if counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevisiontag"}) <= reconciles {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if got := counter(t, "bosun_api_writes_total", nil) - writes; got != 0 {
		t.Errorf("no-op reconciles of a tag sent %v API writes, want 0; writes before %v, after %v", got, before, series(t, "bosun_api_writes_total"))
	}

	// A namespace that selects the tag makes it in use; the pods in it, annotated with the revision
	// that injected them, count for the revision, not for the tag. None of it renders or applies.
	applied := counter(t, "bosun_applied_objects_total", nil)
	appNamespace(t, c, "tag-q-apps", map[string]string{"istio.io/rev": "stable"})
	pods := workloadPods(t, c, "tag-q-apps", "app", "quiet-tag", 20)
	t.Cleanup(func() { deletePods(t, c, "tag-q-apps", pods) })
	waitFor(t, "the revision to count the pods", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "quiet-tag", "20 pods")
	})
	waitFor(t, "the tag to be in use by the namespace alone", func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: "stable"}, tag); err != nil {
			return err
		}
		cond, err := condition(tag.Status.Conditions, v1.ConditionInUse)
		if err != nil || cond.Status != metav1.ConditionTrue || cond.Message != "Referenced by 1 namespace (tag-q-apps)" {
			return fmt.Errorf("InUse %+v %v", cond, err)
		}
		return nil
	})
	tagRow(t, "stable", "Healthy", "True", "quiet-tag")
	if got := counter(t, "bosun_renders_total", nil) - renders; got != 0 {
		t.Errorf("namespaces and pods caused %v renders, want 0", got)
	}
	if got := counter(t, "bosun_applied_objects_total", nil) - applied; got != 0 {
		t.Errorf("namespaces and pods caused %v applied objects, want 0", got)
	}
}
