//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/operator"
)

// TestInPlaceRefusesSkippingMinorVersions: an InPlace Istio on 1.24 asked for 1.27 is refused with a
// condition naming the versions it may move to next, and its revision is left as it was; the
// documented annotation lets an operator of the cluster skip on purpose.
func TestInPlaceRefusesSkippingMinorVersions(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	installIstio(t, c, "skip", "istio-skip", v1243)
	before := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "skip"}, before); err != nil {
		t.Fatal(err)
	}

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "skip"}}, `{"spec":{"version":"`+v127+`"}}`)
	var msg string
	waitFor(t, "the version change to be refused", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: "skip"}, istio); err != nil {
			return err
		}
		cond, err := condition(istio.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Status != metav1.ConditionFalse || cond.Reason != v1.ReasonVersionChangeNotAllowed {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		msg = cond.Message
		return nil
	})
	for _, want := range []string{"v1.24.3", v127, "one minor version at a time", "bosun.dev/allow-minor-version-skip"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal %q does not mention %q", msg, want)
		}
	}
	warning(t, c, "skip", v1.ReasonVersionChangeNotAllowed)
	after := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "skip"}, after); err != nil {
		t.Fatal(err)
	}
	if after.Spec.Version != v1243 || after.Generation != before.Generation {
		t.Errorf("the refused change touched the revision: version %s, generation %d (was %d)", after.Spec.Version, after.Generation, before.Generation)
	}
	noRetryStorm(t, "istio")

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "skip"}}, `{"metadata":{"annotations":{"bosun.dev/allow-minor-version-skip":"true"}}}`)
	istioHealthy(t, c, "skip")
	if err := c.Get(ctx, client.ObjectKey{Name: "skip"}, after); err != nil {
		t.Fatal(err)
	}
	if after.Spec.Version != v127 {
		t.Errorf("with the annotation the revision runs %s, want %s", after.Spec.Version, v127)
	}
}

// TestDriftIsCorrectedAndOthersFieldsKept: a field bosun applies to istiod's Deployment and changed by
// hand is put back; a label someone else added stays; istiod's webhook fields (caBundle, the
// validating failurePolicy) are never overwritten; a deleted object is recreated
// (docs/architecture.md#lesson-istiod-webhook-fields, #lesson-drift-put-back).
func TestDriftIsCorrectedAndOthersFieldsKept(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ctx := t.Context()
	installIstio(t, c, "drift", "istio-drift", v1243)

	// kubectl edit: a changed env value of the discovery container, and a label of the user's.
	deploy := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: "istio-drift", Name: "istiod-drift"}
	if err := c.Get(ctx, key, deploy); err != nil {
		t.Fatal(err)
	}
	env := deploy.Spec.Template.Spec.Containers[0].Env
	var edited string
	for i := range env {
		if env[i].Value != "" && env[i].ValueFrom == nil {
			edited, env[i].Value = env[i].Name, "edited-by-hand"
			break
		}
	}
	deploy.Labels["team"] = "platform"
	if err := c.Update(ctx, deploy, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited env value to be put back", func(ctx context.Context) error {
		if err := c.Get(ctx, key, deploy); err != nil {
			return err
		}
		for _, e := range deploy.Spec.Template.Spec.Containers[0].Env {
			if e.Name == edited && e.Value == "edited-by-hand" {
				return fmt.Errorf("%s is still edited", edited)
			}
		}
		return nil
	})
	if deploy.Labels["team"] != "platform" {
		t.Errorf("the user's label was removed: %v", deploy.Labels)
	}
	istioHealthy(t, c, "drift")

	// A label of the chart's changed by hand is put back without a rollout, and Ready, which the
	// correction must not leave False, stays True.
	mergePatch(t, c, deploy, `{"metadata":{"labels":{"istio":"edited-by-hand"}}}`)
	waitFor(t, "the chart's label to be put back", func(ctx context.Context) error {
		if err := c.Get(ctx, key, deploy); err != nil {
			return err
		}
		if deploy.Labels["istio"] == "edited-by-hand" {
			return fmt.Errorf("still edited")
		}
		return nil
	})
	istioHealthy(t, c, "drift")

	// istiod's own writes: caBundle on both webhook kinds, failurePolicy Fail on the validator. The
	// box's istiod is a real pilot-discovery (docs/istiod-in-the-box.md), which makes them itself.
	owned := client.MatchingLabels{"bosun.dev/owner": "IstioRevision.drift"}
	var mwcs []admissionregistrationv1.MutatingWebhookConfiguration
	var vwcs []admissionregistrationv1.ValidatingWebhookConfiguration
	waitFor(t, "istiod to patch its webhooks", func(ctx context.Context) error {
		var err error
		if mwcs, vwcs, err = istiodWebhooks(ctx, c, owned); err != nil {
			return err
		}
		return patchedByIstiod(mwcs, vwcs)
	})
	m, v := &mwcs[0], &vwcs[0]
	ca := m.Webhooks[0].ClientConfig.CABundle
	fail := admissionregistrationv1.Fail

	// A deleted object is recreated, which also proves the operator reconciled after istiod's writes.
	cm := &corev1.ConfigMapList{}
	if err := c.List(ctx, cm, client.InNamespace("istio-drift"), owned); err != nil || len(cm.Items) == 0 {
		t.Fatalf("ConfigMaps: %d, %v", len(cm.Items), err)
	}
	victim := cm.Items[0]
	if err := c.Delete(ctx, &victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted ConfigMap to be recreated", func(ctx context.Context) error {
		got := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(&victim), got); err != nil {
			return err
		}
		if got.UID == victim.UID {
			return fmt.Errorf("not deleted yet")
		}
		return nil
	})
	if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Webhooks {
		if string(w.ClientConfig.CABundle) != string(ca) {
			t.Errorf("injector webhook %s lost istiod's caBundle", w.Name)
		}
	}
	for _, w := range v.Webhooks {
		if string(w.ClientConfig.CABundle) != string(ca) || w.FailurePolicy == nil || *w.FailurePolicy != fail {
			t.Errorf("validator webhook %s: caBundle %q, failurePolicy %v; want istiod's values", w.Name, w.ClientConfig.CABundle, w.FailurePolicy)
		}
	}
}

