//go:build integration

package move_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
)

// Nothing plays workloads in these tests: app creates what a Deployment's controller would (a
// ReplicaSet and its pod, injected by a revision), and rollOut replaces the pods and reports the
// rollout as the controller and the kubelet would.

// app creates a Deployment of one replica in namespace, with its ReplicaSet and a pod injected by
// revision rev with proxy version.
func app(t *testing.T, c client.Client, namespace, name, rev, version string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
	}}
	operatortest.Create(t, c, d)
	operatortest.RollOut(t, c, namespace, name)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-1"}, Spec: appsv1.ReplicaSetSpec{
		Selector: d.Spec.Selector, Template: d.Spec.Template,
	}}
	rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: ptr.To(true)}}
	operatortest.Create(t, c, rs)
	pod(t, c, namespace, name+"-1-a", rev, version, labels, &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)})
}

// pod creates a pod injected by revision rev with proxy version, owned by owner (nil: a bare pod).
func pod(t *testing.T, c client.Client, namespace, name, rev, version string, labels map[string]string, owner *metav1.OwnerReference) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels,
		Annotations: map[string]string{"istio.io/rev": rev, "bosun.dev/proxy-version": version}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "istio-proxy", Image: "proxyv2:" + version}}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	operatortest.Create(t, c, p)
}

// restartedFor waits until bosun restarted the Deployment (its template says for what starts with
// prefix), and returns its template's annotations.
func restartedFor(t *testing.T, c client.Client, namespace, name, prefix string) map[string]string {
	t.Helper()
	var annotations map[string]string
	operatortest.WaitFor(t, fmt.Sprintf("Deployment %s/%s restarted (%s…)", namespace, name, prefix), func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		annotations = d.Spec.Template.Annotations
		if !strings.HasPrefix(annotations[move.AnnotationRestartedFor], prefix) {
			return fmt.Errorf("template annotations %v", annotations)
		}
		return nil
	})
	return annotations
}

// rollOut plays a restart's rollout: the Deployment's pods are replaced by one injected by rev with
// proxy version, and the rollout reported complete.
func rollOut(t *testing.T, c client.Client, namespace, name, rev, version string) {
	t.Helper()
	pods := &corev1.PodList{}
	if err := c.List(t.Context(), pods, client.InNamespace(namespace), client.MatchingLabels{"app": name}); err != nil {
		t.Fatal(err)
	}
	owner := pods.Items[0].OwnerReferences[0]
	for i := range pods.Items {
		if err := c.Delete(t.Context(), &pods.Items[i], client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	pod(t, c, namespace, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), rev, version, map[string]string{"app": name}, &owner)
	operatortest.RollOut(t, c, namespace, name)
}

// failRollout reports a Deployment's rollout failed, as its controller does when its progress deadline
// passes: ProgressDeadlineExceeded, naming ReplicaSet <name>-2.
func failRollout(t *testing.T, c client.Client, namespace, name string) {
	t.Helper()
	operatortest.WaitFor(t, "Deployment "+namespace+"/"+name+"'s rollout reported failed", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		d.Status.ObservedGeneration = d.Generation
		d.Status.UpdatedReplicas = 0
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", name+"-2")}}
		return c.Status().Update(ctx, d)
	})
}

// workloadsStatus waits until the Istio's WorkloadsUpdated condition has reason and its status passes
// check.
func workloadsStatus(t *testing.T, c client.Client, name, reason string, check func(metav1.Condition, *v1.WorkloadsUpdateStatus) error) {
	t.Helper()
	operatortest.WaitFor(t, "Istio "+name+": WorkloadsUpdated "+reason, func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated)
		if cond == nil || cond.Reason != reason || istio.Status.Workloads == nil {
			return fmt.Errorf("WorkloadsUpdated %+v, workloads %+v", cond, istio.Status.Workloads)
		}
		return check(*cond, istio.Status.Workloads)
	})
}

// reconciles is how many reconciles the operator in this process made of Istios.
func reconciles(t *testing.T) float64 {
	return operatortest.CounterSum(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"})
}

func namespaceLabel(t *testing.T, c client.Client, name string) string {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: name}, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Labels["istio.io/rev"]
}

func generation(t *testing.T, c client.Client, namespace, name string) int64 {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d.Generation
}

// newIstio is a RevisionBased Istio that moves its workloads, with a grace period of zero. No istiod
// runs here to answer its injection webhook, so its chart leaves the webhook out
// (global.operatorManageWebhooks): the tests create the pods the injector would have injected.
func newIstio(name string) *v1.Istio {
	return &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioSpec{Version: v125, Namespace: name + "-system",
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased, InactiveRevisionDeletionGracePeriodSeconds: ptr.To[int64](0), UpdateWorkloads: true},
		Values:         &v1.Values{Global: &v1.GlobalConfig{OperatorManageWebhooks: ptr.To(true)}}}}
}

