//go:build integration

package status_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd and bosun's CRDs) that TestMain starts once.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		cfg.WarningHandler = rest.NoWarnings{}
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}

// statusWrites counts the status applies a client sends, and fails the next one when failNext is set.
type statusWrites struct {
	mu       sync.Mutex
	count    int
	failNext error
}

func (s *statusWrites) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.count
	s.count = 0
	return n
}

// setup returns a client that reads the API server directly, a Writer whose status applies are
// counted, and a new IstioRevision to write the status of.
func setup(t *testing.T, name string) (client.Client, *status.Writer, *statusWrites, *v1.IstioRevision) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	sw := &statusWrites{}
	counted := interceptor.NewClient(c, interceptor.Funcs{
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			sw.mu.Lock()
			sw.count++
			fail := sw.failNext
			sw.failNext = nil
			sw.mu.Unlock()
			if fail != nil {
				return fail
			}
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})
	ns := "istio-system"
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{
		Version: "v1.27.0-snapshot.b9159ca3", Namespace: ns, Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: &ns}},
	}}
	if err := c.Create(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), rev) })
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	return c, &status.Writer{Client: counted, Manager: "bosun-revision"}, sw, rev
}

// revStatus is a revision's status with Ready of the given status.
func revStatus(ready metav1.ConditionStatus) v1.IstioRevisionStatus {
	reason := map[metav1.ConditionStatus]string{metav1.ConditionTrue: v1.ReasonReady, metav1.ConditionFalse: v1.ReasonIstiodNotReady}[ready]
	state := "Healthy"
	if ready != metav1.ConditionTrue {
		state = reason
	}
	return v1.IstioRevisionStatus{ObservedGeneration: 1, State: state, Type: "Local", Conditions: []metav1.Condition{
		{Type: v1.ConditionReady, Status: ready, Reason: reason, Message: "m", LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
	}}
}

// stored reads the revision's status as the API server holds it.
func stored(t *testing.T, c client.Client, rev *v1.IstioRevision) v1.IstioRevisionStatus {
	t.Helper()
	live := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(rev), live); err != nil {
		t.Fatal(err)
	}
	return live.Status
}

// TestWriterComparesWithItsOwnLastWrite: a status is written when it differs from what the Writer last
// wrote for the object, whatever a stale cache says; only before its first write does the Writer go
// by the cache. A status that changed back (Ready True, False, True again before the cache caught up)
// is written, so Ready never sticks at False (docs/architecture.md#lesson-write-status-only-on-change).
func TestWriterComparesWithItsOwnLastWrite(t *testing.T) {
	c, w, sw, rev := setup(t, "writer-last")
	ready, notReady := revStatus(metav1.ConditionTrue), revStatus(metav1.ConditionFalse)
	for i, step := range []struct {
		st              v1.IstioRevisionStatus
		cachedUnchanged bool
		forget          bool
		wantWrite       bool
		wantState       string
	}{
		{ready, true, false, false, ""},                        // never written, and the cache says it holds it
		{ready, false, false, true, "Healthy"},                 // never written, and the cache says it differs
		{ready, false, false, false, "Healthy"},                // as last written; the stale cache does not matter
		{notReady, true, false, true, v1.ReasonIstiodNotReady}, // changed; the stale cache still shows the status before
		{ready, true, false, true, "Healthy"},                  // changed back, while the cache shows it
		{notReady, true, true, false, "Healthy"},               // forgotten: the cache decides again
	} {
		if step.forget {
			w.Forget(rev.UID)
		}
		wrote, err := w.Write(t.Context(), rev, step.st, step.cachedUnchanged)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := sw.take(); wrote != step.wantWrite || n != map[bool]int{true: 1}[step.wantWrite] {
			t.Errorf("step %d: Write reported %t after %d status writes, want %t", i, wrote, n, step.wantWrite)
		}
		if got := stored(t, c, rev).State; got != step.wantState {
			t.Errorf("step %d: the API server holds state %q, want %q", i, got, step.wantState)
		}
	}
}

// TestWriterOwnsExactlyWhatItSends: each write is the whole status, so a condition the writer no longer
// sends is removed, and a field another manager set before (an older operator, a kubectl edit) is
// taken over rather than failing the write with a conflict.
func TestWriterOwnsExactlyWhatItSends(t *testing.T) {
	c, w, _, rev := setup(t, "writer-owns")
	edited := rev.DeepCopy()
	edited.Status = v1.IstioRevisionStatus{State: "SetByHand", Type: "Remote"}
	if err := c.Status().Update(t.Context(), edited, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	both := revStatus(metav1.ConditionTrue)
	both.Conditions = append(both.Conditions, metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: v1.ReasonReconciled, Message: "done", LastTransitionTime: both.Conditions[0].LastTransitionTime})
	if _, err := w.Write(t.Context(), rev, both, false); err != nil {
		t.Fatalf("writing over another manager's status: %v", err)
	}
	if got := stored(t, c, rev); got.State != "Healthy" || got.Type != "Local" || len(got.Conditions) != 2 {
		t.Errorf("the API server holds %+v, want the written status", got)
	}
	if _, err := w.Write(t.Context(), rev, revStatus(metav1.ConditionTrue), false); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, c, rev).Conditions; len(got) != 1 || got[0].Type != v1.ConditionReady {
		t.Errorf("after a write without Reconciled the API server holds %+v, want Ready alone", got)
	}
}

// TestWriterRetriesAFailedWrite: a write that failed is not taken for written: the error names the
// object, and the same status is sent again on the next reconcile.
func TestWriterRetriesAFailedWrite(t *testing.T) {
	c, w, sw, rev := setup(t, "writer-retry")
	sw.failNext = errors.New("the API server is unavailable")
	wrote, err := w.Write(t.Context(), rev, revStatus(metav1.ConditionTrue), false)
	if wrote || err == nil || !strings.Contains(err.Error(), "writing the status of IstioRevision writer-retry") {
		t.Fatalf("a failed write: %t, %v; want an error naming the revision", wrote, err)
	}
	if wrote, err := w.Write(t.Context(), rev, revStatus(metav1.ConditionTrue), false); !wrote || err != nil {
		t.Fatalf("the retry: %t, %v; want the status written", wrote, err)
	}
	if got := stored(t, c, rev).State; got != "Healthy" {
		t.Errorf("after the retry the API server holds state %q, want Healthy", got)
	}
}

// TestWriterFindsADeletedObjectGone: a reconcile that read an object just before it was deleted has
// no status left to write; the Writer reports nothing written and no error, so that the reconcile does
// not count as failed (docs/architecture.md#lesson-gone-is-not-an-error).
func TestWriterFindsADeletedObjectGone(t *testing.T) {
	c, w, sw, rev := setup(t, "writer-gone")
	if err := c.Delete(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	wrote, err := w.Write(t.Context(), rev, revStatus(metav1.ConditionTrue), false)
	if wrote || err != nil {
		t.Errorf("writing the status of a deleted revision: %t, %v; want nothing written and no error", wrote, err)
	}
	if n := sw.take(); n != 1 {
		t.Errorf("%d status writes sent, want the one the API server answered NotFound", n)
	}
}
