// Package operatortest runs bosun's operator in a test binary against a real kube-apiserver and etcd
// (the cluster in a box without its scheduler, kubelet or istiod), for the controllers' integration
// suites. Nothing plays workloads here: a test rolls out a Deployment or a DaemonSet by writing its
// status (RollOut), which is what the operator reads. A suite starts one cluster and one operator in
// its TestMain (Main); each test works in objects of its own.
//
// Columns checks what `kubectl get` prints: it watches a kind's Table rows, as the API server prints
// them, together with the objects, for as long as a test runs, and fails the test when a row
// contradicts itself.
package operatortest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Timeout bounds every wait for the operator to act.
const Timeout = 30 * time.Second

var (
	// Config reaches the API server Main started, as its admin.
	Config *rest.Config
	// logs holds the operator's log, printed when a suite fails.
	logs syncBuffer
	// env is what the operator decides with.
	env desired.Env
)

// Env is what the operator Main started decides with: the built-in catalog, the repository's charts
// and the Kubernetes platform. Tests use it to build what a controller would, an Istio's revision say.
func Env() desired.Env { return env }

// Main starts the API server and etcd, installs bosun's CRDs, runs the operator in this process with
// the built-in catalog, the repository's charts (fetched if missing) and InUse counts refreshed every
// second, runs the tests, and stops everything. edit, when not nil, changes the operator's options.
// It returns the exit code for os.Exit.
func Main(m *testing.M, edit func(*operator.Options)) int {
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.DefaultStartTimeout)
	defer cancel()
	resources, err := charts.Ensure(io.Discard)
	if err != nil {
		fmt.Fprintf(os.Stderr, "the operator needs Istio's charts: %v\n", err)
		return 1
	}
	cluster, err := testcluster.Start(ctx, testcluster.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the test cluster: %v\n", err)
		return 1
	}
	defer cluster.Stop()
	Config = cluster.Config()
	Config.WarningHandler = rest.NoWarnings{}
	if err := crd.Install(ctx, Config, time.Minute); err != nil {
		fmt.Fprintf(os.Stderr, "installing bosun's CRDs: %v\n", err)
		return 1
	}
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	opts := operator.Options{
		Catalog: catalog.Embedded(), Resources: os.DirFS(resources), Platform: values.Kubernetes, BosunVersion: "test",
		MetricsAddr: "0", HealthAddr: "0",
		// A count that changed is told within a second, not the default 30, so that a test waiting for
		// a count sees it well within its timeout.
		InUseRefreshInterval: time.Second,
	}
	env = desired.Env{Catalog: opts.Catalog, Resources: opts.Resources, Platform: opts.Platform}
	if edit != nil {
		edit(&opts)
	}
	mgr, err := operator.New(Config, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the operator: %v\n", err)
		return 1
	}
	run, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(run) }()
	code := m.Run()
	stop()
	if err := <-done; err != nil {
		fmt.Fprintf(os.Stderr, "the operator stopped with an error: %v\n", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "operator log (last 80 lines):\n%s\ncluster logs (%s):\n%s\n", logs.tail(80), cluster.Dir(), cluster.Logs(30))
	}
	return code
}

// Client returns a client that reads from the API server itself, never a cache, with bosun's kinds.
func Client(t testing.TB) client.Client {
	t.Helper()
	c, err := client.New(Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitFor polls cond until it returns nil, and fails the test with its last error after Timeout.
func WaitFor(t testing.TB, what string, cond func(ctx context.Context) error) {
	t.Helper()
	// Not t.Context(): cleanups wait too, after the test's context is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var err error
	for {
		if err = cond(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Namespace creates a namespace with labels, removed when the test ends.
func Namespace(t testing.TB, c client.Client, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
}

// Create creates obj and deletes it when the test ends, waiting until it is gone, so that the
// finalizers of bosun's resources have run.
func Create(t testing.TB, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { Delete(t, c, obj) })
}

// Delete deletes obj and waits until it is gone. The cluster here runs no garbage collector, so
// Delete removes what the collector would: the IstioRevisions an Istio owns, and waits for them too.
func Delete(t testing.TB, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); client.IgnoreNotFound(err) != nil {
		t.Errorf("reading %s: %v", obj.GetName(), err)
		return
	}
	if err := c.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting %s: %v", obj.GetName(), err)
		return
	}
	if obj.GetObjectKind().GroupVersionKind().Kind == v1.KindIstio || isIstio(obj) {
		var revs v1.IstioRevisionList
		if err := c.List(context.Background(), &revs); err != nil {
			t.Errorf("listing the revisions of %s: %v", obj.GetName(), err)
		}
		for i := range revs.Items {
			if ref := metav1.GetControllerOf(&revs.Items[i]); ref != nil && ref.UID == obj.GetUID() {
				Delete(t, c, &revs.Items[i])
			}
		}
	}
	key := client.ObjectKeyFromObject(obj)
	WaitFor(t, fmt.Sprintf("%T %s to be gone", obj, key.Name), func(ctx context.Context) error {
		fresh := obj.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, key, fresh); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		return fmt.Errorf("still there, finalizers %v", fresh.GetFinalizers())
	})
}

func isIstio(obj client.Object) bool {
	_, ok := obj.(*v1.Istio)
	return ok
}

// Update reads obj, changes it with edit and writes it back, retrying on a conflict.
func Update[T client.Object](t testing.TB, c client.Client, obj T, edit func(T)) {
	t.Helper()
	WaitFor(t, "updating "+obj.GetName(), func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		edit(obj)
		return c.Update(ctx, obj)
	})
}

