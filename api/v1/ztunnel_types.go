package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindZTunnel is the kind name of ZTunnel.
const KindZTunnel = "ZTunnel"

// ZTunnelSpec is the desired state of the ztunnel node proxy.
type ZTunnelSpec struct {
	// Version of ztunnel: a concrete version or an alias such as v1.27-latest. Ambient mode needs
	// Istio 1.24 or newer.
	// When empty, the operator sets its catalog's default.
	// +optional
	Version AmbientVersion `json:"version,omitempty"`

	// Namespace the ztunnel DaemonSet runs in.
	// +kubebuilder:validation:Required
	// +kubebuilder:default="ztunnel"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// TargetRef is the Istio or IstioRevision whose global values, mesh config and revision ztunnel
	// takes; spec.values still win over them.
	// +optional
	TargetRef *TargetReference `json:"targetRef,omitempty"`

	// Values are the Helm values passed to Istio's ztunnel chart.
	// +optional
	Values *ZTunnelValues `json:"values,omitempty"`
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

	// IstioRevision is the revision spec.targetRef resolved to.
	// +optional
	IstioRevision string `json:"istioRevision,omitempty"`
}

// ZTunnel is the ambient-mode node proxy. A cluster has one, named default.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=istio-io
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether the DaemonSet is ready."
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=".spec.version",description="Istio version."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=".spec.namespace",priority=1,description="Namespace of the DaemonSet."
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=".status.istioRevision",priority=1,description="The revision spec.targetRef resolved to."
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="a ZTunnel must be named 'default': a cluster runs one ztunnel"
type ZTunnel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={namespace: "ztunnel"}
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
