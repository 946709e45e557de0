package nodeagent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// The DaemonSet statuses the tests put in the cache: every node runs a ready pod of the current
// template, or a new template has not reached any node yet.
const (
	rolledOut = "status: {observedGeneration: 2, desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2}"
	rolling   = "status: {observedGeneration: 1, desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 0, numberReady: 2, numberAvailable: 2}"
)

// cache is a reader holding the given DaemonSets, as the operator's cache of owned objects does.
func cache(t *testing.T, daemonSets ...*unstructured.Unstructured) client.WithWatch {
	t.Helper()
	b := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme)
	for _, ds := range daemonSets {
		b = b.WithObjects(ds)
	}
	return b.Build()
}

// ztunnelDaemonSet is the ztunnel DaemonSet in namespace ztunnel with a status.
func ztunnelDaemonSet(t *testing.T, status string) *unstructured.Unstructured {
	ds := daemonSet(t, status)
	ds.SetName("ztunnel")
	ds.SetNamespace(desired.DefaultZTunnelNamespace)
	return ds
}

// conditionOf returns the condition of type ct in a node agent's status, failing the test without it.
func conditionOf(t *testing.T, st Status, ct string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(st.Conditions, ct)
	if c == nil {
		t.Fatalf("no %s condition in %+v", ct, st.Conditions)
	}
	return *c
}

// TestZTunnelStatus: a reconciled ZTunnel names the revision its targetRef resolved to; a refused or
// failed one keeps the revision it names, since its DaemonSet still runs for it; Ready comes from the
// DaemonSet whether or not the spec was refused, and the state names the refusal first.
func TestZTunnelStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	target := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "amb-v1-27"}}
	skew := &desired.Refusal{Reason: v1.ReasonVersionSkew, Err: errors.New("ZTunnel default runs Istio 1.25")}
	cases := []struct {
		name            string
		was             string
		outcome         controller.Outcome
		ds              string
		wantRevision    string
		wantReconciled  string
		wantReady       metav1.ConditionStatus
		wantReadyReason string
		wantState       string
	}{
		{"reconciled: names its target", "amb-v1-25", controller.Outcome{Plan: desired.Plan{Target: target}}, rolledOut,
			"amb-v1-27", v1.ReasonReconciled, metav1.ConditionTrue, v1.ReasonReady, v1.StateHealthy},
		{"reconciled without a targetRef: names no revision", "amb-v1-25", controller.Outcome{}, rolledOut,
			"", v1.ReasonReconciled, metav1.ConditionTrue, v1.ReasonReady, v1.StateHealthy},
		{"refused: keeps its revision, still Ready", "amb-v1-25", controller.Outcome{Plan: desired.Plan{Refusal: skew}, Refusal: skew}, rolledOut,
			"amb-v1-25", v1.ReasonVersionSkew, metav1.ConditionTrue, v1.ReasonReady, v1.ReasonVersionSkew},
		{"refused while rolling out: Ready False, the refusal first in the state", "amb-v1-25", controller.Outcome{Refusal: skew}, rolling,
			"amb-v1-25", v1.ReasonVersionSkew, metav1.ConditionFalse, v1.ReasonDaemonSetRollingOut, v1.ReasonVersionSkew},
		{"the apply failed: keeps its revision", "amb-v1-25", controller.Outcome{Plan: desired.Plan{Target: target}, Err: errors.New("the API server is unavailable")}, rolledOut,
			"amb-v1-25", v1.ReasonReconcileError, metav1.ConditionTrue, v1.ReasonReady, v1.ReasonReconcileError},
		{"refused before it ever ran: no DaemonSet", "", controller.Outcome{Refusal: skew}, "",
			"", v1.ReasonVersionSkew, metav1.ConditionFalse, v1.ReasonDaemonSetNotReady, v1.ReasonVersionSkew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reader client.WithWatch
			if tc.ds != "" {
				reader = cache(t, ztunnelDaemonSet(t, tc.ds))
			} else {
				reader = cache(t)
			}
			zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName, Generation: 3}}
			zt.Status.IstioRevision = tc.was
			tc.outcome.Now = now
			got, _, recheck, err := ZTunnel(reader).Status(t.Context(), zt, tc.outcome)
			if err != nil || recheck != 0 {
				t.Fatalf("Status: %v, recheck %s", err, recheck)
			}
			st := got.(Status)
			if st.IstioRevision != tc.wantRevision {
				t.Errorf("istioRevision %q, want %q", st.IstioRevision, tc.wantRevision)
			}
			if c := conditionOf(t, st, v1.ConditionReconciled); c.Reason != tc.wantReconciled {
				t.Errorf("Reconciled %s %s, want %s", c.Status, c.Reason, tc.wantReconciled)
			}
			if c := conditionOf(t, st, v1.ConditionReady); c.Status != tc.wantReady || c.Reason != tc.wantReadyReason {
				t.Errorf("Ready %s %s (%s), want %s %s", c.Status, c.Reason, c.Message, tc.wantReady, tc.wantReadyReason)
			}
			if st.State != tc.wantState || st.ObservedGeneration != 3 {
				t.Errorf("state %q of generation %d, want %q of 3", st.State, st.ObservedGeneration, tc.wantState)
			}
		})
	}
}