// Condition returns the condition of type t, or an error saying it is not there yet.
func Condition(conditions []metav1.Condition, t string) (metav1.Condition, error) {
	c := meta.FindStatusCondition(conditions, t)
	if c == nil {
		return metav1.Condition{}, fmt.Errorf("no %s condition yet", t)
	}
	return *c, nil
}

// HasCondition returns nil when conditions hold a condition of type t with the status and reason.
func HasCondition(conditions []metav1.Condition, t string, status metav1.ConditionStatus, reason string) error {
	c, err := Condition(conditions, t)
	if err != nil {
		return err
	}
	if c.Status != status || c.Reason != reason {
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", t, c.Status, c.Reason, c.Message, status, reason)
	}
	return nil
}

// RollOut makes a Deployment look rolled out, as its controller and kubelets would report it: the
// latest generation observed, every replica updated, ready and available. It waits for a change to
// roll out first: the Deployment to exist with a generation its status has not observed.
func RollOut(t testing.TB, c client.Client, namespace, name string) {
	t.Helper()
	WaitFor(t, "Deployment "+namespace+"/"+name+" to roll out", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		if d.Status.ObservedGeneration >= d.Generation {
			return fmt.Errorf("nothing to roll out: generation %d observed", d.Generation)
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			},
		}
		return c.Status().Update(ctx, d)
	})
}

// RollOutDaemonSet makes a DaemonSet look rolled out on nodes nodes, once it has a change to roll out.
func RollOutDaemonSet(t testing.TB, c client.Client, namespace, name string, nodes int32) {
	t.Helper()
	WaitFor(t, "DaemonSet "+namespace+"/"+name+" to roll out", func(ctx context.Context) error {
		ds := &appsv1.DaemonSet{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, ds); err != nil {
			return err
		}
		if ds.Status.ObservedGeneration >= ds.Generation {
			return fmt.Errorf("nothing to roll out: generation %d observed", ds.Generation)
		}
		ds.Status = appsv1.DaemonSetStatus{
			ObservedGeneration: ds.Generation, DesiredNumberScheduled: nodes, CurrentNumberScheduled: nodes,
			UpdatedNumberScheduled: nodes, NumberReady: nodes, NumberAvailable: nodes,
		}
		return c.Status().Update(ctx, ds)
	})
}

// Events returns the Events recorded on the object of kind and name, as "Type Reason", once per
// occurrence.
func Events(ctx context.Context, c client.Client, kind, name string) ([]string, error) {
	var list eventsv1.EventList
	if err := c.List(ctx, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			n := int32(1)
			if e.Series != nil {
				n = e.Series.Count
			}
			for range n {
				out = append(out, e.Type+" "+e.Reason)
			}
		}
	}
	return out, nil
}

// CounterSum sums the series of a counter of the operator in this process (controller-runtime's
// registry, where bosun's metrics are too) that carry every one of labels, with its value.
func CounterSum(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// syncBuffer is a log kept in memory, safe for the operator's goroutines.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines[max(len(b.lines)-n, 0):], "\n")
}

// NextSecond waits until the clock (the API server's: they share the machine) is in a later second
// than obj's creation, so that what is created next is younger by its creation time, which the API
// server keeps in whole seconds.
func NextSecond(t testing.TB, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	created := obj.GetCreationTimestamp().Time
	WaitFor(t, "a second after "+obj.GetName()+"'s creation", func(context.Context) error {
		if time.Now().Truncate(time.Second).After(created) {
			return nil
		}
		return fmt.Errorf("still the second of %s", created)
	})
}