// TestRevisionBasedMove: after a RevisionBased update with updateWorkloads, bosun relabels the
// namespaces of the old revision and restarts their workloads, one namespace at a time in wave order,
// awaiting each rollout; it never touches a namespace the mesh does not discover, lists a bare pod and
// a workload whose PodDisruptionBudget allows no disruption instead of restarting them, restarts the
// latter once the budget allows it, restarts nothing twice, and the old revision goes once unused.
func TestRevisionBasedMove(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "mv-v1-25-0-snapshot-be4b14ad", "mv-v1-27-0-snapshot-b9159ca3"
	operatortest.Namespace(t, c, "mv-system", nil)
	istio := newIstio("mv")
	// The mesh discovers the namespaces labelled mesh=mv only.
	istio.Spec.Values.MeshConfig = &v1.MeshConfig{DiscoverySelectors: []v1.LabelSelector{{MatchLabels: map[string]v1.LabelValue{"mesh": "mv"}}}}
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "mv-system", "istiod-"+old)
	// mv-late has wave 1, so it moves after mv-shop (wave 0) despite its name.
	operatortest.Namespace(t, c, "mv-late", map[string]string{"istio.io/rev": old, "mesh": "mv"})
	operatortest.Update(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mv-late"}}, func(ns *corev1.Namespace) {
		ns.Annotations = map[string]string{move.AnnotationWave: "1"}
	})
	operatortest.Namespace(t, c, "mv-shop", map[string]string{"istio.io/rev": old, "mesh": "mv"})
	operatortest.Namespace(t, c, "mv-outside", map[string]string{"istio.io/rev": old})
	app(t, c, "mv-late", "web", old, v125)
	app(t, c, "mv-shop", "web", old, v125)
	app(t, c, "mv-shop", "guarded", old, v125)
	app(t, c, "mv-outside", "web", old, v125)
	pod(t, c, "mv-shop", "debug", old, v125, nil, nil)
	operatortest.Create(t, c, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "mv-shop", Name: "guarded"}, Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
	}})

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "mv-system", "istiod-"+next)

	// mv-shop first: relabelled, its Deployment restarted, kubectl's way, for this change.
	annotations := restartedFor(t, c, "mv-shop", "web", next+"@"+v127+"/")
	if _, err := time.Parse(time.RFC3339, annotations[move.AnnotationRestartedAt]); err != nil {
		t.Errorf("restartedAt %q: %v, want the time as kubectl rollout restart writes it", annotations[move.AnnotationRestartedAt], err)
	}
	if got := namespaceLabel(t, c, "mv-shop"); got != next {
		t.Errorf("mv-shop is labelled istio.io/rev=%s, want %s", got, next)
	}
	workloadsStatus(t, c, "mv", v1.ReasonMoving, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.InProgress != "mv-shop/Deployment/web" || st.NamespacesLeft != 2 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	// The rollout is awaited: however often the Istio is reconciled meanwhile, the next namespace does
	// not move.
	n := reconciles(t)
	operatortest.WaitFor(t, "two more reconciles of the Istios", func(context.Context) error {
		if got := reconciles(t); got < n+2 {
			return fmt.Errorf("%v reconciles, want %v", got, n+2)
		}
		return nil
	})
	if got := namespaceLabel(t, c, "mv-late"); got != old {
		t.Errorf("mv-late was relabelled to %s while mv-shop's rollout went on", got)
	}
	rollOut(t, c, "mv-shop", "web", next, v127)
	restartedFor(t, c, "mv-late", "web", next+"@")
	if got := namespaceLabel(t, c, "mv-late"); got != next {
		t.Errorf("mv-late is labelled istio.io/rev=%s, want %s", got, next)
	}
	rollOut(t, c, "mv-late", "web", next, v127)

	workloadsStatus(t, c, "mv", v1.ReasonWorkloadsLeft, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		for _, want := range []string{"mv-shop/Deployment/guarded: PodDisruptionBudget guarded allows no disruption", "mv-shop/Pod/debug: a bare pod"} {
			if !strings.Contains(cond.Message, want) {
				return fmt.Errorf("message %q does not list %q", cond.Message, want)
			}
		}
		if st.NamespacesDone != 2 || st.PodsLeft != 2 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	if got := namespaceLabel(t, c, "mv-outside"); got != old {
		t.Errorf("mv-outside, which the mesh does not discover, was relabelled to %s", got)
	}
	if got := generation(t, c, "mv-outside", "web"); got != 1 {
		t.Errorf("the Deployment of mv-outside, which the mesh does not discover, was changed (generation %d)", got)
	}
	web := generation(t, c, "mv-shop", "web")

	// The budget goes, and with the bare pod the revision's use changes, which wakes the Istio: the
	// guarded Deployment restarts now.
	operatortest.Delete(t, c, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "mv-shop", Name: "guarded"}})
	operatortest.Delete(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "mv-shop", Name: "debug"}})
	restartedFor(t, c, "mv-shop", "guarded", next+"@")
	rollOut(t, c, "mv-shop", "guarded", next, v127)
	// mv-outside keeps the old revision in use until its user moves it by hand.
	operatortest.Update(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mv-outside"}}, func(ns *corev1.Namespace) { ns.Labels["istio.io/rev"] = next })
	operatortest.Delete(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "mv-outside", Name: "web-1-a"}})
	workloadsStatus(t, c, "mv", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if cond.Status != metav1.ConditionTrue || st.NamespacesDone != 2 || st.NamespacesLeft != 0 || st.PodsLeft != 0 {
			return fmt.Errorf("%s %s; %+v", cond.Status, cond.Message, st)
		}
		return nil
	})
	operatortest.WaitFor(t, "the old revision to go", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("IstioRevision %s is still there (%v)", old, err)
	})
	if got := generation(t, c, "mv-shop", "web"); got != web {
		t.Errorf("mv-shop's web was restarted again for the same change: generation %d, then %d", web, got)
	}
	// Before the change, bosun said the budget would hold the move; mv-outside, which the mesh does not
	// discover, is none of its business.
	preflight(t, c, "mv", metav1.ConditionFalse, "PodDisruptionBudget mv-shop/guarded allows no disruption")
	if got := operatortest.CounterSum(t, "bosun_workloads_restarted_total", map[string]string{"istio": "mv"}); got != 3 {
		t.Errorf("bosun_workloads_restarted_total{istio=\"mv\"} = %v, want 3", got)
	}
	// The restarts' rollouts, once they ended, woke the move at once (move.Waker), not at its recheck
	// (one wake-up for each, 3, unless a failed reconcile in between restarted a watch after its end).
	if got := operatortest.CounterSum(t, "bosun_workloads_update_wakeups_total", map[string]string{"istio": "mv"}); got < 1 || got > 3 {
		t.Errorf("bosun_workloads_update_wakeups_total{istio=\"mv\"} = %v, want one for each of the 3 restarts' rollouts", got)
	}
}

