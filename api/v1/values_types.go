package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// The types of Istio's Helm values are generated from Istio's protobuf definitions into
// values_types.gen.go (make generate). This file holds what those definitions do not give: the
// top-level values of each kind, the subsets of the global values the CNI and ztunnel charts read, and
// ztunnel's values, which Istio defines only in its chart.

// Values are the Helm values of Istio's istiod and base charts, as an Istio or IstioRevision passes them.
//
// The top-level keys are those of Istio's charts less the ones another kind owns: cni and ztunnel
// belong to IstioCNI and ZTunnel, revision tags to IstioRevisionTag, and gateways are deployed with
// applications. An unknown key is refused.
type Values struct {
	// Global holds the values shared by all of Istio's charts.
	// +optional
	Global *GlobalConfig `json:"global,omitempty"`

	// Pilot configures istiod.
	// +optional
	Pilot *PilotConfig `json:"pilot,omitempty"`

	// Telemetry configures the telemetry that istiod programs into proxies.
	// +optional
	Telemetry *TelemetryConfig `json:"telemetry,omitempty"`

	// SidecarInjectorWebhook configures the sidecar injector.
	// +optional
	SidecarInjectorWebhook *SidecarInjectorConfig `json:"sidecarInjectorWebhook,omitempty"`

	// MeshConfig is the mesh-wide configuration istiod serves to proxies (Istio's MeshConfig).
	// +optional
	MeshConfig *MeshConfig `json:"meshConfig,omitempty"`

	// Base configures the base chart, which a revision named default also installs.
	// +optional
	Base *BaseConfig `json:"base,omitempty"`

	// IstiodRemote configures a remote cluster's injector that points at an external istiod.
	//
	// Deprecated: Istio moved these settings to pilot and global.
	// +optional
	IstiodRemote *IstiodRemoteConfig `json:"istiodRemote,omitempty"`

	// Experimental holds values for experimental features. Istio's definitions leave them open, so
	// they are kept as written and not validated.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Experimental *apiextensionsv1.JSON `json:"experimental,omitempty"`

	// GatewayClasses customises the resources istiod creates for each Gateway API GatewayClass.
	// Istio's definitions leave them open, so they are kept as written and not validated.
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
	//
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

// CNIValues are the Helm values of Istio's cni chart.
type CNIValues struct {
	// Cni configures the istio-cni-node DaemonSet and the CNI plugin.
	// +optional
	Cni *CNIConfig `json:"cni,omitempty"`

	// Global holds the global values the cni chart reads.
	// +optional
	Global *CNIGlobalConfig `json:"global,omitempty"`
}

// CNIGlobalConfig is the part of the global values that the cni chart reads.
type CNIGlobalConfig struct {
	ChartGlobalConfig `json:",inline"`

	// NativeNftables programs nftables instead of iptables.
	// +optional
	NativeNftables *bool `json:"nativeNftables,omitempty"`
	// ResourceScope limits which resources the chart installs.
	// +optional
	ResourceScope *ResourceScope `json:"resourceScope,omitempty"`
}

// ChartGlobalConfig is the part of the global values that both node charts, cni and ztunnel, read.
type ChartGlobalConfig struct {
	// DefaultResources are the resources of containers that set none.
	// +optional
	DefaultResources *DefaultResourcesConfig `json:"defaultResources,omitempty"`
	// Hub is the image registry, such as registry.istio.io/release.
	// +optional
	Hub *string `json:"hub,omitempty"`
	// ImagePullPolicy of the image.
	// +optional
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	ImagePullPolicy *string `json:"imagePullPolicy,omitempty"`
	// ImagePullSecrets name secrets in the component's namespace for pulling the image.
	// +optional
	ImagePullSecrets []string `json:"imagePullSecrets,omitzero"`
	// LogAsJson writes logs as JSON.
	// +optional
	LogAsJson *bool `json:"logAsJson,omitempty"`
	// Logging sets log levels per scope.
	// +optional
	Logging *GlobalLoggingConfig `json:"logging,omitempty"`
	// NetworkPolicy controls the NetworkPolicy the chart creates.
	// +optional
	NetworkPolicy *NetworkPolicyConfig `json:"networkPolicy,omitempty"`
	// Platform selects the chart's platform presets, such as openshift.
	// +optional
	Platform *string `json:"platform,omitempty"`
	// Tag is the image tag.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Tag *apiextensionsv1.JSON `json:"tag,omitempty"`
	// Variant is the image variant, such as distroless.
	// +optional
	Variant *string `json:"variant,omitempty"`
}

// ZTunnelValues are the Helm values of Istio's ztunnel chart.
type ZTunnelValues struct {
	// ZTunnel configures the ztunnel DaemonSet.
	// +optional
	ZTunnel *ZTunnelConfig `json:"ztunnel,omitempty"`

	// Global holds the global values the ztunnel chart reads.
	// +optional
	Global *ZTunnelGlobalConfig `json:"global,omitempty"`
}

// ZTunnelGlobalConfig is the part of the global values that the ztunnel chart reads.
type ZTunnelGlobalConfig struct {
	ChartGlobalConfig `json:",inline"`
}

// ZTunnelConfig configures the ztunnel DaemonSet. Istio defines these values only in its ztunnel
// chart, so they are written here; a test checks them against every catalog version's chart.
type ZTunnelConfig struct {
	// Hub is the image registry.
	// +optional
	Hub *string `json:"hub,omitempty"`
	// Tag is the image tag.
	// +optional
	Tag *string `json:"tag,omitempty"`
	// Variant is the image variant, such as distroless.
	// +optional
	Variant *string `json:"variant,omitempty"`
	// Image is the image name, or a full image reference.
	// +optional
	Image *string `json:"image,omitempty"`
	// ImagePullPolicy of the ztunnel image.
	// +optional
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	ImagePullPolicy *string `json:"imagePullPolicy,omitempty"`
	// ImagePullSecrets name secrets in the ztunnel namespace for pulling the image.
	// +optional
	ImagePullSecrets []string `json:"imagePullSecrets,omitzero"`
	// ResourceName names the DaemonSet and its service account.
	// +optional
	ResourceName *string `json:"resourceName,omitempty"`
	// Annotations are added to the DaemonSet.
	// +optional
	Annotations map[string]string `json:"annotations,omitzero"`
	// Labels are added to the DaemonSet.
	// +optional
	Labels map[string]string `json:"labels,omitzero"`
	// PodAnnotations are added to ztunnel pods.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitzero"`
	// PodLabels are added to ztunnel pods.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitzero"`
	// Env sets environment variables of the ztunnel container. Values are strings: quote booleans
	// and numbers.
	// +optional
	Env map[string]string `json:"env,omitzero"`
	// Resources of the ztunnel container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// ResourceQuotas creates a ResourceQuota for the ztunnel namespace.
	// +optional
	ResourceQuotas *ResourceQuotas `json:"resourceQuotas,omitempty"`
	// ResourceScope limits which resources the chart installs.
	// +optional
	ResourceScope *ResourceScope `json:"resourceScope,omitempty"`
	// NodeSelector restricts the nodes ztunnel runs on.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitzero"`
	// Affinity of ztunnel pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// Tolerations of ztunnel pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitzero"`
	// Volumes added to ztunnel pods.
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitzero"`
	// VolumeMounts added to the ztunnel container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitzero"`
	// SeLinuxOptions of the ztunnel container.
	// +optional
	SeLinuxOptions *corev1.SELinuxOptions `json:"seLinuxOptions,omitempty"`
	// DNSPolicy of ztunnel pods.
	// +optional
	// +kubebuilder:validation:Enum=ClusterFirstWithHostNet;ClusterFirst;Default;None
	DNSPolicy *corev1.DNSPolicy `json:"dnsPolicy,omitempty"`
	// DNSConfig of ztunnel pods.
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`
	// UpdateStrategy of the DaemonSet. OnDelete lets nodes be drained before their ztunnel is
	// replaced.
	// +optional
	UpdateStrategy *appsv1.DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
	// TerminationGracePeriodSeconds is how long an old ztunnel keeps serving existing connections
	// during a rollout.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=30
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// LogLevel of ztunnel.
	// +optional
	// +kubebuilder:validation:Enum=trace;debug;info;warn;error
	// +kubebuilder:default=info
	LogLevel *string `json:"logLevel,omitempty"`
	// LogAsJson writes logs as JSON.
	// +optional
	LogAsJson *bool `json:"logAsJson,omitempty"`
	// Revision is the control-plane revision ztunnel follows.
	// +optional
	Revision *string `json:"revision,omitempty"`
	// IstioNamespace is the namespace of the control plane.
	// +optional
	IstioNamespace *string `json:"istioNamespace,omitempty"`
	// CaAddress is the address of the certificate authority; empty means istiod.
	// +optional
	CaAddress *string `json:"caAddress,omitempty"`
	// XdsAddress is the address of the configuration server; empty means istiod.
	// +optional
	XdsAddress *string `json:"xdsAddress,omitempty"`
	// Network is the network ztunnel's node belongs to, for multi-network meshes.
	// +optional
	Network *string `json:"network,omitempty"`
	// MultiCluster configures the cluster's identity in a multi-cluster mesh.
	// +optional
	MultiCluster *MultiClusterConfig `json:"multiCluster,omitempty"`
	// MeshConfig holds the one mesh setting ztunnel reads: defaultConfig.proxyMetadata.
	// +optional
	MeshConfig *ZTunnelMeshConfig `json:"meshConfig,omitempty"`
	// PeerCaCrl controls checking peer certificates against the CA's revocation list.
	// +optional
	PeerCaCrl *ZTunnelPeerCaCrl `json:"peerCaCrl,omitempty"`
	// TrustBundleName names the ConfigMap with the trust bundle.
	// +optional
	TrustBundleName *string `json:"trustBundleName,omitempty"`
}

// ZTunnelPeerCaCrl controls certificate revocation checks of peers.
type ZTunnelPeerCaCrl struct {
	// Enabled turns the checks on.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// ZTunnelMeshConfig is the part of the mesh config that the ztunnel chart reads.
type ZTunnelMeshConfig struct {
	// DefaultConfig holds the proxy settings ztunnel reads.
	// +optional
	DefaultConfig *ZTunnelProxyConfig `json:"defaultConfig,omitempty"`
}

// ZTunnelProxyConfig is the part of the proxy config that the ztunnel chart reads.
type ZTunnelProxyConfig struct {
	// ProxyMetadata sets environment variables of ztunnel, as it does for sidecars.
	// +optional
	ProxyMetadata map[string]string `json:"proxyMetadata,omitzero"`
}
