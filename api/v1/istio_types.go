package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Update strategies of an Istio.
const (
	// UpdateStrategyInPlace keeps one revision, named after the Istio, and updates it in place.
	UpdateStrategyInPlace = "InPlace"
	// UpdateStrategyRevisionBased creates a new revision for every version and keeps the old one until
	// no workload uses it.
	UpdateStrategyRevisionBased = "RevisionBased"
)

// DefaultRevisionDeletionGracePeriodSeconds is how long an unused, inactive revision is kept when
// updateStrategy.inactiveRevisionDeletionGracePeriodSeconds is not set.
const DefaultRevisionDeletionGracePeriodSeconds = 30

// IstioSpec is the desired state of an Istio control plane.
// +kubebuilder:validation:XValidation:rule="!has(self.values) || !has(self.values.global) || !has(self.values.global.istioNamespace) || self.values.global.istioNamespace == self.__namespace__",message="spec.values.global.istioNamespace must equal spec.namespace; remove it or set it to the same namespace"
type IstioSpec struct {
	// Version of Istio to install: a concrete version such as v1.27.0, or an alias such as
	// v1.27-latest that follows the newest patch release bosun ships for that minor version. The
	// versions bosun knows are those of the catalog the operator runs with; when empty, the operator
	// sets the catalog's default.
	// +optional
	Version IstioVersion `json:"version,omitempty"`

	// UpdateStrategy says how a change of version or values reaches the running control plane.
	// +optional
	// +kubebuilder:default={type: "InPlace"}
	UpdateStrategy *IstioUpdateStrategy `json:"updateStrategy,omitempty"`

	// Profile is the Istio configuration profile whose presets apply before spec.values. When unset,
	// bosun uses openshift on OpenShift and default elsewhere.
	// +optional
	// +kubebuilder:validation:Enum=ambient;default;demo;empty;external;openshift;openshift-ambient;preview;remote;stable
	Profile string `json:"profile,omitempty"`

	// Namespace the control plane runs in. It cannot change after creation.
	// +kubebuilder:validation:Required
	// +kubebuilder:default="istio-system"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.namespace is immutable; create a new Istio to run a control plane in another namespace"
	Namespace string `json:"namespace"`

	// Values are the Helm values passed to Istio's charts, over the profile's presets.
	// +optional
	Values *Values `json:"values,omitempty"`
}

// IstioUpdateStrategy says how bosun moves a control plane to a new version or new values.
type IstioUpdateStrategy struct {
	// Type is InPlace (one revision named after the Istio, updated in place; a version change may move
	// one minor version at a time) or RevisionBased (a new revision per version, running beside the
	// old one until no workload uses the old one).
	// +kubebuilder:validation:Enum=InPlace;RevisionBased
	// +kubebuilder:default=InPlace
	Type string `json:"type,omitempty"`

	// InactiveRevisionDeletionGracePeriodSeconds is how long a revision must be inactive and unused
	// before bosun deletes it. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	InactiveRevisionDeletionGracePeriodSeconds *int64 `json:"inactiveRevisionDeletionGracePeriodSeconds,omitempty"`

	// UpdateWorkloads asks bosun to move the workloads to the new control plane itself once it is
	// Ready: under RevisionBased, namespaces labelled istio.io/rev=<old revision> are relabelled to the
	// new revision; under both strategies, the Deployments, StatefulSets and DaemonSets whose pods run an
	// older proxy are restarted as `kubectl rollout restart` does, one namespace at a time (in the order
	// of their bosun.dev/update-wave annotation, then by name), each rollout awaited before the next.
	// A workload that does not become available stops the move and its namespace is moved back
	// (condition WorkloadsUpdated, reason Paused). Setting it to false stops after the current workload.
	// See docs/upgrades.md.
	// +optional
	UpdateWorkloads bool `json:"updateWorkloads,omitempty"`
}

// RevisionSummary counts the revisions an Istio owns.
type RevisionSummary struct {
	// Total is the number of revisions the Istio owns.
	Total int32 `json:"total"`
	// Ready is the number of those whose Ready condition is True.
	Ready int32 `json:"ready"`
	// InUse is the number of those whose InUse condition is True.
	InUse int32 `json:"inUse"`
}

// IstioStatus is the observed state of an Istio.
type IstioStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Reconciled, Ready and DependenciesHealthy, taken from the active revision; and,
	// when they apply, ScopeConflict, RemoteClustersReachable, WorkloadsUpdated (updateWorkloads) and
	// UpdatePreflight (after a version change), which state does not summarise.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// State is Healthy, or the reason of the first condition that is not True.
	// +optional
	State string `json:"state,omitempty"`

	// ActiveRevisionName is the IstioRevision that receives changes to this spec.
	// +optional
	ActiveRevisionName string `json:"activeRevisionName,omitempty"`

	// Revisions counts the revisions this Istio owns.
	// +optional
	Revisions RevisionSummary `json:"revisions"`

	// Workloads is how far bosun has moved the mesh's workloads to the active revision's proxy; present
	// only while spec.updateStrategy.updateWorkloads is true.
	// +optional
	Workloads *WorkloadsUpdateStatus `json:"workloads,omitempty"`
}

// WorkloadsUpdateStatus is the progress of moving workloads to the active revision's proxy, as read
// from the cluster (the namespaces' bosun.dev/workloads-update records and the pods' proxies).
type WorkloadsUpdateStatus struct {
	// Target is the revision and Istio version the workloads move to.
	Target string `json:"target"`
	// NamespacesDone counts the namespaces bosun moved for this target.
	NamespacesDone int32 `json:"namespacesDone"`
	// NamespacesLeft counts the namespaces of the mesh with workloads still to move.
	NamespacesLeft int32 `json:"namespacesLeft"`
	// PodsLeft counts the pods in the mesh's namespaces that still run an older proxy.
	PodsLeft int32 `json:"podsLeft"`
	// InProgress is the workload whose rollout bosun awaits, as namespace/Kind/name.
	// +optional
	InProgress string `json:"inProgress,omitempty"`
	// Left are the workloads bosun does not restart, each with why (namespace/Kind/name: why).
	// +optional
	Left []string `json:"left,omitempty"`
}

// Istio is an Istio service mesh control plane. bosun runs it as one IstioRevision (InPlace) or as one
// IstioRevision per version (RevisionBased), the way a Deployment runs ReplicaSets.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=istio-io
// +kubebuilder:printcolumn:name="Revisions",type=string,JSONPath=".status.revisions.total",description="Number of revisions this Istio owns."
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.revisions.ready",description="Number of revisions that are ready."
// +kubebuilder:printcolumn:name="In use",type=string,JSONPath=".status.revisions.inUse",description="Number of revisions that workloads use."
// +kubebuilder:printcolumn:name="Active Revision",type=string,JSONPath=".status.activeRevisionName",description="The revision that receives spec changes."
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.state",description="Healthy, or why not."
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=".spec.version",description="Requested Istio version."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=".spec.namespace",priority=1,description="Namespace of the control plane."
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=".spec.profile",priority=1,description="Configuration profile."
type Istio struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={namespace: "istio-system", updateStrategy: {type: "InPlace"}}
	// +optional
	Spec IstioSpec `json:"spec"`

	// +optional
	Status IstioStatus `json:"status,omitempty"`
}

// IstioList is a list of Istio.
// +kubebuilder:object:root=true
type IstioList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Istio `json:"items"`
}

func init() {
	register(&Istio{}, &IstioList{})
}
