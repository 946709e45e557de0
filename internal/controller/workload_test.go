package controller_test

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
)

// cacheReader answers every Get with obj at generation, or with err.
type cacheReader struct {
	client.Reader
	generation int64
	err        error
	gets       int
}

func (r *cacheReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	r.gets++
	if r.err != nil {
		return r.err
	}
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	obj.SetGeneration(r.generation)
	return nil
}

// TestWorkloadPrefersWhatTheApplyWrote: readiness is judged from the Deployment as the API server
// answered the apply that just wrote it (a new generation the cache has not seen, so a new template
// is not taken for ready), else from the cache; a workload that does not exist is nil, and a failed
// read is an error.
func TestWorkloadPrefersWhatTheApplyWrote(t *testing.T) {
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	sent := &unstructured.Unstructured{}
	sent.SetGeneration(5)
	applied := apply.Result{Sent: map[apply.Ref]*unstructured.Unstructured{
		{GVK: deployment, Namespace: "istio-system", Name: "istiod-canary"}: sent,
	}}
	gone := apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "istiod-canary")
	broken := errors.New("the cache is not synced")
	for _, tc := range []struct {
		name           string
		namespace      string
		applied        apply.Result
		reader         *cacheReader
		wantGeneration int64
		wantNil        bool
		wantErr        error
		wantGets       int
	}{
		{"written by this reconcile", "istio-system", applied, &cacheReader{generation: 4}, 5, false, nil, 0},
		{"not written: the cache", "istio-system", apply.Result{}, &cacheReader{generation: 4}, 4, false, nil, 1},
		{"written in another namespace: the cache", "other", applied, &cacheReader{generation: 4}, 4, false, nil, 1},
		{"not there", "istio-system", apply.Result{}, &cacheReader{err: gone}, 0, true, nil, 1},
		{"unreadable", "istio-system", apply.Result{}, &cacheReader{err: broken}, 0, true, broken, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := controller.Workload(t.Context(), tc.reader, deployment, tc.namespace, "istiod-canary", tc.applied)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Workload returned error %v, want %v", err, tc.wantErr)
			}
			if (got == nil) != tc.wantNil || (got != nil && got.GetGeneration() != tc.wantGeneration) {
				t.Errorf("Workload = %v, want generation %d (nil: %t)", got, tc.wantGeneration, tc.wantNil)
			}
			if tc.reader.gets != tc.wantGets {
				t.Errorf("the cache was read %d times, want %d", tc.reader.gets, tc.wantGets)
			}
		})
	}
}
