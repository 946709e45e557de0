// Package maistra holds the OpenShift Service Mesh 2 API that `bosun migrate` reads: the
// ServiceMeshControlPlane (maistra.io/v2), ServiceMeshMemberRoll and ServiceMeshMember (maistra.io/v1).
// The types are bosun's own, written from the public API reference, and cover the fields bosun
// converts or reports; subtrees bosun only reports (add-on installs, Mixer settings, 3scale, tech
// preview values) are kept as Opaque. Decode reads them strictly, with the API server's own JSON
// decoder (sigs.k8s.io/json), and returns the paths of the fields it does not know, so that a setting
// bosun cannot read is reported instead of being dropped.
package maistra

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and the versions bosun reads.
const (
	Group            = "maistra.io"
	KindControlPlane = "ServiceMeshControlPlane"
	KindMemberRoll   = "ServiceMeshMemberRoll"
	KindMember       = "ServiceMeshMember"
	// ModeMultiTenant is the 2.x default: the mesh spans the control plane's namespace and its members.
	ModeMultiTenant = "MultiTenant"
	// ModeClusterWide: the mesh spans the cluster.
	ModeClusterWide = "ClusterWide"
)

// Opaque is a subtree bosun reads as it is, without knowing its fields: it only reports it.
type Opaque = map[string]any

// ControlPlane is a ServiceMeshControlPlane (maistra.io/v2).
type ControlPlane struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ControlPlaneSpec `json:"spec"`
	// Status is read leniently: only the applied spec (the spec with the profiles merged in) matters.
	Status ControlPlaneStatus `json:"-"`
}

// ControlPlaneStatus is the part of the status bosun reads.
type ControlPlaneStatus struct {
	// AppliedSpec is the spec the 2.x operator applied, after merging the profiles; nil when the
	// input has no status.
	AppliedSpec *ControlPlaneSpec
	// ChartVersion is the version of the charts 2.x installed, such as 2.6.5.
	ChartVersion string
}

// ControlPlaneSpec is the spec of a ServiceMeshControlPlane.
type ControlPlaneSpec struct {
	Version     string          `json:"version,omitempty"`
	Mode        string          `json:"mode,omitempty"`
	Profiles    []string        `json:"profiles,omitempty"`
	Cluster     *ClusterConfig  `json:"cluster,omitempty"`
	General     *GeneralConfig  `json:"general,omitempty"`
	Policy      *TypedConfig    `json:"policy,omitempty"`
	Telemetry   *TypedConfig    `json:"telemetry,omitempty"`
	Proxy       *ProxyConfig    `json:"proxy,omitempty"`
	Security    *SecurityConfig `json:"security,omitempty"`
	Tracing     *TracingConfig  `json:"tracing,omitempty"`
	Gateways    *GatewaysConfig `json:"gateways,omitempty"`
	Runtime     *RuntimeConfig  `json:"runtime,omitempty"`
	Addons      *AddonsConfig   `json:"addons,omitempty"`
	MeshConfig  *MeshConfig     `json:"meshConfig,omitempty"`
	TechPreview Opaque          `json:"techPreview,omitempty"`
}

// Enablement is the enabled switch many sections share.
type Enablement struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// On reports whether the switch is set to true.
func (e Enablement) On() bool { return e.Enabled != nil && *e.Enabled }

// Off reports whether the switch is set to false.
func (e Enablement) Off() bool { return e.Enabled != nil && !*e.Enabled }

// ClusterConfig names the cluster and its network, and turns on multi-cluster and mesh expansion.
type ClusterConfig struct {
	Name          string         `json:"name,omitempty"`
	Network       string         `json:"network,omitempty"`
	MultiCluster  *MultiCluster  `json:"multiCluster,omitempty"`
	MeshExpansion *MeshExpansion `json:"meshExpansion,omitempty"`
}

// MultiCluster is 2.x's multi-cluster switch and its mesh networks.
type MultiCluster struct {
	Enablement   `json:",inline"`
	MeshNetworks Opaque `json:"meshNetworks,omitempty"`
}

