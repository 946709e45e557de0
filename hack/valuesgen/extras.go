package main

// extraField is a value key that Istio's charts read but its protobuf definitions do not declare yet.
// Istio adds a setting to its charts first and to values_types.proto later, if ever; leaving such a key
// out of the schema would make the API server refuse a setting the chart honours. Each entry gives
// the chart's own description. The values round-trip test (internal/values) fails when a chart of a
// catalog version has a key that is neither declared by the protobuf definitions nor listed here.
type extraField struct {
	json    string
	goType  string
	doc     string
	markers []string
	imports []string
}

var extraFields = map[string][]extraField{
	"PilotConfig": {
		{json: "pdb", goType: "*PilotPodDisruptionBudgetConfig", doc: "PodDisruptionBudget settings of istiod."},
		{json: "trustedZtunnelName", goType: "*string", doc: "Name of the ztunnel DaemonSet istiod trusts, when ztunnel is installed under another name."},
		{json: "initContainers", goType: "[]corev1.Container", doc: "Init containers added to the istiod pod.", imports: []string{"corev1"}},
	},
	"WaypointConfig": {
		// The definitions call this field toleration; the chart reads tolerations.
		{json: "tolerations", goType: "[]corev1.Toleration", doc: "Tolerations of waypoint pods.", imports: []string{"corev1"}},
	},
	"ProxyInitConfig": {
		{json: "forceApplyIptables", goType: "*bool", doc: "Bypasses iptables idempotency handling and applies the rules regardless of the table's state. Use only to work around a problem of that handling."},
	},
	"CNIConfig": {
		{json: "revision", goType: "*string", doc: "Revision is set as the version label and is part of resource names when several control planes are installed."},
		{json: "terminationGracePeriodSeconds", goType: "*int64", doc: "terminationGracePeriodSeconds of CNI pods. A longer one gives the agent time to clean up during a rolling update.", markers: []string{"+kubebuilder:validation:Minimum=0"}},
		{json: "tolerations", goType: "[]corev1.Toleration", doc: "Tolerations of CNI pods.", imports: []string{"corev1"}},
		{json: "updateStrategy", goType: "*appsv1.DaemonSetUpdateStrategy", doc: "Update strategy of the istio-cni-node DaemonSet.", imports: []string{"appsv1"}},
	},
	"CNIAmbientConfig": {
		{json: "enablementSelectors", goType: "[]CNIAmbientEnablementSelector", doc: "Selectors of the pods ambient mode captures: a pod matching any entry is captured."},
		{json: "shareHostNetworkNamespace", goType: "*bool", doc: "Makes the CNI agent always share the host node's network namespace."},
		{json: "enableAmbientDetectionRetry", goType: "*bool", doc: "Makes the CNI agent retry deciding whether a pod is in ambient mode after an error."},
	},
}

// extraTypes are the types extraFields use that the protobuf definitions do not give.
const extraTypes = `
// PilotPodDisruptionBudgetConfig configures the PodDisruptionBudget of istiod. Set minAvailable or
// maxUnavailable, not both.
// +kubebuilder:validation:XValidation:rule="!(has(self.minAvailable) && has(self.maxUnavailable))",message="set pdb.minAvailable or pdb.maxUnavailable, not both"
type PilotPodDisruptionBudgetConfig struct {
	// Minimum number or percentage of istiod pods that must stay available.
	// +optional
	MinAvailable *intstr.IntOrString ` + "`json:\"minAvailable,omitempty\"`" + `
	// Maximum number or percentage of istiod pods that may be unavailable.
	// +optional
	MaxUnavailable *intstr.IntOrString ` + "`json:\"maxUnavailable,omitempty\"`" + `
	// Eviction policy for unhealthy istiod pods.
	// +optional
	// +kubebuilder:validation:Enum=IfHealthyBudget;AlwaysAllow
	UnhealthyPodEvictionPolicy *string ` + "`json:\"unhealthyPodEvictionPolicy,omitempty\"`" + `
}

// CNIAmbientEnablementSelector selects pods for ambient mode: those matching podSelector in namespaces
// matching namespaceSelector.
type CNIAmbientEnablementSelector struct {
	// Pods to select.
	// +optional
	PodSelector *LabelSelector ` + "`json:\"podSelector,omitempty\"`" + `
	// Namespaces whose pods are selected.
	// +optional
	NamespaceSelector *LabelSelector ` + "`json:\"namespaceSelector,omitempty\"`" + `
}
`
