package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

// CountErrors wraps a controller's reconciler so that every reconcile that ends in an error is
// counted in bosun_reconcile_errors_total, under the kind it reconciles and the error's reason
// (ErrorReason). controller-runtime's controller_runtime_reconcile_errors_total counts the same
// reconciles by controller only. Refusals are not errors (they are bosun_refusals_total): every error
// here is retried with backoff.
func CountErrors(kind string, r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err != nil {
			metrics.ReconcileErrors.WithLabelValues(kind, ErrorReason(err)).Inc()
		}
		return res, err
	})
}

// ErrorReason is the reason a reconcile failed, from a fixed set of values: the API server's reason
// for the request that failed (Conflict, Forbidden, Timeout, …), or ReconcileError when the error did
// not come from the API server or gave a reason Kubernetes does not define.
func ErrorReason(err error) string {
	if r := apierrors.ReasonForError(err); apiReasons[r] {
		return string(r)
	}
	return v1.ReasonReconcileError
}

// apiReasons are the reasons Kubernetes defines for a failed request. A reason outside them (an
// aggregated API or webhook may send any string) is not used as a label value.
var apiReasons = map[metav1.StatusReason]bool{
	metav1.StatusReasonUnauthorized: true, metav1.StatusReasonForbidden: true, metav1.StatusReasonNotFound: true,
	metav1.StatusReasonAlreadyExists: true, metav1.StatusReasonConflict: true, metav1.StatusReasonGone: true,
	metav1.StatusReasonInvalid: true, metav1.StatusReasonServerTimeout: true, metav1.StatusReasonStoreReadError: true,
	metav1.StatusReasonTimeout: true, metav1.StatusReasonTooManyRequests: true, metav1.StatusReasonBadRequest: true,
	metav1.StatusReasonMethodNotAllowed: true, metav1.StatusReasonNotAcceptable: true,
	metav1.StatusReasonRequestEntityTooLarge: true, metav1.StatusReasonUnsupportedMediaType: true,
	metav1.StatusReasonInternalError: true, metav1.StatusReasonExpired: true, metav1.StatusReasonServiceUnavailable: true,
}