// MeshExpansion is 2.x's switch for virtual machines joining the mesh.
type MeshExpansion struct {
	Enablement `json:",inline"`
	ILBGateway *GatewayConfig `json:"ilbGateway,omitempty"`
}

// GeneralConfig is the control plane's logging and validation messages.
type GeneralConfig struct {
	Logging            *LoggingConfig `json:"logging,omitempty"`
	ValidationMessages *bool          `json:"validationMessages,omitempty"`
}

// LoggingConfig sets log levels by component.
type LoggingConfig struct {
	ComponentLevels map[string]string `json:"componentLevels,omitempty"`
	LogAsJSON       *bool             `json:"logAsJSON,omitempty"`
}

// TypedConfig is the policy and telemetry sections: a type (None, Istiod, Mixer, Remote) and the
// Mixer settings of 2.0, which 2.6 no longer runs.
type TypedConfig struct {
	Type   string `json:"type,omitempty"`
	Mixer  Opaque `json:"mixer,omitempty"`
	Remote Opaque `json:"remote,omitempty"`
}

// ProxyConfig is the sidecars' configuration.
type ProxyConfig struct {
	Logging             *ProxyLogging       `json:"logging,omitempty"`
	Networking          *ProxyNetworking    `json:"networking,omitempty"`
	Runtime             *ProxyRuntime       `json:"runtime,omitempty"`
	Injection           *ProxyInjection     `json:"injection,omitempty"`
	AdminPort           int32               `json:"adminPort,omitempty"`
	Concurrency         *int32              `json:"concurrency,omitempty"`
	AccessLogging       *ProxyAccessLogging `json:"accessLogging,omitempty"`
	EnvoyMetricsService Opaque              `json:"envoyMetricsService,omitempty"`
}

// ProxyLogging is the sidecars' log levels.
type ProxyLogging struct {
	Level           string            `json:"level,omitempty"`
	ComponentLevels map[string]string `json:"componentLevels,omitempty"`
}

// ProxyNetworking is the sidecars' network settings.
type ProxyNetworking struct {
	ClusterDomain     string             `json:"clusterDomain,omitempty"`
	ConnectionTimeout string             `json:"connectionTimeout,omitempty"`
	MaxConnectionAge  string             `json:"maxConnectionAge,omitempty"`
	Initialization    *ProxyNetworkInit  `json:"initialization,omitempty"`
	TrafficControl    *TrafficControl    `json:"trafficControl,omitempty"`
	Protocol          *ProtocolDetection `json:"protocol,omitempty"`
	DNS               *ProxyDNS          `json:"dns,omitempty"`
}

// ProxyNetworkInit says how pods' traffic is redirected: CNI or an init container.
type ProxyNetworkInit struct {
	Type          string `json:"type,omitempty"`
	InitContainer Opaque `json:"initContainer,omitempty"`
}

// TrafficControl is which traffic the sidecars capture.
type TrafficControl struct {
	Inbound  InboundTrafficControl  `json:"inbound,omitempty"`
	Outbound OutboundTrafficControl `json:"outbound,omitempty"`
}

// InboundTrafficControl is which inbound traffic the sidecars capture, and how.
type InboundTrafficControl struct {
	InterceptionMode string   `json:"interceptionMode,omitempty"`
	IncludedPorts    []string `json:"includedPorts,omitempty"`
	ExcludedPorts    []int32  `json:"excludedPorts,omitempty"`
}

// OutboundTrafficControl is which outbound traffic the sidecars capture, and the policy for
// destinations outside the mesh.
type OutboundTrafficControl struct {
	IncludedIPRanges []string `json:"includedIPRanges,omitempty"`
	ExcludedIPRanges []string `json:"excludedIPRanges,omitempty"`
	ExcludedPorts    []int32  `json:"excludedPorts,omitempty"`
	Policy           string   `json:"policy,omitempty"`
}

// ProtocolDetection is the sidecars' protocol sniffing.
type ProtocolDetection struct {
	AutoDetect *AutoDetect `json:"autoDetect,omitempty"`
}