// TestPodChurnRendersAndAppliesNothing: once converged, 500 pods coming and going update InUse and
// cause no render and no apply, and reconcile the revision at most once a second to count them
// (docs/architecture.md#lesson-metadata-only-pods). The counts are refreshed every 2 s rather than
// every 30 s (--in-use-refresh-interval), so the test does not wait for the default's refreshes.
func TestPodChurnRendersAndAppliesNothing(t *testing.T) {
	c := newClient(t)
	crdReconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio-crds"})
	startOperatorWith(t, v1244, func(o *operator.Options) { o.InUseRefreshInterval = 2 * time.Second })
	installIstio(t, c, "churn", "istio-churn", v1243)
	appNamespace(t, c, "churn-apps", map[string]string{"istio.io/rev": "churn"})
	// The new operator's first look at Istio's CRDs renders the base chart once; let it happen first.
	waitFor(t, "the operator to check Istio's CRDs", func(context.Context) error {
		if counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio-crds"}) <= crdReconciles {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	renders := counter(t, "bosun_renders_total", nil)
	applies := counter(t, "bosun_applied_objects_total", nil)
	revisionReconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevision"})
	start := time.Now()
	pods := workloadPods(t, c, "churn-apps", "churn", "churn", 500)
	waitFor(t, "the revision to count 500 pods", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "churn", "500 pods")
	})
	deletePods(t, c, "churn-apps", pods)
	waitFor(t, "the revision to be used by the namespace alone again", func(ctx context.Context) error {
		return inUseIs(ctx, c, "churn", "Referenced by 1 namespace (churn-apps)")
	})
	elapsed := time.Since(start)
	if got := counter(t, "bosun_renders_total", nil) - renders; got != 0 {
		t.Errorf("500 pods came and went and bosun rendered %v charts, want 0", got)
	}
	if got := counter(t, "bosun_applied_objects_total", nil) - applies; got != 0 {
		t.Errorf("500 pods came and went and bosun applied %v objects, want 0", got)
	}
	// Pod events reconcile the revision to evaluate its use at most once per EvaluateInterval, however
	// many pods come and go; the revision's own events (the HPA's looks at istiod's Deployment, every 15
	// s) add a few more. A reconcile per pod event would be a thousand.
	allowed := 1.5*float64(elapsed/controller.EvaluateInterval) + 5
	if got := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevision"}) - revisionReconciles; got > allowed {
		t.Errorf("500 pods came and went in %s and the revision controller reconciled %v times, want at most %v: pod events are paced", elapsed.Round(time.Second), got, allowed)
	}
}

