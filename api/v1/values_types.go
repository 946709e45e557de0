package v1

import (
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Values are the Helm values of Istio's istiod and base charts, as an Istio or IstioRevision passes them.
//
// The top-level keys are those of Istio's charts less the ones another kind owns (cni and ztunnel belong
// to IstioCNI and ZTunnel, revision tags to IstioRevisionTag, gateways are deployed with applications).
// An unknown top-level key is refused. Below the top level the sections keep every key the user writes;
// they are typed from Istio's own definitions separately.
type Values struct {
	// Global holds the values shared by all of Istio's charts.
	// +optional
	Global *GlobalConfig `json:"global,omitempty"`

	// Pilot configures istiod.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Pilot *apiextensionsv1.JSON `json:"pilot,omitempty"`

	// Telemetry configures the telemetry that istiod programs into proxies.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Telemetry *apiextensionsv1.JSON `json:"telemetry,omitempty"`

	// SidecarInjectorWebhook configures the sidecar injector.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	SidecarInjectorWebhook *apiextensionsv1.JSON `json:"sidecarInjectorWebhook,omitempty"`

	// MeshConfig is the mesh-wide configuration istiod serves (Istio's MeshConfig).
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	MeshConfig *apiextensionsv1.JSON `json:"meshConfig,omitempty"`

	// Base configures the base chart, which a revision named default also installs.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Base *apiextensionsv1.JSON `json:"base,omitempty"`

	// IstiodRemote configures a remote cluster's injector that points at an external istiod.
	// Deprecated: Istio moved these settings to pilot and global.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	IstiodRemote *apiextensionsv1.JSON `json:"istiodRemote,omitempty"`

	// Experimental holds values for experimental features. Istio's definitions leave this open, so it
	// is not validated.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Experimental *apiextensionsv1.JSON `json:"experimental,omitempty"`

	// GatewayClasses customises the resources istiod creates for each Gateway API GatewayClass. Istio's
	// definitions leave this open, so it is not validated.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	GatewayClasses *apiextensionsv1.JSON `json:"gatewayClasses,omitempty"`

	// Revision is the Istio revision this control plane serves. bosun sets it to the IstioRevision's
	// name, or to "" for the revision named default.
	// +optional
	Revision *string `json:"revision,omitempty"`

	// DefaultRevision is ignored: bosun removes it before rendering. Use an IstioRevisionTag named
	// default to choose the revision that serves istio-injection=enabled.
	// Deprecated: kept so that existing manifests still apply.
	// +optional
	DefaultRevision *string `json:"defaultRevision,omitempty"`

	// Profile is the Istio configuration profile the charts apply. Set spec.profile instead.
	// +optional
	Profile *string `json:"profile,omitempty"`

	// CompatibilityVersion asks the charts to keep the defaults of an older Istio minor version, such
	// as "1.24".
	// +optional
	CompatibilityVersion *string `json:"compatibilityVersion,omitempty"`
}

// GlobalConfig holds the values shared by all of Istio's charts. istioNamespace is declared so that
// validation rules can compare it with spec.namespace; every other key is kept as written.
// +kubebuilder:pruning:PreserveUnknownFields
type GlobalConfig struct {
	// IstioNamespace is the namespace of the control plane. bosun sets it to spec.namespace; a
	// different value is refused.
	// +optional
	IstioNamespace *string `json:"istioNamespace,omitempty"`

	// Other holds the keys other than istioNamespace, as written.
	Other map[string]apiextensionsv1.JSON `json:"-"`
}

// MarshalJSON writes istioNamespace together with every other key the GlobalConfig holds.
func (g GlobalConfig) MarshalJSON() ([]byte, error) {
	all := make(map[string]any, len(g.Other)+1)
	for k, v := range g.Other {
		all[k] = json.RawMessage(v.Raw)
	}
	if g.IstioNamespace != nil {
		all["istioNamespace"] = *g.IstioNamespace
	}
	return json.Marshal(all)
}

// UnmarshalJSON reads istioNamespace and keeps every other key in Other.
func (g *GlobalConfig) UnmarshalJSON(data []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	*g = GlobalConfig{}
	if raw, ok := all["istioNamespace"]; ok {
		var ns string
		if err := json.Unmarshal(raw, &ns); err != nil {
			return fmt.Errorf("global.istioNamespace: %w", err)
		}
		g.IstioNamespace = &ns
		delete(all, "istioNamespace")
	}
	if len(all) > 0 {
		g.Other = make(map[string]apiextensionsv1.JSON, len(all))
		for k, v := range all {
			g.Other[k] = apiextensionsv1.JSON{Raw: v}
		}
	}
	return nil
}

// CNIValues are the Helm values of Istio's cni chart.
type CNIValues struct {
	// Cni configures the istio-cni-node DaemonSet and the CNI plugin.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Cni *apiextensionsv1.JSON `json:"cni,omitempty"`

	// Global holds the chart values shared with the control plane (hub, tag, platform, logging…).
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Global *apiextensionsv1.JSON `json:"global,omitempty"`
}

// ZTunnelValues are the Helm values of Istio's ztunnel chart.
type ZTunnelValues struct {
	// ZTunnel configures the ztunnel DaemonSet.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	ZTunnel *apiextensionsv1.JSON `json:"ztunnel,omitempty"`

	// Global holds the chart values shared with the control plane (hub, tag, platform, logging…).
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Global *apiextensionsv1.JSON `json:"global,omitempty"`
}