// TestCNIStatusNamesNoRevision: an IstioCNI follows no control plane, so its status never carries an
// istioRevision, even when the plan has a target.
func TestCNIStatusNamesNoRevision(t *testing.T) {
	ds := daemonSet(t, rolledOut)
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName, Generation: 2}}
	got, _, _, err := CNI(cache(t, ds)).Status(t.Context(), cni, controller.Outcome{Plan: desired.Plan{Target: &v1.IstioRevision{}}, Now: metav1.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.(Status); st.IstioRevision != "" || st.State != v1.StateHealthy {
		t.Errorf("status %+v, want Healthy with no istioRevision", st)
	}
}

// TestReadyComesFromTheAppliedDaemonSet: when this reconcile wrote the DaemonSet (a new version), Ready
// reads the object the API server answered, whose generation the DaemonSet controller has not seen,
// not the cache, which still holds the old template rolled out and would say Ready before the rollout
// began (docs/architecture.md#lesson-ready-means-serving).
func TestReadyComesFromTheAppliedDaemonSet(t *testing.T) {
	cached := daemonSet(t, "status: {observedGeneration: 2, desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2}")
	sent := cached.DeepCopy()
	sent.SetGeneration(3)
	ref := apply.Ref{GVK: daemonSetGVK, Namespace: desired.DefaultCNINamespace, Name: "istio-cni-node"}
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName, Generation: 2}}
	o := controller.Outcome{Now: metav1.Now(), Applied: apply.Result{Updated: []apply.Ref{ref}, Sent: map[apply.Ref]*unstructured.Unstructured{ref: sent}}}
	got, _, _, err := CNI(cache(t, cached)).Status(t.Context(), cni, o)
	if err != nil {
		t.Fatal(err)
	}
	if c := conditionOf(t, got.(Status), v1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonDaemonSetRollingOut {
		t.Errorf("Ready %s %s (%s) right after a new template was applied, want False %s", c.Status, c.Reason, c.Message, v1.ReasonDaemonSetRollingOut)
	}
}

// TestReadinessThatCannotBeReadIsUnknown: a failure to read the DaemonSet makes Ready Unknown with the
// error, never False: bosun cannot tell, and a node agent that cannot be read is not said to be down.
func TestReadinessThatCannotBeReadIsUnknown(t *testing.T) {
	reader := interceptor.NewClient(cache(t), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("the cache is not synced")
		},
	})
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName, Generation: 1}}
	got, _, _, err := CNI(reader).Status(t.Context(), cni, controller.Outcome{Now: metav1.Now()})
	if err != nil {
		t.Fatalf("a readiness that cannot be read failed the status: %v", err)
	}
	st := got.(Status)
	c := conditionOf(t, st, v1.ConditionReady)
	if c.Status != metav1.ConditionUnknown || c.Reason != v1.ReasonReadinessCheckFailed || !strings.Contains(c.Message, "the cache is not synced") {
		t.Errorf("Ready %s %s %q, want Unknown %s with the error", c.Status, c.Reason, c.Message, v1.ReasonReadinessCheckFailed)
	}
	if st.State != v1.ReasonReadinessCheckFailed {
		t.Errorf("state %q, want %q", st.State, v1.ReasonReadinessCheckFailed)
	}
}

