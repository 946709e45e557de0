// Package controller holds what bosun's controllers of resources that install something (IstioRevision,
// IstioRevisionTag, IstioCNI, ZTunnel) do alike: keep a finalizer on the resource until the objects it
// installed are removed. The controllers themselves are in the packages below.
package controller

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/render"
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

// Installer is what a controller that installs objects for its resources holds.
type Installer struct {
	Client   client.Client
	Applier  *apply.Applier
	Charts   *render.Cache
	Status   *status.Writer
	Recorder events.EventRecorder
}

// Finalize removes everything the resource's inventory holds, forgets what the controller remembered
// of it, records what it removed, and then removes the finalizer. what names the installation in the
// log ("istiod", "revision tag").
func (in Installer) Finalize(ctx context.Context, obj client.Object, what string) error {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	// What was deleted is recorded even when a later delete failed: the retry will not see it again.
	deleted, err := in.Applier.Delete(ctx, obj)
	apply.CountRemoved(obj.GetObjectKind().GroupVersionKind().Kind, deleted)
	if len(deleted) > 0 {
		logr.FromContextOrDiscard(ctx).Info("removed "+what, "objects", len(deleted))
		in.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Removed", "Delete", "removed %d objects", len(deleted))
	}
	if err != nil {
		return err
	}
	in.Charts.Forget(obj.GetUID())
	in.Status.Forget(obj.GetUID())
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	controllerutil.RemoveFinalizer(obj, Finalizer)
	return in.Client.Patch(ctx, obj, patch)
}
