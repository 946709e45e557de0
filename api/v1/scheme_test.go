package v1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/api/v1alpha1"
)

// TestSchemeKnowsEveryKind checks what a client or the operator relies on to read and write bosun's
// kinds: each is registered under sailoperator.io with its list.
func TestSchemeKnowsEveryKind(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{
		&v1.Istio{}, &v1.IstioList{}, &v1.IstioRevision{}, &v1.IstioRevisionList{},
		&v1.IstioRevisionTag{}, &v1.IstioRevisionTagList{}, &v1.IstioCNI{}, &v1.IstioCNIList{},
		&v1.ZTunnel{}, &v1.ZTunnelList{}, &v1alpha1.ZTunnel{}, &v1alpha1.ZTunnelList{},
	} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil || len(gvks) != 1 || gvks[0].Group != "sailoperator.io" {
			t.Errorf("%T: %v %v", obj, gvks, err)
		}
	}
}
