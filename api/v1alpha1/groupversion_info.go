// Package v1alpha1 holds the deprecated sailoperator.io/v1alpha1 ZTunnel, still served so that manifests
// written for it apply. Objects are stored as v1; use sailoperator.io/v1 ZTunnel for new manifests.
//
// +kubebuilder:object:generate=true
// +groupName=sailoperator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "sailoperator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
