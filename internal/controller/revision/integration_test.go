//go:build integration

package revision_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/render"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

const version = "v1.27.0-snapshot.b9159ca3"

// newRevision is the IstioRevision an InPlace Istio of that name would create in namespace, with
// values changed by edit.
func newRevision(t *testing.T, name, namespace string, edit func(*v1.Values)) *v1.IstioRevision {
	t.Helper()
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioSpec{Version: version, Namespace: namespace}}
	rev, refusal := operatortest.Env().RevisionOf(istio)
	if refusal != nil {
		t.Fatal(refusal)
	}
	if edit != nil {
		edit(rev.Spec.Values)
	}
	return rev
}

// revisionStatus waits until the revision's status describes its latest spec and check passes.
func revisionStatus(t *testing.T, c client.Client, name, what string, check func(*v1.IstioRevision) error) *v1.IstioRevision {
	t.Helper()
	rev := &v1.IstioRevision{}
	operatortest.WaitFor(t, "IstioRevision "+name+": "+what, func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, rev); err != nil {
			return err
		}
		if rev.Status.ObservedGeneration != rev.Generation {
			return fmt.Errorf("status of generation %d, spec %d", rev.Status.ObservedGeneration, rev.Generation)
		}
		return check(rev)
	})
	return rev
}

// owned lists the objects of a kind that carry bosun's owner label for the revision.
func owned(ctx context.Context, c client.Client, list client.ObjectList, rev string) error {
	return c.List(ctx, list, client.MatchingLabels{render.LabelOwner: render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: rev})})
}

// TestRevisionLifecycle follows a revision as a user sees it in `kubectl get istiorevision`: applied,
// not ready until istiod rolls out, then Healthy; in use once a namespace selects it and while a pod it
// injected runs; and when deleted, gone with everything it applied. No row printed on the way
// contradicts itself.
func TestRevisionLifecycle(t *testing.T) {
	c := operatortest.Client(t)
	rows := operatortest.Columns(t, "istiorevisions")
	operatortest.Namespace(t, c, "life-system", nil)
	rev := newRevision(t, "life", "life-system", nil)
	operatortest.Create(t, c, rev)

	revisionStatus(t, c, "life", "applied, istiod not rolled out", func(r *v1.IstioRevision) error {
		if err := operatortest.HasCondition(r.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled); err != nil {
			return err
		}
		if err := operatortest.HasCondition(r.Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonIstiodNotReady); err != nil {
			return err
		}
		if err := operatortest.HasCondition(r.Status.Conditions, v1.ConditionInUse, metav1.ConditionFalse, v1.ReasonNotReferencedByAnything); err != nil {
			return err
		}
		if r.Status.State != v1.ReasonIstiodNotReady || r.Status.Type != v1.RevisionTypeLocal {
			return fmt.Errorf("state %q, type %q", r.Status.State, r.Status.Type)
		}
		return nil
	})
	var deployments appsv1.DeploymentList
	if err := owned(t.Context(), c, &deployments, "life"); err != nil || len(deployments.Items) != 1 || deployments.Items[0].Name != "istiod-life" {
		t.Fatalf("the revision's Deployments: %v (%v), want istiod-life", deployments.Items, err)
	}

	operatortest.RollOut(t, c, "life-system", "istiod-life")
	revisionStatus(t, c, "life", "Healthy", func(r *v1.IstioRevision) error {
		if r.Status.State != v1.StateHealthy {
			return fmt.Errorf("state %q", r.Status.State)
		}
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionDependenciesHealthy, metav1.ConditionTrue, v1.ReasonDependenciesHealthy)
	})

	operatortest.Namespace(t, c, "life-app", map[string]string{"istio.io/rev": "life"})
	operatortest.Namespace(t, c, "life-jobs", nil)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "injected", Namespace: "life-jobs",
			Labels:      map[string]string{"sidecar.istio.io/inject": "false"},
			Annotations: map[string]string{"istio.io/rev": "life"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}},
	}
	operatortest.Create(t, c, pod)
	revisionStatus(t, c, "life", "in use by the namespace and the pod", func(r *v1.IstioRevision) error {
		cond, err := operatortest.Condition(r.Status.Conditions, v1.ConditionInUse)
		if err != nil {
			return err
		}
		if want := "Referenced by 1 namespace (life-app) and 1 pod"; cond.Status != metav1.ConditionTrue || cond.Message != want {
			return fmt.Errorf("InUse %s %q, want True %q", cond.Status, cond.Message, want)
		}
		if r.Status.State != v1.StateHealthy {
			return fmt.Errorf("state %q: being used does not make a revision unhealthy", r.Status.State)
		}
		return nil
	})

	operatortest.Delete(t, c, rev)
	operatortest.WaitFor(t, "the revision's objects to be removed", func(ctx context.Context) error {
		var list appsv1.DeploymentList
		if err := owned(ctx, c, &list, "life"); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d Deployments left", len(list.Items))
		}
		return nil
	})
	if rows.Seen("life") < 3 {
		t.Errorf("the columns were checked on %d versions of the row, want every transition", rows.Seen("life"))
	}
}

