//go:build integration

package istio_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller/istio"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// TestCacheBehindTheRevisionsCreateIsNoError: a reconcile whose cache does not show the revision
// created a moment ago tries to create it again and finds it there; that is no failure. It returns no
// error (so no Reconciler error is logged or counted), writes no status, records no Warning, and
// looks again shortly (docs/architecture.md#lesson-gone-is-not-an-error).
func TestCacheBehindTheRevisionsCreateIsNoError(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "stale-system", nil)
	operatortest.Create(t, c, newIstio("stale", "stale-system", v1.UpdateStrategyInPlace, v127))
	operatortest.WaitFor(t, "the operator to create IstioRevision stale", func(ctx context.Context) error {
		return c.Get(ctx, client.ObjectKey{Name: "stale"}, &v1.IstioRevision{})
	})
	direct, err := client.NewWithWatch(operatortest.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	statusWrites := 0
	behind := interceptor.NewClient(direct, interceptor.Funcs{
		// A cache that has not seen the revision's create yet.
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*v1.IstioRevisionList); ok {
				return nil
			}
			return c.List(ctx, list, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			statusWrites++
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})
	recorder := events.NewFakeRecorder(10)
	r := &istio.Reconciler{Client: behind, API: direct, Env: operatortest.Env(), Recorder: recorder, Clock: clock.RealClock{},
		Status: &status.Writer{Client: behind, Manager: apply.FieldManager}}
	res, err := r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKey{Name: "stale"}})
	if err != nil || res.RequeueAfter == 0 {
		t.Errorf("Reconcile: %+v, %v; want no error and a look again shortly", res, err)
	}
	if statusWrites != 0 {
		t.Errorf("%d status writes, want none while the cache is behind", statusWrites)
	}
	select {
	case e := <-recorder.Events:
		t.Errorf("recorded %q, want nothing", e)
	default:
	}
}
