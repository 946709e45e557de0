package controller

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Finalizer keeps a resource until bosun has removed what it installed for it. It is the finalizer
// OpenShift Service Mesh 3 uses, so that resources move between the two operators unchanged.
const Finalizer = "sailoperator.io/sail-operator"

// EnsureFinalizer adds the finalizer to a resource that lacks it.
func EnsureFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.AddFinalizer(obj, Finalizer)
	return c.Patch(ctx, obj, patch)
}