// TestRevisionWaitsForItsNamespace: a revision whose namespace does not exist is refused with a
// condition and one Warning Event saying what to do, applies nothing, and installs as soon as the
// namespace is created.
func TestRevisionWaitsForItsNamespace(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiorevisions")
	rev := newRevision(t, "later", "later-system", nil)
	operatortest.Create(t, c, rev)
	revisionStatus(t, c, "later", "refused", func(r *v1.IstioRevision) error {
		cond, err := operatortest.Condition(r.Status.Conditions, v1.ConditionReconciled)
		if err != nil {
			return err
		}
		if cond.Reason != v1.ReasonNamespaceNotFound || !strings.Contains(cond.Message, "kubectl create namespace later-system") {
			return fmt.Errorf("Reconciled %s/%s %q", cond.Status, cond.Reason, cond.Message)
		}
		// Nothing runs: Ready says so.
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonIstiodNotReady)
	})
	operatortest.WaitFor(t, "one Warning Event", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, v1.KindIstioRevision, "later")
		if err != nil {
			return err
		}
		if n := count(events, "Warning "+v1.ReasonNamespaceNotFound); n != 1 {
			return fmt.Errorf("%d Warning Events NamespaceNotFound among %v", n, events)
		}
		return nil
	})
	operatortest.Namespace(t, c, "later-system", nil)
	revisionStatus(t, c, "later", "applied", func(r *v1.IstioRevision) error {
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled)
	})
	events, err := operatortest.Events(t.Context(), c, v1.KindIstioRevision, "later")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(events, "Warning "+v1.ReasonNamespaceNotFound); n != 1 {
		t.Errorf("%d Warning Events NamespaceNotFound, want 1: a refusal is reported when it appears, not on every reconcile", n)
	}
}

// TestRevisionAndOlderTagOfItsName: a tag that is older holds the name; the revision is refused until
// the tag goes, and then installs.
func TestRevisionAndOlderTagOfItsName(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiorevisions")
	operatortest.Namespace(t, c, "held-system", nil)
	tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "held"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: "nowhere"}}}
	operatortest.Create(t, c, tag)
	operatortest.NextSecond(t, c, tag)
	operatortest.Create(t, c, newRevision(t, "held", "held-system", nil))
	revisionStatus(t, c, "held", "refused for its name", func(r *v1.IstioRevision) error {
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReconciled, metav1.ConditionFalse, v1.ReasonNameAlreadyExists)
	})
	var deployments appsv1.DeploymentList
	if err := owned(t.Context(), c, &deployments, "held"); err != nil || len(deployments.Items) != 0 {
		t.Fatalf("a refused revision applied %d Deployments (%v)", len(deployments.Items), err)
	}
	operatortest.Delete(t, c, tag)
	revisionStatus(t, c, "held", "applied once the tag is gone", func(r *v1.IstioRevision) error {
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled)
	})
}

