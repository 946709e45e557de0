package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/apply"
)

// Workload reads the object whose readiness is a resource's (istiod's Deployment, a node agent's
// DaemonSet): as the API server answered the apply when this reconcile wrote it, else from the cache
// of owned objects. The cache still holds the version before a write, which would say a new template
// is ready before its rollout began. It returns nil when the object does not exist.
func Workload(ctx context.Context, reader client.Reader, gvk schema.GroupVersionKind, namespace, name string, applied apply.Result) (*unstructured.Unstructured, error) {
	if sent, ok := applied.Sent[apply.Ref{GVK: gvk, Namespace: namespace, Name: name}]; ok {
		return sent, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}
