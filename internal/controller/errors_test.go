package controller_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

func TestErrorReason(t *testing.T) {
	revisions := schema.GroupResource{Group: "sailoperator.io", Resource: "istiorevisions"}
	conflict := apierrors.NewConflict(revisions, "default", errors.New("the object has been modified"))
	for _, tc := range []struct {
		name       string
		err        error
		wantReason string
	}{
		{"a conflict", fmt.Errorf("writing the status of IstioRevision default: %w", conflict), "Conflict"},
		{"a forbidden request", apierrors.NewForbidden(revisions, "default", errors.New("no RBAC")), "Forbidden"},
		{"an apply that failed beside a status write that failed", errors.Join(errors.New("applying"), conflict), "Conflict"},
		{"an error not from the API server", context.DeadlineExceeded, v1.ReasonReconcileError},
		{"a reason Kubernetes does not define is not a label", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Reason: "DeniedByMyWebhook-1234"}}, v1.ReasonReconcileError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if reason := controller.ErrorReason(tc.err); reason != tc.wantReason {
				t.Errorf("ErrorReason(%v) = %q; want %q", tc.err, reason, tc.wantReason)
			}
		})
	}
}

// TestCountErrors: a reconcile that fails is counted under the kind and the error's reason; one that
// succeeds is not counted.
func TestCountErrors(t *testing.T) {
	var next error
	r := controller.CountErrors("ZTunnel", reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		return reconcile.Result{}, next
	}))
	conflicts := metrics.ReconcileErrors.WithLabelValues("ZTunnel", "Conflict")
	before := value(t, conflicts)
	next = apierrors.NewConflict(schema.GroupResource{Group: "sailoperator.io", Resource: "ztunnels"}, "default", errors.New("modified"))
	if _, err := r.Reconcile(t.Context(), reconcile.Request{}); !errors.Is(err, next) {
		t.Fatalf("the wrapper returned %v, want the reconciler's error", err)
	}
	next = nil
	if _, err := r.Reconcile(t.Context(), reconcile.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, conflicts) - before; got != 1 {
		t.Errorf("bosun_reconcile_errors_total{kind=ZTunnel,reason=Conflict} grew by %v, want 1", got)
	}
}

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
