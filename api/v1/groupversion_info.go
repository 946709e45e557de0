// Package v1 holds the sailoperator.io/v1 API: Istio, IstioRevision, IstioRevisionTag, IstioCNI and
// ZTunnel. The kinds, field names, defaults, enums and validation rules are those that OpenShift Service
// Mesh 3 documents, so existing manifests apply unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=sailoperator.io
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "sailoperator.io", Version: "v1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
