package controller_test

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
)

// TestFinalizeRecordsWhatItRemovedBeforeAFailure: when removing a deleted revision's objects fails
// midway, the objects already deleted are recorded (an Event Removed, bosun_applied_objects_total
// action removed) and the finalizer stays for the retry, which will not see those objects again.
func TestFinalizeRecordsWhatItRemovedBeforeAFailure(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "old", UID: "uid-old", Finalizers: []string{controller.Finalizer}}}
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	owner := render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: "old"})
	objs := []client.Object{rev}
	for _, name := range []string{"a", "b"} {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "istio-system",
			Labels: map[string]string{render.LabelManagedBy: render.ManagedByValue, render.LabelOwner: owner},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: apply.FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}}}`)}}},
		}})
	}
	deletes := 0
	// The RESTMapper serves ConfigMaps alone among the kinds bosun applies; the fake client keeps the
	// managedFields that say bosun applied them.
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	mapper.Add(v1.GroupVersion.WithKind(v1.KindIstioRevision), meta.RESTScopeRoot)
	built := fake.NewClientBuilder().WithScheme(scheme).WithRESTMapper(mapper).WithReturnManagedFields().WithObjects(objs...).Build()
	c := interceptor.NewClient(built, interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if deletes++; deletes == 2 {
				return errors.New("the API server is unavailable")
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	served, err := apply.ServedKinds(c.RESTMapper())
	if err != nil {
		t.Fatal(err)
	}
	removed := metrics.Applies.WithLabelValues(v1.KindIstioRevision, "removed")
	before := value(t, removed)
	recorder := &recorder{}
	in := controller.Installer[*v1.IstioRevision]{Kind: revisionKind{}, Client: c, Applier: apply.New(c, c, c, served), Charts: &render.Cache{}, Status: &status.Writer{}, Recorder: recorder}

	if err := built.Delete(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rev)}); err == nil {
		t.Fatal("the reconcile of a deleted revision succeeded though a delete failed")
	}
	if want := []string{"Normal Removed"}; len(recorder.events) != 1 || recorder.events[0] != want[0] {
		t.Errorf("Events %q, want %q", recorder.events, want)
	}
	if got := value(t, removed) - before; got != 1 {
		t.Errorf("bosun_applied_objects_total{kind=IstioRevision,action=removed} grew by %v, want the 1 object deleted", got)
	}
	left := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(rev), left); err != nil || len(left.Finalizers) != 1 {
		t.Errorf("the revision's finalizers are %v (%v), want the finalizer kept for the retry", left.Finalizers, err)
	}
}

// revisionKind is the part of an IstioRevision kind that removing one reads.
type revisionKind struct {
	controller.Kind[*v1.IstioRevision]
}

func (revisionKind) Name() string             { return v1.KindIstioRevision }
func (revisionKind) Installs() string         { return "istiod" }
func (revisionKind) New() *v1.IstioRevision   { return &v1.IstioRevision{} }
func (revisionKind) Forget(*v1.IstioRevision) {}

// recorder keeps the Events recorded through it as "type reason".
type recorder struct{ events []string }

func (r *recorder) Eventf(_, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	r.events = append(r.events, eventtype+" "+reason)
}
