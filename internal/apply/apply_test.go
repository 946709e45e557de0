//go:build integration

package apply_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		return nil
	}))
}

// writes counts the write requests a client sends.
type writes struct {
	mu    sync.Mutex
	count int
}

func (w *writes) add() {
	w.mu.Lock()
	w.count++
	w.mu.Unlock()
}

func (w *writes) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.count
	w.count = 0
	return n
}

// env is one test's applier over the real API server, reading without a cache, and an owner.
type env struct {
	t       *testing.T
	c       client.Client
	applier *apply.Applier
	writes  *writes
	owner   *corev1.Namespace
	ns      string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The owner is a cluster-scoped object, as bosun's resources are; a Namespace does for these tests,
	// and holds the namespaced objects too.
	owner := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "apply-"}}
	if err := c.Create(t.Context(), owner); err != nil {
		t.Fatal(err)
	}
	owner.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	w := &writes{}
	writer := interceptor.NewClient(c, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.add()
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.add()
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, applier: apply.New(writer, c, c, served), writes: w, owner: owner, ns: owner.Name}
}

// objects are a small component: a ConfigMap, a Service whose ports leave protocol to the API server's
// default, a Deployment and a validating webhook configuration, prepared as render prepares them.
func (e *env) objects(replicas int, configValue string) []*unstructured.Unstructured {
	docs := []string{`
apiVersion: v1
kind: ConfigMap
metadata: {name: mesh, namespace: NS}
data: {mesh: "` + configValue + `"}`, `
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: NS}
spec:
  selector: {app: istiod}
  ports:
  - {name: grpc-xds, port: 15010}
  - {name: https-webhook, port: 443, targetPort: 15017}`, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: NS}
spec:
  replicas: ` + itoa(replicas) + `
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      containers:
      - name: discovery
        image: pilot:1
        args: [discovery, --monitoringAddr=:15014]
        ports: [{containerPort: 8080}, {containerPort: 15010}]
        env: [{name: REVISION, value: default}]
        resources: {requests: {cpu: 500m, memory: 2048Mi}}`, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: validator-NS}
webhooks:
- name: rev.validation.istio.io
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
  clientConfig:
    service: {name: istiod, namespace: NS, path: /validate}
  rules:
  - operations: [CREATE, UPDATE]
    apiGroups: [networking.istio.io]
    apiVersions: ["*"]
    resources: ["*"]`}
	var out []*unstructured.Unstructured
	for _, d := range docs {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(replaceNS(d, e.ns)), &obj.Object); err != nil {
			e.t.Fatal(err)
		}
		render.Prepare(obj, render.Owner{Kind: "Namespace", Name: e.ns})
		out = append(out, obj)
	}
	return out
}

func (e *env) apply(objs []*unstructured.Unstructured) apply.Result {
	e.t.Helper()
	res, err := e.applier.Apply(e.t.Context(), apply.Component{Owner: e.owner, Objects: objs})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) get(kind, apiVersion, name string) *unstructured.Unstructured {
	e.t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	ns := e.ns
	if kind == "ValidatingWebhookConfiguration" {
		ns = ""
	}
	if err := e.c.Get(e.t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		e.t.Fatalf("get %s %s: %v", kind, name, err)
	}
	return obj
}

// TestApplyConvergesAndThenWritesNothing: the first apply creates every object with an owner reference;
// applying the same objects again sends nothing at all (DESIGN decision 4).
func TestApplyConvergesAndThenWritesNothing(t *testing.T) {
	e := newEnv(t)
	res := e.apply(e.objects(1, "a"))
	if len(res.Created) != 4 || e.writes.take() != 4 {
		t.Fatalf("first apply: %s; want 4 objects created with 4 writes", res)
	}
	deploy := e.get("Deployment", "apps/v1", "istiod")
	if refs := deploy.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != e.owner.UID || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("owner references = %+v, want the owner as controller", refs)
	}
	for range 2 {
		res = e.apply(e.objects(1, "a"))
		if res.Changed() || res.Unchanged != 4 {
			t.Errorf("repeated apply: %s (%d unchanged); want no change", res, res.Unchanged)
		}
		if n := e.writes.take(); n != 0 {
			t.Errorf("repeated apply sent %d writes, want 0", n)
		}
	}
}