// inUseMessage checks that a revision's InUse message contains want.
func inUseMessage(ctx context.Context, c client.Client, rev, want string) error {
	r := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: rev}, r); err != nil {
		return err
	}
	cond, err := condition(r.Status.Conditions, v1.ConditionInUse)
	if err != nil {
		return err
	}
	if !strings.Contains(cond.Message, want) {
		return fmt.Errorf("InUse message %q", cond.Message)
	}
	return nil
}

// TestRestartWithAMovedAlias: restarted with a catalog in which v1.24-latest moved to a newer
// version, the operator updates an InPlace Istio on the alias, creates a new revision for a
// RevisionBased one, and leaves an Istio on a concrete version alone (updating chapter §1.2.1, §2.1).
func TestRestartWithAMovedAlias(t *testing.T) {
	c := newClient(t)
	stop := startOperator(t, v1243)
	ctx := t.Context()
	ensureNamespace(t, c, "istio-moved")
	for _, m := range []struct{ name, version, strategy string }{
		{"moved-inplace", "v1.24-latest", "InPlace"},
		{"moved-rb", "v1.24-latest", "RevisionBased"},
		{"pinned", "v1.24.3", "InPlace"},
	} {
		applyYAML(t, c, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %s
spec:
  namespace: istio-moved
  version: %s
  updateStrategy:
    type: %s`, m.name, m.version, m.strategy))
		istioHealthy(t, c, m.name)
	}
	pinned := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "pinned"}, pinned); err != nil {
		t.Fatal(err)
	}

	stop()
	startOperator(t, v1244)
	// Registered after the second start, so that they run while it still runs.
	for _, name := range []string{"moved-inplace", "moved-rb", "pinned"} {
		t.Cleanup(func() { deleteIstio(t, c, name) })
	}
	waitFor(t, "the InPlace Istio on the alias to run v1.24.4", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "moved-inplace"}, rev); err != nil {
			return err
		}
		if rev.Spec.Version != v1244 {
			return fmt.Errorf("runs %s", rev.Spec.Version)
		}
		return nil
	})
	waitFor(t, "the RevisionBased Istio on the alias to get revision moved-rb-v1-24-4", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: "moved-rb"}, istio); err != nil {
			return err
		}
		if istio.Status.ActiveRevisionName != "moved-rb-v1-24-4" {
			return fmt.Errorf("active revision %q", istio.Status.ActiveRevisionName)
		}
		return c.Get(ctx, client.ObjectKey{Name: "moved-rb-v1-24-4"}, &v1.IstioRevision{})
	})
	istioHealthy(t, c, "moved-rb")
	istioHealthy(t, c, "pinned")
	after := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: "pinned"}, after); err != nil {
		t.Fatal(err)
	}
	if after.Spec.Version != v1243 || after.Generation != pinned.Generation {
		t.Errorf("the Istio on v1.24.3 was changed: version %s, generation %d (was %d)", after.Spec.Version, after.Generation, pinned.Generation)
	}
}

// TestBadInputIsRefusedClearly: a version the operator's catalog does not know is refused when it is
// applied, with the known versions listed; what else bosun cannot install ends in a condition that
// says what to change, a Warning event, nothing applied, and no retries.
func TestBadInputIsRefusedClearly(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-bad")

	waitFor(t, "an unknown version to be refused by kubectl apply", func(ctx context.Context) error {
		err := applyErr(ctx, c, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: unknown-version\nspec:\n  version: v1.26.0\n  namespace: istio-bad")
		if err == nil {
			deleteIstio(t, c, "unknown-version")
			return fmt.Errorf("accepted")
		}
		for _, want := range []string{`"v1.26.0"`, "v1.24-latest", v1244, v127} {
			if !strings.Contains(err.Error(), want) {
				return fmt.Errorf("the refusal %q does not mention %q", err, want)
			}
		}
		return nil
	})
	cases := []struct {
		name, spec string
		want       []string
	}{
		{"end-of-life", "version: v1.23.0", []string{"end of life", "v1.24-latest"}},
		{"missing-profile", "version: v1.24.3\n  profile: external", []string{"external", "spec.profile", "ambient"}},
		{"no-namespace", "version: v1.24.3\n  namespace: does-not-exist", []string{"does-not-exist", "does not exist", "kubectl create namespace"}},
		{"unrenderable", "version: v1.24.3\n  values:\n    compatibilityVersion: \"1.10\"", []string{"compatibility version"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if !strings.Contains(spec, "namespace:") {
				spec += "\n  namespace: istio-bad"
			}
			applyYAML(t, c, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+spec)
			t.Cleanup(func() { deleteIstio(t, c, tc.name) })
			var msg string
			waitFor(t, "a refusal", func(ctx context.Context) error {
				var err error
				msg, err = refusalOf(ctx, c, tc.name)
				return err
			})
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the message %q does not mention %q", msg, w)
				}
			}
			kind, name := "Istio", tc.name
			if tc.name == "no-namespace" || tc.name == "unrenderable" {
				kind = "IstioRevision"
			}
			warningOn(t, c, kind, name)
			left, err := ownedObjects(t.Context(), c, "IstioRevision."+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("objects were applied for a refused Istio: %v", left)
			}
		})
	}
	noRetryStorm(t, "istio")
	noRetryStorm(t, "istiorevision")
}

// refusalOf returns the message of a refusal on the Istio or its revision: a Reconciled condition that
// is False.
func refusalOf(ctx context.Context, c client.Client, name string) (string, error) {
	istio := &v1.Istio{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
		return "", err
	}
	cond, err := condition(istio.Status.Conditions, v1.ConditionReconciled)
	if err == nil && cond.Status == metav1.ConditionFalse {
		return cond.Message, nil
	}
	return "", fmt.Errorf("Reconciled is %+v (%v)", cond, err)
}

// warning checks that a Warning event with reason was recorded for an Istio.
func warning(t *testing.T, c client.Client, istio, reason string) {
	t.Helper()
	waitFor(t, "a Warning event "+reason+" on Istio "+istio, func(ctx context.Context) error {
		return hasWarning(ctx, c, "Istio", istio, reason)
	})
}

// warningOn checks that some Warning event was recorded for an object.
func warningOn(t *testing.T, c client.Client, kind, name string) {
	t.Helper()
	waitFor(t, "a Warning event on "+kind+" "+name, func(ctx context.Context) error {
		return hasWarning(ctx, c, kind, name, "")
	})
}

func hasWarning(ctx context.Context, c client.Client, kind, name, reason string) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Type == corev1.EventTypeWarning && (reason == "" || e.Reason == reason) {
			return nil
		}
	}
	return fmt.Errorf("no Warning event among %d", len(list.Items))
}

// noRetryStorm checks that a controller does not keep reconciling a refusal: a refusal is a condition,
// not an error, so nothing retries it. Over two seconds the controller's reconciles grow by at most two
// (an event of a related object, a revision's status say, may still reconcile a refused resource once
// more, and refuse it again), and none ends in an error. Retries would back off from 5 ms and double:
// eight or more in two seconds.
func noRetryStorm(t *testing.T, controller string) {
	t.Helper()
	const allowed = 2
	all := map[string]string{"controller": controller}
	errs := map[string]string{"controller": controller, "result": "error"}
	before, errorsBefore := counter(t, "controller_runtime_reconcile_total", all), counter(t, "controller_runtime_reconcile_total", errs)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if now := counter(t, "controller_runtime_reconcile_total", all); now-before > allowed {
			t.Errorf("controller %s reconciled %v times more within two seconds", controller, now-before)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := counter(t, "controller_runtime_reconcile_total", errs) - errorsBefore; got != 0 {
		t.Errorf("controller %s ended %v reconciles in an error: a refusal is not an error", controller, got)
	}
}

// TestConvergedOperatorWritesNothing: once an Istio is installed, reconciles caused by events that
// change nothing bosun manages (a user's label on a ConfigMap bosun applied, an annotation on the
// Istio) make no API write at all (DESIGN decision 4, docs/architecture.md#lesson-istiod-webhook-fields, #lesson-converged-writes-nothing, #lesson-write-status-only-on-change).
func TestConvergedOperatorWritesNothing(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "quiet", "istio-quiet", v1243)
	waitFor(t, "the revision's InUse to be known", func(ctx context.Context) error {
		return inUseMessage(ctx, c, "quiet", "Not referenced")
	})
	writes := waitQuiet(t)
	before := series(t, "bosun_api_writes_total")
	reconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevision"})
	istioReconciles := counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"})

	// A Deployment's generation moves with its annotations, which would make istiod roll; a label of the
	// user's on a ConfigMap bosun applied changes nothing bosun cares about.
	mergePatch(t, c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-quiet", Name: "istio-quiet"}}, `{"metadata":{"labels":{"team":"platform"}}}`)
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}}, `{"metadata":{"annotations":{"team":"platform"}}}`)
	waitFor(t, "both controllers to reconcile", func(context.Context) error {
		if counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istiorevision"}) <= reconciles ||
			counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"}) <= istioReconciles {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if got := counter(t, "bosun_api_writes_total", nil) - writes; got != 0 {
		t.Errorf("no-op reconciles sent %v API writes, want 0; writes before %v, after %v", got, before, series(t, "bosun_api_writes_total"))
	}
}

// TestNamespaceCreatedLater: an Istio whose namespace does not exist waits with a clear condition and
// no retries, and is installed as soon as the namespace is created.
func TestNamespaceCreatedLater(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: late
spec:
  namespace: istio-late
  version: v1.24.3`)
	t.Cleanup(func() { deleteIstio(t, c, "late") })
	waitFor(t, "the revision to wait for its namespace", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "late"}, rev); err != nil {
			return err
		}
		cond, err := condition(rev.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Reason != v1.ReasonNamespaceNotFound || !strings.Contains(cond.Message, "kubectl create namespace istio-late") {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return nil
	})
	noRetryStorm(t, "istiorevision")
	ensureNamespace(t, c, "istio-late")
	istioHealthy(t, c, "late")
}

