//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/values"
)

const (
	crdTimeout = time.Minute
	// waitTimeout bounds every wait for the operator or the cluster to act.
	waitTimeout = 90 * time.Second
)

// startOperator runs the operator in the test process with a test catalog whose v1.24-latest points
// at latest124, allowed to take over the objects of the adopt field managers, until the test ends or
// the returned stop is called.
func startOperator(t *testing.T, latest124 string, adopt ...string) (stop func()) {
	t.Helper()
	return startOperatorWith(t, latest124, func(o *operator.Options) { o.Adopt = adopt })
}

// startOperatorWith is startOperator with options changed by edit.
func startOperatorWith(t *testing.T, latest124 string, edit func(*operator.Options)) (stop func()) {
	t.Helper()
	return startOperatorOn(t, cfg, latest124, edit)
}

// startOperatorOn is startOperatorWith against the cluster config reaches: a second box, say.
func startOperatorOn(t *testing.T, cfg *rest.Config, latest124 string, edit func(*operator.Options)) (stop func()) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "versions.yaml")
	if err := os.WriteFile(file, []byte(catalogYAML(latest124)), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	opts := operator.Options{
		Catalog: cat, Resources: os.DirFS(resources), Platform: values.Kubernetes, BosunVersion: "e2e",
		MetricsAddr: "0", HealthAddr: "0",
	}
	edit(&opts)
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	logs := operatorLog.capture()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator log (last %d lines):\n%s", operatorLogLines, logs.tail(operatorLogLines))
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the operator stopped with an error: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// newClient returns a client that reads from the API server, with bosun's kinds.
func newClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it returns nil, and fails the test with its last error after waitTimeout.
func waitFor(t *testing.T, what string, cond func(ctx context.Context) error) {
	t.Helper()
	// Not t.Context(): cleanups wait too, after the test's context is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	deadline := time.Now().Add(waitTimeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("timed out after %s waiting for %s: %v", waitTimeout, what, err)
}

// applyYAML creates or updates objects from a manifest with server-side apply, as kubectl apply
// --server-side does.
func applyYAML(t *testing.T, c client.Client, manifest string) {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// applyErr applies one object and returns the API server's answer.
func applyErr(ctx context.Context, c client.Client, manifest string) error {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kubectl"), client.ForceOwnership)
}

// mergePatch patches an object as `kubectl patch --type=merge` does.
func mergePatch(t *testing.T, c client.Client, obj client.Object, patch string) {
	t.Helper()
	if err := c.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatalf("patching %s: %v", obj.GetName(), err)
	}
}

// ensureNamespace creates an unlabelled namespace unless it exists, and leaves it when the test ends:
// tests share the control planes' namespaces (istio-system, istio-cni, ztunnel), and a namespace
// without labels selects no revision, so one left behind changes no count another test checks. A
// namespace with labels, for workloads, is appNamespace's: it goes when its test ends.
func ensureNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// labelNamespace sets (or, with an empty value, removes) a namespace label, like kubectl label
// --overwrite.
func labelNamespace(t *testing.T, c client.Client, name, key, value string) {
	t.Helper()
	v := `"` + value + `"`
	if value == "" {
		v = "null"
	}
	mergePatch(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, `{"metadata":{"labels":{"`+key+`":`+v+`}}}`)
}

// workloadPods creates n pods in a namespace whose labels select a revision, each passing through
// Istio's injector, checks that istiod injected every one from revision rev (its istio.io/rev
// annotation and an istio-proxy container), and returns their names.
func workloadPods(t *testing.T, c client.Client, namespace, prefix, rev string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: namespace, Labels: map[string]string{"app": prefix}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}},
		}
		if err := c.Create(t.Context(), pod); err != nil {
			t.Fatalf("creating pod %s: %v", pod.Name, err)
		}
		proxied := slices.ContainsFunc(append(pod.Spec.InitContainers, pod.Spec.Containers...), func(c corev1.Container) bool { return c.Name == "istio-proxy" })
		if got := pod.Annotations["istio.io/rev"]; got != rev || !proxied {
			t.Fatalf("pod %s/%s was injected by revision %q (istio-proxy: %t), want %q", namespace, pod.Name, got, proxied, rev)
		}
		names = append(names, pod.Name)
	}
	return names
}

