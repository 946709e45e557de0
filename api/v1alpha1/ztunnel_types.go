package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// ZTunnelSpec is the desired state of the ztunnel node proxy in the deprecated v1alpha1 form, which
// has spec.profile and no spec.targetRef.
type ZTunnelSpec struct {
	// Version of ztunnel: a concrete version or an alias such as v1.27-latest.
	// When empty, the operator sets its catalog's default.
	// +optional
	Version v1.AmbientVersion `json:"version,omitempty"`

	// Profile is the Istio configuration profile whose presets apply before spec.values. It is not
	// part of sailoperator.io/v1: remove it when moving a manifest to v1.
	// +optional
	// +kubebuilder:default=ambient
	// +kubebuilder:validation:Enum=ambient;default;demo;empty;external;openshift;openshift-ambient;preview;remote;stable
	Profile string `json:"profile,omitempty"`

	// Namespace the ztunnel DaemonSet runs in.
	// +kubebuilder:validation:Required
	// +kubebuilder:default="ztunnel"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// Values are the Helm values passed to Istio's ztunnel chart.
	// +optional
	Values *v1.ZTunnelValues `json:"values,omitempty"`
}

// ZTunnelStatus is the observed state of a ZTunnel.
type ZTunnelStatus struct {
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

// ZTunnel is the ambient-mode node proxy, in the deprecated v1alpha1 form. A cluster has one, named
// default.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:deprecatedversion:warning="sailoperator.io/v1alpha1 ZTunnel is deprecated; use sailoperator.io/v1 ZTunnel and remove spec.profile"
// +kubebuilder:resource:scope=Cluster,categories=istio-io
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether the DaemonSet is ready."
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=".spec.version",description="Istio version."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=".spec.namespace",priority=1,description="Namespace of the DaemonSet."
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=".spec.profile",priority=1,description="Configuration profile."
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="a ZTunnel must be named 'default': a cluster runs one ztunnel"
type ZTunnel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={namespace: "ztunnel", profile: "ambient"}
	// +optional
	Spec ZTunnelSpec `json:"spec"`

	// +optional
	Status ZTunnelStatus `json:"status,omitempty"`
}

// ZTunnelList is a list of ZTunnel.
// +kubebuilder:object:root=true
type ZTunnelList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ZTunnel `json:"items"`
}

func init() {
	register(&ZTunnel{}, &ZTunnelList{})
}
