package v1

// The types of spec.version check only the shape of a name. Which names bosun installs is decided by
// the catalog the operator runs with (internal/catalog), not by the CRDs: the operator installs
// admission policies generated from its catalog (internal/versionpolicy) that refuse a name the
// catalog does not know and give an empty spec.version the catalog's default. So the same CRDs serve
// the built-in catalog and a vendor's.
//
// A test in config/crd keeps these shapes and the catalog's own name rules in step.

// IstioVersion is an Istio version or alias: v1.27.3, 1.27.3 (the v is optional), v1.27.0-rc.1,
// v1.27-latest or latest. Empty means the catalog's default.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="size(self) == 0 || self.matches('^(latest|v[0-9]+[.][0-9]+-latest|v?[0-9]+[.][0-9]+[.][0-9]+(-[0-9a-z.-]+)?)$')",message="spec.version must be a version such as v1.27.3 or an alias such as v1.27-latest or latest"
type IstioVersion string

// ConcreteVersion is an Istio version that is not an alias: v1.27.3, 1.27.3 or v1.27.0-rc.1.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="self.matches('^v?[0-9]+[.][0-9]+[.][0-9]+(-[0-9a-z.-]+)?$')",message="spec.version must be a concrete version such as v1.27.3, not an alias: an Istio resolves its alias before it writes an IstioRevision"
type ConcreteVersion string

// AmbientVersion is an Istio version or alias with ambient mode, which ztunnel needs: Istio 1.24 or
// newer. Empty means the catalog's default. That ambient mode starts at 1.24 is a fact about Istio,
// not about a catalog, so the CRD checks it; a name of another shape gets only the shape's message.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="size(self) == 0 || self.matches('^(latest|v[0-9]+[.][0-9]+-latest|v?[0-9]+[.][0-9]+[.][0-9]+(-[0-9a-z.-]+)?)$')",message="spec.version must be a version such as v1.27.3 or an alias such as v1.27-latest or latest"
// +kubebuilder:validation:XValidation:rule="size(self) == 0 || self == 'latest' || !self.matches('^v?[0-9]') || self.matches('^v?(1[.](2[4-9]|[3-9][0-9]|[1-9][0-9][0-9]+)|[2-9][0-9]*[.][0-9]+|1[0-9]+[.][0-9]+)[.-]')",message="spec.version must be Istio 1.24 or newer: ztunnel needs ambient mode, which Istio has from 1.24"
type AmbientVersion string