// AutoDetect turns protocol sniffing on per direction.
type AutoDetect struct {
	Timeout  string `json:"timeout,omitempty"`
	Inbound  *bool  `json:"inbound,omitempty"`
	Outbound *bool  `json:"outbound,omitempty"`
}

// ProxyDNS is the sidecars' DNS settings.
type ProxyDNS struct {
	SearchSuffixes []string `json:"searchSuffixes,omitempty"`
	RefreshRate    string   `json:"refreshRate,omitempty"`
}

// ProxyRuntime is the sidecar container and its readiness probe.
type ProxyRuntime struct {
	Readiness *ProxyReadiness  `json:"readiness,omitempty"`
	Container *ContainerConfig `json:"container,omitempty"`
}

// ProxyReadiness is the sidecar's readiness probe.
type ProxyReadiness struct {
	RewriteApplicationProbes bool  `json:"rewriteApplicationProbes,omitempty"`
	StatusPort               int32 `json:"statusPort,omitempty"`
	InitialDelaySeconds      int32 `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds            int32 `json:"periodSeconds,omitempty"`
	FailureThreshold         int32 `json:"failureThreshold,omitempty"`
}

// ProxyInjection is the injector's selectors and annotations.
type ProxyInjection struct {
	AutoInject           *bool                  `json:"autoInject,omitempty"`
	AlwaysInjectSelector []metav1.LabelSelector `json:"alwaysInjectSelector,omitempty"`
	NeverInjectSelector  []metav1.LabelSelector `json:"neverInjectSelector,omitempty"`
	InjectedAnnotations  map[string]string      `json:"injectedAnnotations,omitempty"`
}

// ProxyAccessLogging is the sidecars' access log.
type ProxyAccessLogging struct {
	File         *AccessLogFile `json:"file,omitempty"`
	EnvoyService Opaque         `json:"envoyService,omitempty"`
}

// AccessLogFile is where and how the sidecars write their access log.
type AccessLogFile struct {
	Name     string `json:"name,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	Format   string `json:"format,omitempty"`
}

// ContainerConfig is a container's image and resources.
type ContainerConfig struct {
	ImageRegistry    string                        `json:"imageRegistry,omitempty"`
	ImageTag         string                        `json:"imageTag,omitempty"`
	ImageName        string                        `json:"imageName,omitempty"`
	ImagePullPolicy  corev1.PullPolicy             `json:"imagePullPolicy,omitempty"`
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	Resources        *corev1.ResourceRequirements  `json:"resources,omitempty"`
	Env              map[string]string             `json:"env,omitempty"`
}

// SecurityConfig is the mesh's identity, certificates and mutual TLS.
type SecurityConfig struct {
	Trust                *TrustConfig          `json:"trust,omitempty"`
	CertificateAuthority *CertificateAuthority `json:"certificateAuthority,omitempty"`
	Identity             *IdentityConfig       `json:"identity,omitempty"`
	ControlPlane         *ControlPlaneSecurity `json:"controlPlane,omitempty"`
	DataPlane            *DataPlaneSecurity    `json:"dataPlane,omitempty"`
	// ManageNetworkPolicy makes 2.x create NetworkPolicies for the mesh (2.x's default: true).
	ManageNetworkPolicy *bool `json:"manageNetworkPolicy,omitempty"`
}

// TrustConfig is the trust domain and its aliases.
type TrustConfig struct {
	Domain            string   `json:"domain,omitempty"`
	AdditionalDomains []string `json:"additionalDomains,omitempty"`
}

// CertificateAuthority is who signs the workloads' certificates.
type CertificateAuthority struct {
	Type        string       `json:"type,omitempty"`
	Istiod      *IstiodCA    `json:"istiod,omitempty"`
	Custom      *CustomCA    `json:"custom,omitempty"`
	CertManager *CertManager `json:"certManager,omitempty"`
}

// IstiodCA is istiod's own certificate authority.
type IstiodCA struct {
	Type                   string        `json:"type,omitempty"`
	SelfSigned             *SelfSignedCA `json:"selfSigned,omitempty"`
	PrivateKey             *PrivateKeyCA `json:"privateKey,omitempty"`
	WorkloadCertTTLDefault string        `json:"workloadCertTTLDefault,omitempty"`
	WorkloadCertTTLMax     string        `json:"workloadCertTTLMax,omitempty"`
}