// TestRevisionNeedsItsCNI: a revision that uses the Istio CNI plugin reports it missing until an
// IstioCNI runs and is ready.
func TestRevisionNeedsItsCNI(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiorevisions")
	operatortest.Namespace(t, c, "cni-system", nil)
	operatortest.Namespace(t, c, "istio-cni", nil)
	yes := true
	operatortest.Create(t, c, newRevision(t, "needs-cni", "cni-system", func(v *v1.Values) {
		if v.Pilot == nil {
			v.Pilot = &v1.PilotConfig{}
		}
		v.Pilot.Cni = &v1.CNIUsageConfig{Enabled: &yes}
	}))
	operatortest.RollOut(t, c, "cni-system", "istiod-needs-cni")
	revisionStatus(t, c, "needs-cni", "the CNI missing", func(r *v1.IstioRevision) error {
		if r.Status.State != v1.ReasonIstioCNINotFound {
			return fmt.Errorf("state %q", r.Status.State)
		}
		return nil
	})
	operatortest.Create(t, c, &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: "v1.27-latest", Namespace: "istio-cni"}})
	revisionStatus(t, c, "needs-cni", "the CNI not ready", func(r *v1.IstioRevision) error {
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionDependenciesHealthy, metav1.ConditionFalse, v1.ReasonIstioCNINotHealthy)
	})
	operatortest.RollOutDaemonSet(t, c, "istio-cni", "istio-cni-node", 1)
	revisionStatus(t, c, "needs-cni", "Healthy", func(r *v1.IstioRevision) error {
		if r.Status.State != v1.StateHealthy {
			return fmt.Errorf("state %q (%v)", r.Status.State, r.Status.Conditions)
		}
		return nil
	})
}

func count(events []string, want string) int {
	return len(slices.DeleteFunc(slices.Clone(events), func(e string) bool { return e != want }))
}

// TestRemoteRevisionIsReadyOnceItsIstiodReachesIt: a revision of the remote profile runs no istiod
// here. It is Remote and not Ready (RemoteIstiodNotReady, saying what the other cluster's istiod needs)
// until that istiod writes its CA into the injector bosun applied, as it does once it reads this cluster;
// then it is Ready, and bosun keeps the CA istiod wrote.
func TestRemoteRevisionIsReadyOnceItsIstiodReachesIt(t *testing.T) {
	c := operatortest.Client(t)
	ctx := t.Context()
	operatortest.Namespace(t, c, "remote-system", nil)
	address, path := "192.0.2.10", "/inject/cluster/cluster2/net/network1"
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "remote"}, Spec: v1.IstioSpec{Version: version, Namespace: "remote-system", Profile: "remote",
		Values: &v1.Values{Global: &v1.GlobalConfig{RemotePilotAddress: &address}, IstiodRemote: &v1.IstiodRemoteConfig{InjectionPath: &path}}}}
	rev, refusal := operatortest.Env().RevisionOf(istio)
	if refusal != nil {
		t.Fatal(refusal)
	}
	operatortest.Create(t, c, rev)
	revisionStatus(t, c, "remote", "Remote, waiting for its istiod", func(r *v1.IstioRevision) error {
		if r.Status.Type != v1.RevisionTypeRemote {
			return fmt.Errorf("type %q", r.Status.Type)
		}
		if err := operatortest.HasCondition(r.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled); err != nil {
			return err
		}
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonRemoteIstiodNotReady)
	})
	var injectors admissionv1.MutatingWebhookConfigurationList
	if err := owned(ctx, c, &injectors, "remote"); err != nil || len(injectors.Items) != 1 {
		t.Fatalf("the revision's injectors: %d (%v), want one", len(injectors.Items), err)
	}

	// The other cluster's istiod writes its CA into every webhook, with its own field manager.
	mwc := &injectors.Items[0]
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig.CABundle = []byte("-----BEGIN CERTIFICATE-----\nistiod\n-----END CERTIFICATE-----\n")
	}
	if err := c.Update(ctx, mwc, client.FieldOwner("pilot-discovery")); err != nil {
		t.Fatal(err)
	}
	revisionStatus(t, c, "remote", "Ready", func(r *v1.IstioRevision) error {
		return operatortest.HasCondition(r.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReady)
	})
	got := &admissionv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(mwc), got); err != nil || len(got.Webhooks[0].ClientConfig.CABundle) == 0 {
		t.Errorf("the CA istiod wrote is gone (%v)", err)
	}
}