// deletePods deletes pods at once (no grace period), as a restart replaces them.
func deletePods(t *testing.T, c client.Client, namespace string, names []string) {
	t.Helper()
	for _, name := range names {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		if err := c.Delete(context.Background(), pod, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
}

// condition returns a condition of a bosun resource, or an error saying it is not there yet.
func condition(conditions []metav1.Condition, t string) (metav1.Condition, error) {
	c := meta.FindStatusCondition(conditions, t)
	if c == nil {
		return metav1.Condition{}, fmt.Errorf("no %s condition yet", t)
	}
	return *c, nil
}

// istioHealthy waits until an Istio has reconciled its latest generation and is Healthy.
func istioHealthy(t *testing.T, c client.Client, name string) *v1.Istio {
	t.Helper()
	istio := &v1.Istio{}
	waitFor(t, "Istio "+name+" to be Healthy", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, istio); err != nil {
			return err
		}
		if istio.Status.ObservedGeneration != istio.Generation || istio.Status.State != v1.StateHealthy {
			return fmt.Errorf("generation %d, observed %d, state %q, conditions %+v", istio.Generation, istio.Status.ObservedGeneration, istio.Status.State, istio.Status.Conditions)
		}
		return nil
	})
	return istio
}

// table returns what `kubectl get <resource>` prints, as the API server's Table rows (cells as text).
func table(t *testing.T, resource string) [][]string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := cs.RESTClient().Get().AbsPath("/apis/sailoperator.io/v1/"+resource).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(data, &tbl); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, r := range tbl.Rows {
		var cells []string
		for i, cell := range r.Cells {
			if tbl.ColumnDefinitions[i].Priority > 0 || tbl.ColumnDefinitions[i].Name == "Age" {
				continue
			}
			cells = append(cells, fmt.Sprint(cell))
		}
		rows = append(rows, cells)
	}
	return rows
}

// row finds a table row by its name.
func row(rows [][]string, name string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == name {
			return r
		}
	}
	return nil
}

// waitQuiet waits until the operator has sent no API write for three seconds (the status writes that
// follow readiness, the HPA's first look at istiod) and returns its write count then. A converged
// operator writes nothing, so what the test does next is measured from there.
func waitQuiet(t *testing.T) float64 {
	t.Helper()
	var writes float64
	waitFor(t, "the operator to go quiet", func(ctx context.Context) error {
		writes = counter(t, "bosun_api_writes_total", nil)
		time.Sleep(3 * time.Second)
		if now := counter(t, "bosun_api_writes_total", nil); now != writes {
			return fmt.Errorf("%v writes in the last seconds", now-writes)
		}
		return nil
	})
	return writes
}

// counter reads the value of a counter of the operator's metrics, summed over the series whose labels
// include the given ones.
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return metricSum(t, name, labels, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

// metricSum sums value over the series of a metric of the in-process operator whose labels include
// the given ones.
func metricSum(t *testing.T, name string, labels map[string]string, value func(*dto.Metric) float64) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return seriesSum(byName, name, labels, value)
}

// seriesSum sums value over the series of a metric family whose labels include the given ones.
func seriesSum(families map[string]*dto.MetricFamily, name string, labels map[string]string, value func(*dto.Metric) float64) float64 {
	var sum float64
series:
	for _, m := range families[name].GetMetric() {
		for k, v := range labels {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
				continue series
			}
		}
		sum += value(m)
	}
	return sum
}

// metaItems returns the names (namespace/name) of a list's items.
func metaItems(list client.ObjectList) ([]string, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		names = append(names, m.GetNamespace()+"/"+m.GetName())
	}
	return names, nil
}

// operatorLogLines is how much of the operator's log a failed test shows.
const operatorLogLines = 80

// operatorLog receives the log of the operator the current test runs (tests run one at a time).
var operatorLog = &logSwitch{}

func init() {
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(operatorLog, &slog.HandlerOptions{Level: slog.Level(-1)})))
}

// logSwitch is an io.Writer whose lines go to the buffer of the latest capture.
type logSwitch struct {
	mu  sync.Mutex
	buf *logBuffer
}

func (s *logSwitch) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf != nil {
		s.buf.lines = append(s.buf.lines, strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (s *logSwitch) capture() *logBuffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = &logBuffer{sw: s}
	return s.buf
}

type logBuffer struct {
	sw    *logSwitch
	lines []string
}

func (b *logBuffer) tail(n int) string {
	b.sw.mu.Lock()
	defer b.sw.mu.Unlock()
	return strings.Join(b.lines[max(0, len(b.lines)-n):], "\n")
}

// series lists a metric's series with their values, for messages.
func series(t *testing.T, name string) []string {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("{%s} %v", strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	return out
}

// installIstio creates a namespace and an InPlace Istio in it on a version, deletes the Istio when the
// test ends (while the test's operator still runs), and waits until it is Healthy.
func installIstio(t *testing.T, c client.Client, name, namespace, version string) *v1.Istio {
	t.Helper()
	ensureNamespace(t, c, namespace)
	applyYAML(t, c, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %s
spec:
  namespace: %s
  version: %s`, name, namespace, version))
	t.Cleanup(func() { deleteIstio(t, c, name) })
	return istioHealthy(t, c, name)
}