// SelfSignedCA is the self-signed root istiod creates.
type SelfSignedCA struct {
	TTL          string `json:"ttl,omitempty"`
	GracePeriod  string `json:"gracePeriod,omitempty"`
	CheckPeriod  string `json:"checkPeriod,omitempty"`
	EnableJitter *bool  `json:"enableJitter,omitempty"`
}

// PrivateKeyCA is a root the user provides.
type PrivateKeyCA struct {
	RootCADir string `json:"rootCADir,omitempty"`
}

// CustomCA is an external signer.
type CustomCA struct {
	Address string `json:"address,omitempty"`
}

// CertManager is cert-manager's istio-csr as the signer.
type CertManager struct {
	Address             string `json:"address,omitempty"`
	PilotSecretName     string `json:"pilotSecretName,omitempty"`
	RootCAConfigMapName string `json:"rootCAConfigMapName,omitempty"`
}

// IdentityConfig is the kind of service account token the proxies present.
type IdentityConfig struct {
	Type       string      `json:"type,omitempty"`
	ThirdParty *ThirdParty `json:"thirdParty,omitempty"`
}

// ThirdParty is the projected token's issuer and audience.
type ThirdParty struct {
	Issuer   string `json:"issuer,omitempty"`
	Audience string `json:"audience,omitempty"`
}

// ControlPlaneSecurity is the control plane's TLS.
type ControlPlaneSecurity struct {
	MTLS         *bool      `json:"mtls,omitempty"`
	CertProvider string     `json:"certProvider,omitempty"`
	TLS          *TLSConfig `json:"tls,omitempty"`
}

// TLSConfig is the TLS versions, ciphers and curves of the mesh.
type TLSConfig struct {
	CipherSuites       []string `json:"cipherSuites,omitempty"`
	ECDHCurves         []string `json:"ecdhCurves,omitempty"`
	MinProtocolVersion string   `json:"minProtocolVersion,omitempty"`
	MaxProtocolVersion string   `json:"maxProtocolVersion,omitempty"`
}

// DataPlaneSecurity is mutual TLS between workloads.
type DataPlaneSecurity struct {
	MTLS     *bool `json:"mtls,omitempty"`
	AutoMTLS *bool `json:"automtls,omitempty"`
}

// TracingConfig is the tracer and its sampling rate, in hundredths of a percent (10000 is 100%).
type TracingConfig struct {
	Type     string `json:"type,omitempty"`
	Sampling *int32 `json:"sampling,omitempty"`
}

// GatewaysConfig is the gateways 2.x installs.
type GatewaysConfig struct {
	Enablement        `json:",inline"`
	ClusterIngress    *IngressGateway            `json:"ingress,omitempty"`
	ClusterEgress     *GatewayConfig             `json:"egress,omitempty"`
	AdditionalIngress map[string]*IngressGateway `json:"additionalIngress,omitempty"`
	AdditionalEgress  map[string]*GatewayConfig  `json:"additionalEgress,omitempty"`
	OpenShiftRoute    *Enablement                `json:"openshiftRoute,omitempty"`
}

// GatewayConfig is one gateway.
type GatewayConfig struct {
	Enablement           `json:",inline"`
	Namespace            string            `json:"namespace,omitempty"`
	Service              GatewayService    `json:"service,omitempty"`
	RouterMode           string            `json:"routerMode,omitempty"`
	Volumes              []Opaque          `json:"volumes,omitempty"`
	Runtime              *ComponentRuntime `json:"runtime,omitempty"`
	RequestedNetworkView []string          `json:"requestedNetworkView,omitempty"`
}

// IngressGateway is an ingress gateway, with the settings only ingress gateways have.
type IngressGateway struct {
	GatewayConfig      `json:",inline"`
	SDS                Opaque               `json:"sds,omitempty"`
	Ingress            *bool                `json:"ingress,omitempty"`
	MeshExpansionPorts []corev1.ServicePort `json:"meshExpansionPorts,omitempty"`
}