// TestObjectsOfAnotherInstaller: an object the charts render that another installer created (here
// Helm's istiod ServiceAccount) is not taken silently: the revision says whose it is and nothing is
// applied; an operator told it may take Helm's objects over does, and Helm's leftovers go.
func TestObjectsOfAnotherInstaller(t *testing.T) {
	c := newClient(t)
	ensureNamespace(t, c, "istio-helm")
	helmSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: "istiod-helm", Namespace: "istio-helm",
		Annotations: map[string]string{"meta.helm.sh/release-name": "istiod"},
		Labels:      map[string]string{"app.kubernetes.io/managed-by": "Helm"},
	}}
	if err := c.Create(t.Context(), helmSA, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	stop := startOperator(t, v1244)
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: helm
spec:
  namespace: istio-helm
  version: v1.24.3`)
	waitFor(t, "the revision to refuse Helm's ServiceAccount", func(ctx context.Context) error {
		rev := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "helm"}, rev); err != nil {
			return err
		}
		cond, err := condition(rev.Status.Conditions, v1.ConditionReconciled)
		if err != nil || cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "--adopt-from=helm") {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return nil
	})
	if left, err := ownedObjects(t.Context(), c, "IstioRevision.helm"); err != nil || len(left) > 0 {
		t.Errorf("objects were applied beside Helm's: %v %v", left, err)
	}

	stop()
	startOperator(t, v1244, "helm")
	t.Cleanup(func() { deleteIstio(t, c, "helm") })
	istioHealthy(t, c, "helm")
	sa := &corev1.ServiceAccount{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(helmSA), sa); err != nil {
		t.Fatal(err)
	}
	if sa.Annotations["meta.helm.sh/release-name"] != "" || sa.Labels["app.kubernetes.io/managed-by"] != "bosun" {
		t.Errorf("after the takeover: labels %v, annotations %v; want bosun's and no Helm release", sa.Labels, sa.Annotations)
	}
	for _, m := range sa.ManagedFields {
		if m.Manager == "helm" {
			t.Errorf("Helm still manages fields of the ServiceAccount: %s", m.FieldsV1.Raw)
		}
	}
}

// TestRevisionFinalizerRemovesWhatItApplied: bosun removes what it applied for a revision itself,
// not only through the garbage collector: deleted with the orphan policy, which leaves dependents in
// place, a revision's istiod objects still go, cluster-scoped ones included.
func TestRevisionFinalizerRemovesWhatItApplied(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "fin", "istio-fin", v1243)
	if len(liveObjects(t, c, "IstioRevision.fin")) == 0 {
		t.Fatal("nothing applied for revision fin")
	}
	orphan := client.PropagationPolicy(metav1.DeletePropagationOrphan)
	// Orphaned from its Istio first, so that the Istio does not create it again.
	if err := c.Delete(t.Context(), &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}, orphan); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}, orphan); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revision fin and everything applied for it to be gone", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "fin"}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("IstioRevision fin: %v", err)
		}
		var left []string
		for k := range liveObjects(t, c, "IstioRevision.fin") {
			left = append(left, k)
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %v", left)
		}
		return nil
	})
}
