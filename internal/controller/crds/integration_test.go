//go:build integration

package crds_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/render"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

// virtualServices is one of Istio's CRDs.
const virtualServices = "virtualservices.networking.istio.io"

// crdVersion waits until Istio's VirtualService CRD names the Istio version want.
func crdVersion(t *testing.T, c client.Client, want string) {
	t.Helper()
	operatortest.WaitFor(t, "Istio's CRDs of "+want, func(ctx context.Context) error {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		if err := c.Get(ctx, client.ObjectKey{Name: virtualServices}, crd); err != nil {
			return err
		}
		if got := crd.Annotations[render.AnnotationIstioVersion]; got != want {
			return fmt.Errorf("%s is of %q", virtualServices, got)
		}
		return nil
	})
}

// revision is an IstioRevision of version with the fewest values the API accepts.
func revision(name, namespace, version string) *v1.IstioRevision {
	return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version), Namespace: namespace,
		Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: &namespace}}}}
}

// TestCRDsMoveForwardOnly: Istio's CRDs come from the newest version any revision runs; when that
// revision goes, they stay as they are rather than go back.
func TestCRDsMoveForwardOnly(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "crds-system", nil)
	operatortest.Create(t, c, revision("crds-old", "crds-system", "v1.25.0-snapshot.be4b14ad"))
	crdVersion(t, c, "v1.25.0-snapshot.be4b14ad")
	newer := revision("crds-new", "crds-system", "v1.27.0-snapshot.b9159ca3")
	operatortest.Create(t, c, newer)
	crdVersion(t, c, "v1.27.0-snapshot.b9159ca3")
	operatortest.Delete(t, c, newer)
	// The revision of 1.25 reconciles again, and the CRDs keep 1.27's.
	operatortest.Update(t, c, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "crds-old"}}, func(r *v1.IstioRevision) {
		r.Spec.Values.Global.LogAsJson = ptr(true)
	})
	operatortest.WaitFor(t, "the 1.25 revision to reconcile its change", func(ctx context.Context) error {
		r := &v1.IstioRevision{}
		if err := c.Get(ctx, client.ObjectKey{Name: "crds-old"}, r); err != nil {
			return err
		}
		if r.Status.ObservedGeneration != r.Generation {
			return fmt.Errorf("generation %d observed %d", r.Generation, r.Status.ObservedGeneration)
		}
		return nil
	})
	crdVersion(t, c, "v1.27.0-snapshot.b9159ca3")
}

func ptr[T any](v T) *T { return &v }