// TestApplyReportsOnlyTheUpdatesItWrote: when an update fails midway, the result names the objects
// updated before it and not the one that failed, as for creations (TestApplyReportsOnlyWhatItWrote).
func TestApplyReportsOnlyTheUpdatesItWrote(t *testing.T) {
	e := newEnv(t)
	failing := errors.New("the API server is unavailable")
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	applies, failAt := 0, 0
	writer := interceptor.NewClient(c, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if applies++; applies == failAt {
				return failing
			}
			return c.Apply(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	applier := apply.New(writer, e.c, e.c, served)
	if _, err := applier.Apply(t.Context(), apply.Component{Owner: e.owner, Objects: e.objects(1, "a")}); err != nil {
		t.Fatal(err)
	}
	// A new value and a new replica count: the ConfigMap is updated, then the Deployment's update fails.
	failAt = applies + 2
	res, err := applier.Apply(t.Context(), apply.Component{Owner: e.owner, Objects: e.objects(2, "b")})
	if !errors.Is(err, failing) {
		t.Fatalf("Apply returned %v, want the failed write's error", err)
	}
	if len(res.Updated) != 1 || res.Updated[0].GVK.Kind != "ConfigMap" {
		t.Errorf("Apply reports %s, want the ConfigMap updated and not the Deployment that failed", res)
	}
}

// TestApplyUpdatesOnlyWhatChanged: a changed value re-applies that object only.
func TestApplyUpdatesOnlyWhatChanged(t *testing.T) {
	e := newEnv(t)
	e.apply(e.objects(1, "a"))
	e.writes.take()
	res := e.apply(e.objects(1, "b"))
	if len(res.Updated) != 1 || res.Updated[0].GVK.Kind != "ConfigMap" || e.writes.take() != 1 {
		t.Fatalf("apply with a changed ConfigMap: %s; want only the ConfigMap updated, with one write", res)
	}
	if got, _, _ := unstructured.NestedString(e.get("ConfigMap", "v1", "mesh").Object, "data", "mesh"); got != "b" {
		t.Errorf("ConfigMap data = %q, want b", got)
	}
}

// TestApplyCorrectsDriftAndLeavesOthersFieldsAlone: a field bosun set and someone changed is put back,
// on that object only; a label someone else added stays; a deleted object is recreated.
func TestApplyCorrectsDriftAndLeavesOthersFieldsAlone(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.apply(e.objects(1, "a"))
	e.writes.take()

	deploy := e.get("Deployment", "apps/v1", "istiod")
	if err := unstructured.SetNestedField(deploy.Object, int64(3), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	labels := deploy.GetLabels()
	labels["team"] = "mesh"
	deploy.SetLabels(labels)
	if err := e.c.Update(ctx, deploy, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	res := e.apply(e.objects(1, "a"))
	if len(res.Corrected) != 1 || res.Corrected[0].GVK.Kind != "Deployment" || e.writes.take() != 1 {
		t.Fatalf("apply after kubectl edit of replicas: %s; want the Deployment corrected with one write", res)
	}
	deploy = e.get("Deployment", "apps/v1", "istiod")
	if r, _, _ := unstructured.NestedInt64(deploy.Object, "spec", "replicas"); r != 1 {
		t.Errorf("replicas = %d after the correction, want 1", r)
	}
	if deploy.GetLabels()["team"] != "mesh" {
		t.Errorf("the label someone else set was removed: %v", deploy.GetLabels())
	}
	if res := e.apply(e.objects(1, "a")); res.Changed() {
		t.Errorf("apply after the correction: %s, want no change", res)
	}

	cm := e.get("ConfigMap", "v1", "mesh")
	if err := e.c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	res = e.apply(e.objects(1, "a"))
	if len(res.Created) != 1 || res.Created[0].GVK.Kind != "ConfigMap" {
		t.Errorf("apply after the ConfigMap was deleted: %s; want it recreated", res)
	}
}

// TestApplyLeavesIstiodsWebhookFields: istiod flips the validating webhook's failurePolicy and writes
// caBundle; bosun neither reverts them nor sees drift in them (docs/architecture.md#lesson-istiod-webhook-fields).
func TestApplyLeavesIstiodsWebhookFields(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.apply(e.objects(1, "a"))
	vwc := e.get("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "validator-"+e.ns)
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	hook := hooks[0].(map[string]any)
	if hook["failurePolicy"] != "Ignore" {
		t.Fatalf("created with failurePolicy %v, want the chart's Ignore", hook["failurePolicy"])
	}
	hook["failurePolicy"] = "Fail"
	hook["clientConfig"].(map[string]any)["caBundle"] = "Y2E="
	if err := unstructured.SetNestedSlice(vwc.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Update(ctx, vwc, client.FieldOwner("pilot-discovery")); err != nil {
		t.Fatal(err)
	}
	e.writes.take()
	// A changed chart value makes bosun send the webhook configuration again, without failurePolicy.
	objs := e.objects(1, "a")
	vwcObj := objs[3]
	vwcObj.SetLabels(map[string]string{"chart": "changed"})
	render.Prepare(vwcObj, render.Owner{Kind: "Namespace", Name: e.ns})
	for range 2 {
		e.apply(objs)
	}
	hooks, _, _ = unstructured.NestedSlice(e.get("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "validator-"+e.ns).Object, "webhooks")
	hook = hooks[0].(map[string]any)
	if hook["failurePolicy"] != "Fail" || hook["clientConfig"].(map[string]any)["caBundle"] != "Y2E=" {
		t.Errorf("after bosun applied again: failurePolicy %v, caBundle %v; want istiod's Fail and Y2E=", hook["failurePolicy"], hook["clientConfig"].(map[string]any)["caBundle"])
	}
	if n := e.writes.take(); n != 1 {
		t.Errorf("%d writes for one changed webhook configuration applied twice, want 1", n)
	}
}

// TestApplyPrunesWhatLeftTheChartAndNothingElse: an object no longer rendered is deleted; an object
// that carries the owner's labels but was not applied by bosun is kept, and so is everything of
// another owner. Delete removes the whole inventory.
func TestApplyPrunesWhatLeftTheChartAndNothingElse(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	objs := e.objects(1, "a")
	e.apply(objs)

	// A ConfigMap someone created by hand with bosun's labels, as an EndpointSlice mirrors its
	// Service's labels: not bosun's to delete.
	lookalike := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "lookalike", Namespace: e.ns, Labels: objs[0].GetLabels()}}
	if err := e.c.Create(ctx, lookalike); err != nil {
		t.Fatal(err)
	}
	res := e.apply(slices.Delete(slices.Clone(objs), 0, 1)) // without the ConfigMap
	if len(res.Pruned) != 1 || res.Pruned[0].Name != "mesh" {
		t.Fatalf("apply without the ConfigMap: %s; want ConfigMap mesh pruned", res)
	}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(lookalike), &corev1.ConfigMap{}); err != nil {
		t.Errorf("the ConfigMap bosun did not apply was touched: %v", err)
	}

	deleted, err := e.applier.Delete(ctx, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 3 {
		t.Errorf("Delete removed %v, want the 3 remaining objects", deleted)
	}
	err = e.c.Get(ctx, client.ObjectKey{Name: "validator-" + e.ns}, e.get0("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1"))
	if !apierrors.IsNotFound(err) {
		t.Errorf("the cluster-scoped webhook configuration is still there after Delete: %v", err)
	}
}

// TestApplyRefusesKindsOutsideTheInventory: a chart object of a kind bosun does not track is refused
// before anything is written.
func TestApplyRefusesKindsOutsideTheInventory(t *testing.T) {
	e := newEnv(t)
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "namespace": e.ns},
	}}
	_, err := e.applier.Apply(t.Context(), apply.Component{Owner: e.owner, Objects: []*unstructured.Unstructured{secret}})
	if err == nil {
		t.Fatal("applying a Secret succeeded, want a refusal")
	}
	if n := e.writes.take(); n != 0 {
		t.Errorf("%d writes before the refusal, want 0", n)
	}
}

func (e *env) get0(kind, apiVersion string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	return obj
}

func itoa(i int) string { return strconv.Itoa(i) }

func replaceNS(doc, ns string) string { return strings.ReplaceAll(doc, "NS", ns) }

// TestApplyReportsOnlyWhatItWrote: when a write fails midway, the result names the objects written
// before it and not the one that failed, and Delete likewise returns what it deleted before failing:
// the Events and metrics made from them must not claim a change the cluster did not see.
func TestApplyReportsOnlyWhatItWrote(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	failing := errors.New("the API server is unavailable")
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	applies, deletes := 0, 0
	writer := interceptor.NewClient(c, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			// The third object is the Deployment.
			if applies++; applies == 3 {
				return failing
			}
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if deletes++; deletes == 2 {
				return failing
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	var res apply.Result
	applier := apply.New(writer, e.c, e.c, served)

	res, err = applier.Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")})
	if !errors.Is(err, failing) {
		t.Fatalf("Apply returned %v, want the failed write's error", err)
	}
	var created []string
	for _, ref := range res.Created {
		created = append(created, ref.GVK.Kind)
	}
	if !slices.Equal(created, []string{"ConfigMap", "Service"}) {
		t.Errorf("Apply reports %s, want the ConfigMap and the Service created and not the Deployment that failed", res)
	}

	deleted, err := applier.Delete(ctx, e.owner)
	if !errors.Is(err, failing) {
		t.Fatalf("Delete returned %v, want the failed delete's error", err)
	}
	if len(deleted) != 1 {
		t.Errorf("Delete reports %v, want the one object it deleted before the second delete failed", deleted)
	}
}

// TestApplySendsAWaveOnlyAfterTheOneBefore: the objects of one wave (render.Wave) are sent side by
// side, but no workload is sent before the configuration and services its pods need were stored, and
// no webhook before the workloads: a pod whose ServiceAccount is missing is refused, and a webhook
// that points at a service not yet running blocks what follows it.
func TestApplySendsAWaveOnlyAfterTheOneBefore(t *testing.T) {
	e := newEnv(t)
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string // "start Kind" and "end Kind", in the order they happened
	writer := interceptor.NewClient(c, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			kind := obj.(interface{ GetKind() string }).GetKind()
			mu.Lock()
			events = append(events, "start "+kind)
			mu.Unlock()
			err := c.Apply(ctx, obj, opts...)
			mu.Lock()
			events = append(events, "end "+kind)
			mu.Unlock()
			return err
		},
	})
	served, err := apply.ServedKinds(e.c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	objs := e.objects(1, "a")
	render.Sort(objs)
	if _, err := apply.New(writer, e.c, e.c, served).Apply(t.Context(), apply.Component{Owner: e.owner, Objects: objs}); err != nil {
		t.Fatal(err)
	}
	wave := map[string]int{}
	for _, o := range objs {
		wave[o.GetKind()] = render.Wave(o)
	}
	if wave["ConfigMap"] != 0 || wave["Service"] != 0 || wave["Deployment"] != 1 || wave["ValidatingWebhookConfiguration"] != 2 {
		t.Fatalf("waves %v: want the configuration and services first, then the workload, then the webhook", wave)
	}
	ended := map[int]int{}
	for i, ev := range events {
		what, kind, _ := strings.Cut(ev, " ")
		w := wave[kind]
		if what == "end" {
			ended[w]++
			continue
		}
		for earlier := range w {
			if want := countWave(objs, earlier); ended[earlier] != want {
				t.Errorf("event %d: %s was sent when %d of the %d objects of wave %d were stored (events %q)", i, kind, ended[earlier], want, earlier, events)
			}
		}
	}
}

// countWave counts the objects of a wave.
func countWave(objs []*unstructured.Unstructured, wave int) int {
	n := 0
	for _, o := range objs {
		if render.Wave(o) == wave {
			n++
		}
	}
	return n
}
