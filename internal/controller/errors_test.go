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
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

func TestErrorReason(t *testing.T) {
	revisions := schema.GroupResource{Group: "sailoperator.io", Resource: "istiorevisions"}
	conflict := apierrors.NewConflict(revisions, "default", errors.New("the object has been modified"))
	refusal := status.Refuse(v1.ReasonVersionChangeNotAllowed, errors.New("v1.24 to v1.26 skips v1.25"))
	for _, tc := range []struct {
		name         string
		err          error
		wantReason   string
		wantTerminal bool
	}{
		{"a refusal names its reason", reconcile.TerminalError(refusal), v1.ReasonVersionChangeNotAllowed, true},
		{"a wrapped refusal", reconcile.TerminalError(fmt.Errorf("reconciling: %w", status.Refuse(v1.ReasonNamespaceNotFound, errors.New("no namespace")))), v1.ReasonNamespaceNotFound, true},
		{"a terminal error that is no refusal", reconcile.TerminalError(errors.New("rendering Istio's CRDs: bad chart")), v1.ReasonReconcileError, true},
		{"a conflict is retried", fmt.Errorf("writing the status of IstioRevision default: %w", conflict), "Conflict", false},
		{"a forbidden request is retried", apierrors.NewForbidden(revisions, "default", errors.New("no RBAC")), "Forbidden", false},
		{"a refusal whose status write failed is retried for the write", errors.Join(refusal, conflict), "Conflict", false},
		{"an error not from the API server", context.DeadlineExceeded, v1.ReasonReconcileError, false},
		{"a reason Kubernetes does not define is not a label", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Reason: "DeniedByMyWebhook-1234"}}, v1.ReasonReconcileError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, terminal := controller.ErrorReason(tc.err)
			if reason != tc.wantReason || terminal != tc.wantTerminal {
				t.Errorf("ErrorReason(%v) = %q, %v; want %q, %v", tc.err, reason, terminal, tc.wantReason, tc.wantTerminal)
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
	refused := metrics.ReconcileErrors.WithLabelValues("ZTunnel", v1.ReasonRefNotFound, "true")
	before := value(t, refused)
	next = reconcile.TerminalError(status.Refuse(v1.ReasonRefNotFound, errors.New("no Istio")))
	if _, err := r.Reconcile(t.Context(), reconcile.Request{}); !errors.Is(err, next) {
		t.Fatalf("the wrapper returned %v, want the reconciler's error", err)
	}
	next = nil
	if _, err := r.Reconcile(t.Context(), reconcile.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, refused) - before; got != 1 {
		t.Errorf("bosun_reconcile_errors_total{kind=ZTunnel,reason=RefNotFound,terminal=true} grew by %v, want 1", got)
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
