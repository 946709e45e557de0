// Package v1 holds the sailoperator.io/v1 API: Istio, IstioRevision, IstioRevisionTag, IstioCNI and
// ZTunnel. The kinds, field names, defaults, enums and validation rules are those that OpenShift Service
// Mesh 3 documents, so existing manifests apply unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=sailoperator.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "sailoperator.io", Version: "v1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// objects are the kinds of this package, each file adding its own with register.
var objects []runtime.Object

func register(objs ...runtime.Object) { objects = append(objects, objs...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, objects...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