// TestConvergedAgentStatusIsUnchanged: a reconcile that finds what the last one wrote reports the
// status unchanged, with every transition time kept, so nothing is written
// (docs/architecture.md#lesson-write-status-only-on-change); a change of readiness is not unchanged.
func TestConvergedAgentStatusIsUnchanged(t *testing.T) {
	first := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	target := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "amb"}}
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName, Generation: 1}}
	kind := ZTunnel(cache(t, ztunnelDaemonSet(t, rolledOut)))
	got, unchanged, _, err := kind.Status(t.Context(), zt, controller.Outcome{Plan: desired.Plan{Target: target}, Now: first})
	if err != nil || unchanged {
		t.Fatalf("the first status: unchanged %t, %v; want a change", unchanged, err)
	}
	st := got.(Status)
	zt.Status = v1.ZTunnelStatus{ObservedGeneration: st.ObservedGeneration, Conditions: st.Conditions, State: st.State, IstioRevision: st.IstioRevision}

	again, unchanged, _, err := kind.Status(t.Context(), zt, controller.Outcome{Plan: desired.Plan{Target: target}, Now: metav1.NewTime(first.Add(time.Hour))})
	if err != nil || !unchanged {
		t.Errorf("the same outcome an hour later: unchanged %t, %v; want unchanged", unchanged, err)
	}
	for _, c := range again.(Status).Conditions {
		if !c.LastTransitionTime.Equal(&first) {
			t.Errorf("%s moved its transition time to %s without changing status", c.Type, c.LastTransitionTime)
		}
	}

	_, unchanged, _, err = ZTunnel(cache(t, ztunnelDaemonSet(t, rolling))).Status(t.Context(), zt, controller.Outcome{Plan: desired.Plan{Target: target}, Now: first})
	if err != nil || unchanged {
		t.Errorf("Ready turning False: unchanged %t, %v; want a change", unchanged, err)
	}
	moved := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "amb-next"}}
	_, unchanged, _, err = kind.Status(t.Context(), zt, controller.Outcome{Plan: desired.Plan{Target: moved}, Now: first})
	if err != nil || unchanged {
		t.Errorf("the target moving to another revision: unchanged %t, %v; want a change", unchanged, err)
	}
}

// TestNamespaceEventsWakeTheAgentInstalledThere: a namespace created or deleted wakes the node agent
// only when the agent installs into it (its spec.namespace, or the kind's default), so an agent waiting
// for its namespace installs as soon as it exists; an agent that cannot be read is woken anyway, since
// its reconcile reads it again.
func TestNamespaceEventsWakeTheAgentInstalledThere(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), v1.AddToScheme(scheme)); err != nil {
		t.Fatal(err)
	}
	cniIn := func(ns string) client.Client {
		return fake.NewClientBuilder().WithScheme(scheme).WithObjects(&v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Namespace: ns}}).Build()
	}
	failing := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("the cache is not synced")
		},
	})
	cases := []struct {
		name      string
		reader    client.Client
		namespace string
		wake      bool
	}{
		{"its own namespace", cniIn("mesh-cni"), "mesh-cni", true},
		{"another namespace", cniIn("mesh-cni"), "istio-cni", false},
		{"the default namespace of an agent that names none", cniIn(""), desired.DefaultCNINamespace, true},
		{"no IstioCNI", fake.NewClientBuilder().WithScheme(scheme).Build(), desired.DefaultCNINamespace, false},
		{"the IstioCNI cannot be read", failing, "anything", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: tc.namespace}}
			reqs := CNI(tc.reader).inNamespace(t.Context(), ns)
			if woken := len(reqs) == 1 && reqs[0].Name == v1.SingletonName; woken != tc.wake || len(reqs) > 1 {
				t.Errorf("requests %v, want the agent woken: %t", reqs, tc.wake)
			}
		})
	}
}

// TestAgentNamespaces: the decision learns whether the namespace the agent installs into exists: its
// spec.namespace, or istio-cni and ztunnel by default; the Event of an apply says the version and
// where it went.
func TestAgentNamespaces(t *testing.T) {
	cni, zt := CNI(nil), ZTunnel(nil)
	cases := []struct {
		name          string
		namespaces    []string
		applied, want string
		wantApplied   string
	}{
		{"IstioCNI by default", cni.Namespaces(&v1.IstioCNI{}),
			cni.Applied(&v1.IstioCNI{Spec: v1.IstioCNISpec{Version: "v1.27-latest"}}, desired.Plan{}), "istio-cni", "Istio v1.27-latest in istio-cni"},
		{"IstioCNI elsewhere", cni.Namespaces(&v1.IstioCNI{Spec: v1.IstioCNISpec{Namespace: "kube-system"}}),
			cni.Applied(&v1.IstioCNI{Spec: v1.IstioCNISpec{Version: "v1.27-latest", Namespace: "kube-system"}}, desired.Plan{}), "kube-system", "Istio v1.27-latest in kube-system"},
		{"ZTunnel by default", zt.Namespaces(&v1.ZTunnel{}),
			zt.Applied(&v1.ZTunnel{Spec: v1.ZTunnelSpec{Version: "v1.27-latest"}}, desired.Plan{}), "ztunnel", "Istio v1.27-latest in ztunnel"},
	}
	for _, tc := range cases {
		if len(tc.namespaces) != 1 || tc.namespaces[0] != tc.want || tc.applied != tc.wantApplied {
			t.Errorf("%s: namespaces %v, applied %q; want [%s] and %q", tc.name, tc.namespaces, tc.applied, tc.want, tc.wantApplied)
		}
	}
}