// TestPauseAndResume: a restarted workload whose rollout fails stops the move: its namespace goes back
// to the old revision, the workloads restarted there are restarted onto the old proxy, the condition
// names the workload and how to resume, and the old revision is kept. A new value of the resume
// annotation moves the namespace again.
func TestPauseAndResume(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "pz-v1-25-0-snapshot-be4b14ad", "pz-v1-27-0-snapshot-b9159ca3"
	operatortest.Namespace(t, c, "pz-system", nil)
	istio := newIstio("pz")
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "pz-system", "istiod-"+old)
	operatortest.Namespace(t, c, "pz-app", map[string]string{"istio.io/rev": old})
	app(t, c, "pz-app", "api", old, v125)
	app(t, c, "pz-app", "worker", old, v125)

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "pz-system", "istiod-"+next)
	restartedFor(t, c, "pz-app", "api", next+"@")
	rollOut(t, c, "pz-app", "api", next, v127)
	restartedFor(t, c, "pz-app", "worker", next+"@")
	// The worker's new pods never become available: its controller gives up.
	failRollout(t, c, "pz-app", "worker")
	workloadsStatus(t, c, "pz", v1.ReasonPaused, func(cond metav1.Condition, _ *v1.WorkloadsUpdateStatus) error {
		for _, want := range []string{"pz-app/Deployment/worker did not become available", "timed out progressing", "moved back to " + old, "kubectl annotate istio pz " + move.AnnotationResume} {
			if !strings.Contains(cond.Message, want) {
				return fmt.Errorf("message %q does not say %q", cond.Message, want)
			}
		}
		return nil
	})
	if got := namespaceLabel(t, c, "pz-app"); got != old {
		t.Errorf("the paused namespace is labelled istio.io/rev=%s, want it back on %s", got, old)
	}
	for _, name := range []string{"api", "worker"} {
		restartedFor(t, c, "pz-app", name, move.RollbackPrefix+next+"@")
	}
	rollOut(t, c, "pz-app", "api", old, v125)
	rollOut(t, c, "pz-app", "worker", old, v125)
	if err := c.Get(t.Context(), client.ObjectKey{Name: old}, &v1.IstioRevision{}); err != nil {
		t.Errorf("the old revision, which the paused namespace uses, is gone: %v", err)
	}
	events, err := operatortest.Events(t.Context(), c, v1.KindIstio, "pz")
	if err != nil || !slices.Contains(events, "Warning "+v1.ReasonPaused) {
		t.Errorf("Events of the Istio %v (%v), want a Warning %s", events, err, v1.ReasonPaused)
	}

	// Resume: the namespace moves again and both workloads restart again.
	operatortest.Update(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "pz"}}, func(i *v1.Istio) {
		i.Annotations = map[string]string{move.AnnotationResume: "1"}
	})
	restartedFor(t, c, "pz-app", "api", next+"@")
	rollOut(t, c, "pz-app", "api", next, v127)
	restartedFor(t, c, "pz-app", "worker", next+"@")
	rollOut(t, c, "pz-app", "worker", next, v127)
	workloadsStatus(t, c, "pz", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.NamespacesDone != 1 || st.PodsLeft != 0 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	for _, m := range []struct {
		name string
		want float64
	}{{"bosun_workloads_restarted_total", 4}, {"bosun_workload_rollbacks_total", 2}, {"bosun_workloads_update_pauses_total", 1}} {
		if got := operatortest.CounterSum(t, m.name, map[string]string{"istio": "pz"}); got != m.want {
			t.Errorf("%s{istio=\"pz\"} = %v, want %v", m.name, got, m.want)
		}
	}
}