// GatewayService is a gateway's Service.
type GatewayService struct {
	corev1.ServiceSpec `json:",inline"`
	Metadata           *Metadata `json:"metadata,omitempty"`
}

// Metadata is labels and annotations to add.
type Metadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RuntimeConfig is the runtime settings of the control plane's components.
type RuntimeConfig struct {
	Components map[string]*ComponentRuntime `json:"components,omitempty"`
	Defaults   Opaque                       `json:"defaults,omitempty"`
}

// ComponentRuntime is one component's Deployment, pod and container settings.
type ComponentRuntime struct {
	Deployment *DeploymentRuntime `json:"deployment,omitempty"`
	Pod        *PodRuntime        `json:"pod,omitempty"`
	Container  *ContainerConfig   `json:"container,omitempty"`
}

// DeploymentRuntime is a component's replicas and autoscaling.
type DeploymentRuntime struct {
	Replicas    *int32       `json:"replicas,omitempty"`
	Strategy    Opaque       `json:"strategy,omitempty"`
	AutoScaling *AutoScaling `json:"autoScaling,omitempty"`
}

// AutoScaling is a component's horizontal pod autoscaler.
type AutoScaling struct {
	Enablement                     `json:",inline"`
	MinReplicas                    *int32 `json:"minReplicas,omitempty"`
	MaxReplicas                    *int32 `json:"maxReplicas,omitempty"`
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// PodRuntime is a component's scheduling.
type PodRuntime struct {
	Metadata          *Metadata           `json:"metadata,omitempty"`
	NodeSelector      map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations       []corev1.Toleration `json:"tolerations,omitempty"`
	PriorityClassName string              `json:"priorityClassName,omitempty"`
	Affinity          Opaque              `json:"affinity,omitempty"`
}

// AddonsConfig is the add-ons 2.x installs next to the control plane.
type AddonsConfig struct {
	Prometheus  *Addon `json:"prometheus,omitempty"`
	Stackdriver Opaque `json:"stackdriver,omitempty"`
	Jaeger      *Addon `json:"jaeger,omitempty"`
	Grafana     *Addon `json:"grafana,omitempty"`
	Kiali       *Addon `json:"kiali,omitempty"`
	ThreeScale  Opaque `json:"3scale,omitempty"`
}

// Addon is one add-on: whether it is on, its name, and how 2.x installs it (reported, not read).
type Addon struct {
	Enablement            `json:",inline"`
	Name                  string  `json:"name,omitempty"`
	Install               Opaque  `json:"install,omitempty"`
	Address               *string `json:"address,omitempty"`
	Scrape                *bool   `json:"scrape,omitempty"`
	MetricsExpiryDuration string  `json:"metricsExpiryDuration,omitempty"`
}

// MeshConfig is the part of Istio's mesh configuration 2.6 lets a user set.
type MeshConfig struct {
	DiscoverySelectors []metav1.LabelSelector `json:"discoverySelectors,omitempty"`
	// ExtensionProviders are copied as they are: their shape is Istio's own.
	ExtensionProviders []Opaque `json:"extensionProviders,omitempty"`
}

// MemberRoll is a ServiceMeshMemberRoll (maistra.io/v1): the namespaces of a multitenant mesh.
type MemberRoll struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MemberRollSpec `json:"spec"`
}

// MemberRollSpec lists the members by name and by label.
type MemberRollSpec struct {
	Members         []string               `json:"members,omitempty"`
	MemberSelectors []metav1.LabelSelector `json:"memberSelectors,omitempty"`
}

// Member is a ServiceMeshMember (maistra.io/v1): a namespace that joins a control plane.
type Member struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MemberSpec `json:"spec"`
}

// MemberSpec names the control plane the namespace joins.
type MemberSpec struct {
	ControlPlaneRef ControlPlaneRef `json:"controlPlaneRef"`
}

// ControlPlaneRef names a ServiceMeshControlPlane.
type ControlPlaneRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}
