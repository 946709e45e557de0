package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SingletonName is the only name an IstioCNI or a ZTunnel may have: a cluster runs one of each.
const SingletonName = "default"

// KindIstioCNI is the kind name of IstioCNI.
const KindIstioCNI = "IstioCNI"

// IstioCNISpec is the desired state of the Istio CNI node agent.
type IstioCNISpec struct {
	// Version of Istio's CNI plugin: a concrete version or an alias such as v1.27-latest. It should
	// match the control plane's minor version or be one behind.
	// When empty, the operator sets its catalog's default.
	// +optional
	Version IstioVersion `json:"version,omitempty"`

	// Profile is the Istio configuration profile whose presets apply before spec.values.
	// +optional
	// +kubebuilder:validation:Enum=ambient;default;demo;empty;external;openshift;openshift-ambient;preview;remote;stable
	Profile string `json:"profile,omitempty"`

	// Namespace the istio-cni-node DaemonSet runs in. It cannot change after creation.
	// +kubebuilder:validation:Required
	// +kubebuilder:default="istio-cni"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.namespace is immutable; delete and recreate the IstioCNI to move it"
	Namespace string `json:"namespace"`

	// Values are the Helm values passed to Istio's cni chart.
	// +optional
	Values *CNIValues `json:"values,omitempty"`
}

// IstioCNIStatus is the observed state of an IstioCNI.
type IstioCNIStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Reconciled and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// State is Healthy, or the reason of the first of Reconciled and Ready that is not True.
	// +optional
	State string `json:"state,omitempty"`
}

// IstioCNI is Istio's CNI node agent, which redirects pod traffic without privileged init containers
// and, in ambient mode, into ztunnel. A cluster has one, named default.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=istio-io
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether the DaemonSet is ready."
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=".spec.version",description="Istio version."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=".spec.namespace",priority=1,description="Namespace of the DaemonSet."
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=".spec.profile",priority=1,description="Configuration profile."
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="an IstioCNI must be named 'default': a cluster runs one CNI node agent"
type IstioCNI struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={namespace: "istio-cni"}
	// +optional
	Spec IstioCNISpec `json:"spec"`

	// +optional
	Status IstioCNIStatus `json:"status,omitempty"`
}

// IstioCNIList is a list of IstioCNI.
// +kubebuilder:object:root=true
type IstioCNIList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IstioCNI `json:"items"`
}

func init() {
	register(&IstioCNI{}, &IstioCNIList{})
}
