package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindIstioRevisionTag is the kind name of IstioRevisionTag.
const KindIstioRevisionTag = "IstioRevisionTag"

// IstioRevisionTagSpec is the desired state of a revision tag.
type IstioRevisionTagSpec struct {
	// TargetRef is the Istio (follow its active revision) or IstioRevision (stay on it) this tag
	// points at.
	// +kubebuilder:validation:Required
	TargetRef TargetReference `json:"targetRef"`
}

// IstioRevisionTagStatus is the observed state of an IstioRevisionTag.
type IstioRevisionTagStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Reconciled (the tag's webhook is applied for the revision it resolves to), Ready
	// (that revision's istiod is ready) and InUse (namespaces or pods select the tag by label).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// State is Healthy, or the reason of the first of Reconciled, Ready and InUse that is not True: a
	// tag nothing uses shows NotReferencedByAnything.
	// +optional
	State string `json:"state,omitempty"`

	// IstiodNamespace is the namespace of the revision the tag's webhook points at, where its objects
	// are. It changes only when the tag is reconciled.
	IstiodNamespace string `json:"istiodNamespace"`

	// IstioRevision is the name of the revision the tag's webhook points at. It changes only when the
	// tag is reconciled.
	IstioRevision string `json:"istioRevision"`
}

// IstioRevisionTag is a stable name for a control-plane revision. Workloads that use the tag
// (istio.io/rev=<tag>, or istio-injection=enabled for the tag named default) move to a new revision when
// the tag moves, without relabelling.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=istio-io,shortName=istiorevtag
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="In use",type=string,JSONPath=`.status.conditions[?(@.type=="InUse")].status`,description="Whether workloads use this tag."
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=".status.istioRevision",description="The revision the tag points at."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type IstioRevisionTag struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:validation:Required
	Spec IstioRevisionTagSpec `json:"spec"`

	// +optional
	Status IstioRevisionTagStatus `json:"status,omitempty"`
}

// IstioRevisionTagList is a list of IstioRevisionTag.
// +kubebuilder:object:root=true
type IstioRevisionTagList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IstioRevisionTag `json:"items"`
}

func init() {
	register(&IstioRevisionTag{}, &IstioRevisionTagList{})
}
