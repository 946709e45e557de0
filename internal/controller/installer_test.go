//go:build integration

package controller_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd and bosun's CRDs) that TestMain starts once. No
// operator runs: each test calls the Installer's Reconcile itself.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		cfg.WarningHandler = rest.NoWarnings{}
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}

// charts are two tiny charts of a version named "test": one renders a ConfigMap named after the
// release with the value it is given, the other cannot render.
var charts = fstest.MapFS{
	"test/charts/cm/Chart.yaml": {Data: []byte("apiVersion: v2\nname: cm\nversion: 0.1.0\n")},
	"test/charts/cm/templates/cm.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: "{{ .Release.Name }}", namespace: "{{ .Release.Namespace }}"}
data: {value: "{{ .Values.value }}"}
`)},
	"test/charts/broken/Chart.yaml":          {Data: []byte("apiVersion: v2\nname: broken\nversion: 0.1.0\n")},
	"test/charts/broken/templates/fail.yaml": {Data: []byte(`{{ fail "values.value must be set" }}`)},
}

// testKind installs, for an IstioRevision, what its plan function decides: the Installer's loop with
// the smallest status a kind can have (Reconciled and the state).
type testKind struct {
	plan func(rev *v1.IstioRevision, f *desired.Facts) desired.Plan

	mu          sync.Mutex
	reconciling int
	forgotten   []string
}

func (*testKind) Name() string                                        { return v1.KindIstioRevision }
func (*testKind) Installs() string                                    { return "test objects" }
func (*testKind) New() *v1.IstioRevision                              { return &v1.IstioRevision{} }
func (*testKind) Namespaces(rev *v1.IstioRevision) []string           { return []string{rev.Spec.Namespace} }
func (*testKind) Conditions(rev *v1.IstioRevision) []metav1.Condition { return rev.Status.Conditions }
func (*testKind) Applied(rev *v1.IstioRevision, _ desired.Plan) string {
	return "IstioRevision " + rev.Name
}

func (k *testKind) Decide(_ desired.Env, rev *v1.IstioRevision, f *desired.Facts) desired.Plan {
	return k.plan(rev, f)
}

func (*testKind) Status(_ context.Context, rev *v1.IstioRevision, o controller.Outcome) (any, bool, time.Duration, error) {
	c := status.NewConditions(rev.Status.Conditions, rev.Generation, o.Now)
	c.Reconciled(o.Refusal, o.Err, "applied")
	conditions := c.Of(v1.ConditionReconciled)
	st := v1.IstioRevisionStatus{ObservedGeneration: rev.Generation, Conditions: conditions, State: status.State(conditions, v1.ConditionReconciled)}
	return st, equality.Semantic.DeepEqual(st, rev.Status), 0, nil
}

func (k *testKind) Reconciling(*v1.IstioRevision) {
	k.mu.Lock()
	k.reconciling++
	k.mu.Unlock()
}

func (k *testKind) Forget(rev *v1.IstioRevision) {
	k.mu.Lock()
	k.forgotten = append(k.forgotten, rev.Name)
	k.mu.Unlock()
}

// chart is the plan of one chart of charts, released as name into namespace with value.
func chart(name, namespace, owner, value string) desired.Plan {
	return desired.Plan{Charts: []render.Request{{
		Version: "test", Chart: name, Namespace: namespace, ReleaseName: "mesh",
		Values: map[string]any{"value": value}, Owner: render.Owner{Kind: v1.KindIstioRevision, Name: owner},
	}}}
}

// events records the Events recorded through it as "type reason: note".
type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) Eventf(_, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	e.mu.Lock()
	e.all = append(e.all, eventtype+" "+reason+": "+fmt.Sprintf(note, args...))
	e.mu.Unlock()
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.all
	e.all = nil
	return out
}

// installer is one test's Installer over the real API server, reading without a cache, with its
// writes counted and, while failApply is set, every apply of an object failing.
type installer struct {
	t         *testing.T
	c         client.Client
	in        *controller.Installer[*v1.IstioRevision]
	kind      *testKind
	events    *events
	rev       *v1.IstioRevision
	ns        string
	writes    int
	failApply error
}

// newInstaller creates a namespace and an IstioRevision in it whose installation plan decides.
func newInstaller(t *testing.T, plan func(rev *v1.IstioRevision, f *desired.Facts) desired.Plan) *installer {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	direct, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "installer-"}}
	if err := direct.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Delete(context.Background(), ns) })
	name := ns.Name
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{
		Version: "v1.27.0-snapshot.b9159ca3", Namespace: name, Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: &name}},
	}}
	if err := direct.Create(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = direct.Patch(context.Background(), rev, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
		_ = direct.Delete(context.Background(), rev)
	})
	i := &installer{t: t, kind: &testKind{plan: plan}, events: &events{}, rev: rev, ns: name}
	count := func() { i.writes++ }
	i.c = interceptor.NewClient(direct, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			count()
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			count()
			return c.Delete(ctx, obj, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			count()
			if i.failApply != nil {
				return i.failApply
			}
			return c.Apply(ctx, obj, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			count()
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(direct.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := render.New(charts, render.Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	i.in = &controller.Installer[*v1.IstioRevision]{
		Kind: i.kind, Client: i.c, Charts: render.NewCache(renderer, render.Cluster{}, "test", v1.KindIstioRevision),
		Applier: apply.New(i.c, direct, direct, served), Recorder: i.events,
		Status: &status.Writer{Client: i.c, Manager: "bosun-test"}, Clock: clocktesting.NewFakePassiveClock(time.Now()),
	}
	return i
}

// reconcile reconciles the revision and returns the writes it sent and Reconcile's error.
func (i *installer) reconcile() (int, error) {
	i.t.Helper()
	res, writes, err := i.reconcileFor()
	if res.RequeueAfter != 0 {
		i.t.Errorf("Reconcile asks to come back after %s, want it to wait for an event", res.RequeueAfter)
	}
	return writes, err
}

// reconcileFor runs one reconcile and returns its result and how many writes it sent.
func (i *installer) reconcileFor() (reconcile.Result, int, error) {
	i.t.Helper()
	i.writes = 0
	res, err := i.in.Reconcile(i.t.Context(), reconcile.Request{NamespacedName: client.ObjectKey{Name: i.rev.Name}})
	return res, i.writes, err
}

// reconciled reads the revision's Reconciled condition as the API server holds it.
func (i *installer) reconciled() *metav1.Condition {
	i.t.Helper()
	rev := &v1.IstioRevision{}
	if err := i.c.Get(i.t.Context(), client.ObjectKey{Name: i.rev.Name}, rev); err != nil {
		i.t.Fatal(err)
	}
	for _, c := range rev.Status.Conditions {
		if c.Type == v1.ConditionReconciled {
			return &c
		}
	}
	return &metav1.Condition{}
}

// configMap reads the ConfigMap the cm chart renders, or nil.
func (i *installer) configMap() *corev1.ConfigMap {
	i.t.Helper()
	cm := &corev1.ConfigMap{}
	err := i.c.Get(i.t.Context(), client.ObjectKey{Namespace: i.ns, Name: "mesh"}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		i.t.Fatal(err)
	}
	return cm
}

func refusals(t *testing.T, reason string) float64 {
	t.Helper()
	return value(t, metrics.Refusals.WithLabelValues(v1.KindIstioRevision, reason))
}

// TestInstallerAppliesThenRests: the first reconcile adds the finalizer, applies the plan's objects
// with the resource as their owner, writes the status and records what it applied; a second
// reconcile with nothing changed writes nothing and records nothing
// (docs/architecture.md#lesson-converged-writes-nothing).
func TestInstallerAppliesThenRests(t *testing.T) {
	i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
		return chart("cm", rev.Spec.Namespace, rev.Name, "a")
	})
	created := value(t, metrics.Applies.WithLabelValues(v1.KindIstioRevision, "created"))
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	cm := i.configMap()
	if cm == nil || cm.Data["value"] != "a" || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != i.rev.UID {
		t.Fatalf("the chart's ConfigMap is %+v, want it applied with the revision as its owner", cm)
	}
	if c := i.reconciled(); c.Status != metav1.ConditionTrue || c.Reason != v1.ReasonReconciled {
		t.Errorf("Reconciled is %s/%s, want True", c.Status, c.Reason)
	}
	rev := &v1.IstioRevision{}
	if err := i.c.Get(t.Context(), client.ObjectKey{Name: i.rev.Name}, rev); err != nil || len(rev.Finalizers) != 1 || rev.Finalizers[0] != controller.Finalizer {
		t.Errorf("finalizers %v (%v), want %s", rev.Finalizers, err, controller.Finalizer)
	}
	want := "Normal Applied: IstioRevision " + i.rev.Name + ": created ConfigMap " + i.ns + "/mesh"
	if got := i.events.take(); len(got) != 1 || got[0] != want {
		t.Errorf("Events %q, want %q", got, want)
	}
	if got := value(t, metrics.Applies.WithLabelValues(v1.KindIstioRevision, "created")) - created; got != 1 {
		t.Errorf("bosun_applied_objects_total{action=created} grew by %v, want 1", got)
	}

	for range 2 {
		if writes, err := i.reconcile(); err != nil || writes != 0 {
			t.Errorf("a reconcile with nothing changed: %v after %d writes, want none", err, writes)
		}
	}
	if got := i.events.take(); len(got) != 0 {
		t.Errorf("a reconcile with nothing changed recorded %q", got)
	}
	if i.kind.reconciling != 3 {
		t.Errorf("the kind was told of %d reconciles, want 3", i.kind.reconciling)
	}
}

// TestInstallerReportsARefusalOnce: a refusal is a False Reconciled condition with its reason and
// message, a Warning Event and bosun_refusals_total when it first appears or changes, never an error;
// nothing is applied, and a refusal that only waits for bosun itself is neither warned of nor counted
// (docs/operator.md, Events).
func TestInstallerReportsARefusalOnce(t *testing.T) {
	message := "namespace x does not exist: create it"
	waiting := false
	i := newInstaller(t, func(*v1.IstioRevision, *desired.Facts) desired.Plan {
		return desired.Plan{Refusal: &desired.Refusal{Reason: v1.ReasonRefNotFound, Err: errors.New(message), Waiting: waiting}}
	})
	before := refusals(t, v1.ReasonRefNotFound)
	for _, step := range []struct {
		what        string
		message     string
		waiting     bool
		wantEvents  []string
		wantCounted float64
	}{
		{"first refused", message, false, []string{"Warning RefNotFound: " + message}, 1},
		{"refused again, as before", message, false, nil, 0},
		{"refused for another cause", "the IstioRevision r does not exist", false, []string{"Warning RefNotFound: the IstioRevision r does not exist"}, 1},
		{"waiting for what bosun creates", "waiting for the revision", true, nil, 0},
	} {
		message, waiting = step.message, step.waiting
		_, err := i.reconcile()
		if err != nil {
			t.Errorf("%s: Reconcile returned %v; a refusal is not an error", step.what, err)
		}
		if c := i.reconciled(); c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonRefNotFound || c.Message != step.message {
			t.Errorf("%s: Reconciled is %s/%s %q, want False/RefNotFound %q", step.what, c.Status, c.Reason, c.Message, step.message)
		}
		if got := i.events.take(); strings.Join(got, "\n") != strings.Join(step.wantEvents, "\n") {
			t.Errorf("%s: Events %q, want %q", step.what, got, step.wantEvents)
		}
		after := refusals(t, v1.ReasonRefNotFound)
		if after-before != step.wantCounted {
			t.Errorf("%s: bosun_refusals_total{reason=RefNotFound} grew by %v, want %v", step.what, after-before, step.wantCounted)
		}
		before = after
	}
	if cm := i.configMap(); cm != nil {
		t.Errorf("a refused revision applied %s", cm.Name)
	}
}

// TestInstallerRefusesWhatRetryingCannotFix: a chart that does not render and an object another
// installer created both refuse the resource with ReconcileError and a message that says why, with a
// Warning Event; neither is an error to retry, and another installer's object is left untouched, and
// looked at again after a while in case it was deleted.
func TestInstallerRefusesWhatRetryingCannotFix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chart   string
		foreign bool
		message string
	}{
		{"a chart that does not render", "broken", false, "values.value must be set"},
		{"an object another installer created", "cm", true, "was not created by bosun (helm): delete it (bosun creates it within a minute), or let bosun take it over by running the operator with --adopt-from=helm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
				return chart(tc.chart, rev.Spec.Namespace, rev.Name, "a")
			})
			if tc.foreign {
				helm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: i.ns}, Data: map[string]string{"value": "helm's"}}
				if err := i.c.Create(t.Context(), helm, client.FieldOwner("helm")); err != nil {
					t.Fatal(err)
				}
			}
			before := refusals(t, v1.ReasonReconcileError)
			res, _, err := i.reconcileFor()
			if err != nil {
				t.Errorf("Reconcile returned %v; retrying cannot help, so it is a refusal", err)
			}
			// The deletion of another installer's object, which lifts the refusal, is no event bosun
			// sees (it caches only its own objects): it looks again after a while. A chart does not
			// change by itself: nothing looks again.
			if want := map[bool]time.Duration{true: controller.RecheckInterval, false: 0}[tc.foreign]; res.RequeueAfter != want {
				t.Errorf("looks again after %s, want %s", res.RequeueAfter, want)
			}
			c := i.reconciled()
			if c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonReconcileError || !strings.Contains(c.Message, tc.message) {
				t.Errorf("Reconciled is %s/%s %q, want False/ReconcileError saying %q", c.Status, c.Reason, c.Message, tc.message)
			}
			if got := i.events.take(); len(got) != 1 || !strings.HasPrefix(got[0], "Warning ReconcileError: ") || !strings.Contains(got[0], tc.message) {
				t.Errorf("Events %q, want one Warning saying %q", got, tc.message)
			}
			if got := refusals(t, v1.ReasonReconcileError) - before; got != 1 {
				t.Errorf("bosun_refusals_total{reason=ReconcileError} grew by %v, want 1", got)
			}
			if cm := i.configMap(); tc.foreign && (cm == nil || cm.Data["value"] != "helm's") {
				t.Errorf("Helm's ConfigMap is %+v after the refusal, want it untouched", cm)
			}
		})
	}
}

// TestInstallerRetriesAFailedApply: a failure to write is an error, retried with backoff, and the
// status says so; it is never a refusal, so no Warning is recorded and no refusal counted.
func TestInstallerRetriesAFailedApply(t *testing.T) {
	i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
		return chart("cm", rev.Spec.Namespace, rev.Name, "a")
	})
	unavailable := errors.New("the API server is unavailable")
	i.failApply = unavailable
	before := refusals(t, v1.ReasonReconcileError)
	if _, err := i.reconcile(); !errors.Is(err, unavailable) {
		t.Fatalf("Reconcile returned %v, want the failed apply's error", err)
	}
	if c := i.reconciled(); c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonReconcileError || !strings.Contains(c.Message, unavailable.Error()) {
		t.Errorf("Reconciled is %s/%s %q, want False/ReconcileError with the failure", c.Status, c.Reason, c.Message)
	}
	if got := i.events.take(); len(got) != 0 {
		t.Errorf("a failed apply recorded %q, want no Event", got)
	}
	if got := refusals(t, v1.ReasonReconcileError) - before; got != 0 {
		t.Errorf("a failed apply was counted as %v refusals", got)
	}
	i.failApply = nil
	if _, err := i.reconcile(); err != nil || i.configMap() == nil {
		t.Errorf("the retry: %v; want the ConfigMap applied", err)
	}
	if c := i.reconciled(); c.Status != metav1.ConditionTrue {
		t.Errorf("after the retry Reconciled is %s, want True", c.Status)
	}
}

// TestInstallerRemovesWhatItInstalledWhenDeleted: a resource being deleted has its objects removed
// (recorded in an Event and as action removed), is forgotten, and loses its finalizer, so it is gone;
// a reconcile of a resource that is gone does nothing.
func TestInstallerRemovesWhatItInstalledWhenDeleted(t *testing.T) {
	i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
		return chart("cm", rev.Spec.Namespace, rev.Name, "a")
	})
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	i.events.take()
	if err := i.c.Delete(t.Context(), i.rev); err != nil {
		t.Fatal(err)
	}
	removed := value(t, metrics.Applies.WithLabelValues(v1.KindIstioRevision, "removed"))
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	if cm := i.configMap(); cm != nil {
		t.Errorf("the revision's ConfigMap is still there after its removal")
	}
	if got := i.events.take(); len(got) != 1 || got[0] != "Normal Removed: removed 1 objects" {
		t.Errorf("Events %q, want one Removed", got)
	}
	if got := value(t, metrics.Applies.WithLabelValues(v1.KindIstioRevision, "removed")) - removed; got != 1 {
		t.Errorf("bosun_applied_objects_total{action=removed} grew by %v, want 1", got)
	}
	if err := i.c.Get(t.Context(), client.ObjectKey{Name: i.rev.Name}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
		t.Errorf("the revision is still there (%v), want its finalizer removed", err)
	}
	if len(i.kind.forgotten) != 1 || i.kind.forgotten[0] != i.rev.Name {
		t.Errorf("the kind forgot %q, want the revision", i.kind.forgotten)
	}
	if writes, err := i.reconcile(); err != nil || writes != 0 || i.kind.reconciling != 1 {
		t.Errorf("a reconcile of a revision that is gone: %v, %d writes; want nothing done", err, writes)
	}
}

// TestAReconcileOfAGoneObjectIsNotAnError: a reconcile queued before the cache saw a deleted revision
// go reads it once more, finalizer and all, though the reconcile before removed the finalizer and the
// API server deleted it. That reconcile removes nothing and is not an error: an error would be
// retried, with backoff, until the cache caught up.
func TestAReconcileOfAGoneObjectIsNotAnError(t *testing.T) {
	i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
		return chart("cm", rev.Spec.Namespace, rev.Name, "a")
	})
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := i.c.Delete(t.Context(), i.rev); err != nil {
		t.Fatal(err)
	}
	stale := &v1.IstioRevision{}
	if err := i.c.Get(t.Context(), client.ObjectKey{Name: i.rev.Name}, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	// A cache that has not caught up still returns the revision as it was before its finalizer went.
	i.in.Client = interceptor.NewClient(i.c.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if rev, ok := obj.(*v1.IstioRevision); ok && key.Name == stale.Name {
				stale.DeepCopyInto(rev)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	if _, err := i.in.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKey{Name: stale.Name}}); err != nil {
		t.Errorf("a reconcile of a revision already gone: %v, want no error", err)
	}
}

// TestInstallerTimesItsPhases: a reconcile that applies records the time of each of its phases, read,
// decide, render, apply and status, in bosun_reconcile_phase_seconds.
func TestInstallerTimesItsPhases(t *testing.T) {
	i := newInstaller(t, func(rev *v1.IstioRevision, _ *desired.Facts) desired.Plan {
		return chart("cm", rev.Spec.Namespace, rev.Name, "a")
	})
	phases := []string{"read", "decide", "render", "apply", "status"}
	samples := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, phase := range phases {
			m := &dto.Metric{}
			if err := metrics.ReconcilePhase.WithLabelValues(v1.KindIstioRevision, phase).(prometheus.Histogram).Write(m); err != nil {
				t.Fatal(err)
			}
			out[phase] = m.GetHistogram().GetSampleCount()
		}
		return out
	}
	before := samples()
	if _, err := i.reconcile(); err != nil {
		t.Fatal(err)
	}
	after := samples()
	for _, phase := range phases {
		if after[phase]-before[phase] != 1 {
			t.Errorf("phase %s: %d samples, want 1", phase, after[phase]-before[phase])
		}
	}
}