// TestInPlaceMove: after an InPlace update with updateWorkloads, the workloads whose proxies are older
// than the updated control plane are restarted, one after the other; the namespace keeps its label.
func TestInPlaceMove(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "ip-system", nil)
	istio := newIstio("ip")
	istio.Spec.UpdateStrategy.Type = v1.UpdateStrategyInPlace
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "ip-system", "istiod-ip")
	operatortest.Namespace(t, c, "ip-app", map[string]string{"istio.io/rev": "ip"})
	app(t, c, "ip-app", "api", "ip", v125)
	app(t, c, "ip-app", "worker", "ip", v125)

	// The catalog here has no 1.26: the move from 1.25 to 1.27 skips a minor version.
	operatortest.Update(t, c, istio, func(i *v1.Istio) {
		i.Spec.Version = v127
		i.Annotations = map[string]string{desired.AnnotationAllowMinorSkip: "true"}
	})
	operatortest.RollOut(t, c, "ip-system", "istiod-ip")
	restartedFor(t, c, "ip-app", "api", "ip@"+v127+"/")
	workloadsStatus(t, c, "ip", v1.ReasonMoving, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.InProgress != "ip-app/Deployment/api" || st.PodsLeft != 2 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	if got := generation(t, c, "ip-app", "worker"); got != 1 {
		t.Errorf("the worker was restarted (generation %d) while the api's rollout went on", got)
	}
	rollOut(t, c, "ip-app", "api", "ip", v127)
	restartedFor(t, c, "ip-app", "worker", "ip@"+v127+"/")
	rollOut(t, c, "ip-app", "worker", "ip", v127)
	workloadsStatus(t, c, "ip", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.NamespacesDone != 1 || st.PodsLeft != 0 || !strings.Contains(cond.Message, "ip ("+v127+")") {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	if got := namespaceLabel(t, c, "ip-app"); got != "ip" {
		t.Errorf("the namespace of an InPlace Istio was relabelled to %q", got)
	}
	// Before the change, bosun said that the proxies would run two minor versions behind until moved.
	preflight(t, c, "ip", metav1.ConditionFalse, "2 pods run proxies outside the skew Istio supports beside "+v127, "ip-app/api-1-a ("+v125+")")
}

// preflight checks the Istio's UpdatePreflight condition, and that each of says is in its message and
// in a Warning Event.
func preflight(t *testing.T, c client.Client, name string, status metav1.ConditionStatus, says ...string) {
	t.Helper()
	istio := &v1.Istio{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: name}, istio); err != nil {
		t.Fatal(err)
	}
	cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionUpdatePreflight)
	if cond == nil || cond.Status != status {
		t.Fatalf("UpdatePreflight %+v, want %s", cond, status)
	}
	t.Logf("UpdatePreflight=%s %s: %s", cond.Status, cond.Reason, cond.Message)
	for _, s := range says {
		if !strings.Contains(cond.Message, s) {
			t.Errorf("UpdatePreflight says %q, not %q", cond.Message, s)
		}
	}
	events, err := operatortest.Events(t.Context(), c, v1.KindIstio, name)
	if err != nil || (status == metav1.ConditionFalse && !slices.Contains(events, "Warning "+v1.ConditionUpdatePreflight)) {
		t.Errorf("Events %v (%v), want a Warning %s for each finding", events, err, v1.ConditionUpdatePreflight)
	}
}

