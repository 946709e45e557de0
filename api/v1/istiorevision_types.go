package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Revision types, shown in the TYPE column of `kubectl get istiorevision`.
const (
	// RevisionTypeLocal is a revision that runs istiod in this cluster.
	RevisionTypeLocal = "Local"
	// RevisionTypeRemote is a revision whose istiod runs elsewhere; this cluster only gets the
	// injector and configuration that point at it.
	RevisionTypeRemote = "Remote"
)

// IstioRevisionSpec is the desired state of one control-plane revision. bosun writes it from the owning
// Istio with fully computed values, so it is the exact input to Istio's charts.
// +kubebuilder:validation:XValidation:rule="has(self.values) && has(self.values.global) && has(self.values.global.istioNamespace) && self.values.global.istioNamespace == self.__namespace__",message="spec.values.global.istioNamespace must be set and equal spec.namespace"
type IstioRevisionSpec struct {
	// Version of Istio this revision runs. Aliases are resolved by the Istio before they reach here, so
	// this is always a concrete version.
	// +kubebuilder:validation:Required
	Version ConcreteVersion `json:"version"`

	// Namespace istiod runs in. It cannot change after creation.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.namespace is immutable; create a new revision to run istiod in another namespace"
	Namespace string `json:"namespace"`

	// Values are the complete Helm values of this revision.
	// +optional
	Values *Values `json:"values,omitempty"`
}

// IstioRevisionStatus is the observed state of an IstioRevision.
type IstioRevisionStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Reconciled, Ready, DependenciesHealthy and InUse.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// State is Healthy, or the reason of the first of Reconciled, Ready and DependenciesHealthy that is
	// not True. InUse does not affect it.
	// +optional
	State string `json:"state,omitempty"`

	// Type is Local when istiod runs in this cluster and Remote when it runs elsewhere.
	// +optional
	// +kubebuilder:validation:Enum=Local;Remote
	Type string `json:"type,omitempty"`
}

// IstioRevision is one control-plane revision: an istiod Deployment with its webhooks and configuration.
// An Istio creates and owns its revisions; a revision named default also serves namespaces labelled
// istio-injection=enabled.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=istio-io,shortName=istiorev
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=".status.type",description="Local or Remote."
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether istiod is ready."
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="In use",type=string,JSONPath=`.status.conditions[?(@.type=="InUse")].status`,description="Whether workloads use this revision."
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=".spec.version",description="Istio version."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=".spec.namespace",priority=1,description="Namespace of istiod."
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=".spec.values.profile",priority=1,description="Configuration profile."
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default' ? (!has(self.spec.values) || !has(self.spec.values.revision) || size(self.spec.values.revision) == 0) : (has(self.spec.values) && has(self.spec.values.revision) && self.spec.values.revision == self.metadata.name)",message="spec.values.revision must equal metadata.name, or be empty when the name is 'default'"
type IstioRevision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:validation:Required
	Spec IstioRevisionSpec `json:"spec"`

	// +optional
	Status IstioRevisionStatus `json:"status,omitempty"`
}

// IstioRevisionList is a list of IstioRevision.
// +kubebuilder:object:root=true
type IstioRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IstioRevision `json:"items"`
}

func init() {
	register(&IstioRevision{}, &IstioRevisionList{})
}
