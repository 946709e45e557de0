// Package v1alpha1 holds the deprecated sailoperator.io/v1alpha1 ZTunnel, still served so that manifests
// written for it apply. Objects are stored as v1; use sailoperator.io/v1 ZTunnel for new manifests.
//
// +kubebuilder:object:generate=true
// +groupName=sailoperator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "sailoperator.io", Version: "v1alpha1"}

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