// TestStopMidMove: updateWorkloads set to false while a workload's rollout goes on stops the move after
// it: the next workload is not restarted, however often the Istio is reconciled, and the Istio no
// longer reports a move. Set to true again, the move carries on from where the cluster is.
func TestStopMidMove(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "st-v1-25-0-snapshot-be4b14ad", "st-v1-27-0-snapshot-b9159ca3"
	operatortest.Namespace(t, c, "st-system", nil)
	istio := newIstio("st")
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "st-system", "istiod-"+old)
	operatortest.Namespace(t, c, "st-app", map[string]string{"istio.io/rev": old})
	app(t, c, "st-app", "api", old, v125)
	app(t, c, "st-app", "worker", old, v125)

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "st-system", "istiod-"+next)
	restartedFor(t, c, "st-app", "api", next+"@")
	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.UpdateStrategy.UpdateWorkloads = false })
	rollOut(t, c, "st-app", "api", next, v127)
	operatortest.WaitFor(t, "the Istio to stop reporting a move", func(ctx context.Context) error {
		i := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: "st"}, i); err != nil {
			return err
		}
		if i.Status.ObservedGeneration != i.Generation || i.Status.Workloads != nil || meta.FindStatusCondition(i.Status.Conditions, v1.ConditionWorkloadsUpdated) != nil {
			return fmt.Errorf("generation %d observed %d, workloads %+v", i.Generation, i.Status.ObservedGeneration, i.Status.Workloads)
		}
		return nil
	})
	n := reconciles(t)
	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Annotations = map[string]string{"team": "platform"} })
	operatortest.WaitFor(t, "another reconcile of the Istios", func(context.Context) error {
		if got := reconciles(t); got <= n {
			return fmt.Errorf("%v reconciles", got)
		}
		return nil
	})
	if got := generation(t, c, "st-app", "worker"); got != 1 {
		t.Errorf("the worker was restarted (generation %d) after updateWorkloads was set to false", got)
	}

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.UpdateStrategy.UpdateWorkloads = true })
	restartedFor(t, c, "st-app", "worker", next+"@")
	rollOut(t, c, "st-app", "worker", next, v127)
	workloadsStatus(t, c, "st", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if cond.Status != metav1.ConditionTrue || st.NamespacesDone != 1 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	if got := generation(t, c, "st-app", "api"); got != 2 {
		t.Errorf("the api, restarted before the stop, has generation %d, want 2 (created, restarted once)", got)
	}
}

// TestAWaveThatIsNoNumberStopsTheMove: a namespace's wave that is not a whole number stops the move
// before anything is touched, with a condition that names the namespace and what to write.
func TestAWaveThatIsNoNumberStopsTheMove(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "wv-v1-25-0-snapshot-be4b14ad", "wv-v1-27-0-snapshot-b9159ca3"
	operatortest.Namespace(t, c, "wv-system", nil)
	istio := newIstio("wv")
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "wv-system", "istiod-"+old)
	operatortest.Namespace(t, c, "wv-app", map[string]string{"istio.io/rev": old})
	operatortest.Update(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wv-app"}}, func(ns *corev1.Namespace) {
		ns.Annotations = map[string]string{move.AnnotationWave: "first"}
	})
	app(t, c, "wv-app", "api", old, v125)

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "wv-system", "istiod-"+next)
	workloadsStatus(t, c, "wv", v1.ReasonInvalidWave, func(cond metav1.Condition, _ *v1.WorkloadsUpdateStatus) error {
		if want := `namespace wv-app: annotation bosun.dev/update-wave="first" is not a whole number`; !strings.Contains(cond.Message, want) {
			return fmt.Errorf("message %q, want %q", cond.Message, want)
		}
		return nil
	})
	if got := namespaceLabel(t, c, "wv-app"); got != old {
		t.Errorf("wv-app was relabelled to %s with a wave bosun cannot read", got)
	}
	if got := generation(t, c, "wv-app", "api"); got != 1 {
		t.Errorf("the api was restarted (generation %d) with a wave bosun cannot read", got)
	}
}
