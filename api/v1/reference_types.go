package v1

// Kinds a TargetReference may name.
const (
	// KindIstio is the kind name of Istio, for TargetReference.Kind.
	KindIstio = "Istio"
	// KindIstioRevision is the kind name of IstioRevision, for TargetReference.Kind.
	KindIstioRevision = "IstioRevision"
)

// TargetReference names the Istio or IstioRevision that a tag or a ZTunnel follows.
type TargetReference struct {
	// Kind of the referenced resource. An Istio reference follows the Istio's active revision as it
	// changes; an IstioRevision reference stays on that one revision.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=Istio;IstioRevision
	Kind string `json:"kind"`

	// Name of the referenced resource.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
