// Package migrate moves a mesh from OpenShift Service Mesh 2.6 to bosun: Convert turns a
// ServiceMeshControlPlane and its member roll into an Istio, an IstioCNI and gateway manifests, with
// a Finding for every setting that has no 3.x equivalent; Check runs the pre-migration checklist
// against what a cluster holds; NewPlan lists, namespace by namespace, the labels to change, the
// workloads to restart, the check that follows and the way back. All of it is pure over its inputs:
// the command line reads the cluster and applies.
package migrate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

// Severity says how much a finding matters to the migration.
type Severity string

const (
	// Blocking findings must be resolved before the migration starts: the 3.x mesh cannot do what the
	// 2.6 one does.
	Blocking Severity = "blocking"
	// Warning findings change what the mesh does unless the user acts, before or after the migration.
	Warning Severity = "warning"
	// Info findings need no action, or a choice the user may make later.
	Info Severity = "info"
)

var severityOrder = map[Severity]int{Blocking: 0, Warning: 1, Info: 2}

// Finding is a 2.6 setting bosun did not turn into a 3.x field, or whose meaning changes.
type Finding struct {
	Severity Severity `json:"severity"`
	// Field is the ServiceMeshControlPlane's field (or the object) the finding is about.
	Field string `json:"field"`
	// Did is what the setting did in 2.6.
	Did string `json:"did"`
	// Now is what to do in 3.x.
	Now string `json:"now"`
}

// Mapping is one 2.6 setting carried into a 3.x field.
type Mapping struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Options are the choices a conversion leaves to the user.
type Options struct {
	// Name is the Istio's name, and so the revision's (updateStrategy InPlace): the istio.io/rev
	// value the namespaces move to. It must differ from the control plane's name, which is the 2.6
	// revision.
	Name string
	// Version is the Istio's spec.version; empty leaves it to the catalog's default.
	Version string
	// CNINamespace is where the IstioCNI runs.
	CNINamespace string
}

// DefaultName is the Istio's name when the user names none, as in the OpenShift Service Mesh
// migration article.
const DefaultName = "ossm3"

// Result is a converted control plane.
type Result struct {
	// Revision is the istio.io/rev value of the new control plane.
	Revision string
	// Namespace is the control plane's namespace, shared by 2.6 and 3.x during the migration.
	Namespace string
	// Old is the 2.6 control plane's revision (the ServiceMeshControlPlane's name).
	Old string
	// MultiTenant is true when the 2.6 mesh spanned its member roll only.
	MultiTenant bool
	// AllNamespaces is true when a multitenant mesh's member roll listed "*", which made every
	// namespace a member: the Istio then gets no discovery selectors.
	AllNamespaces bool
	// Members are the member namespaces, sorted, from the member roll and the members.
	Members  []string
	Istio    *unstructured.Unstructured
	CNI      *unstructured.Unstructured
	Gateways []*unstructured.Unstructured
	Mapped   []Mapping
	Findings []Finding
	// GatewaysFound are the 2.6 gateways (namespace/name) the output replaces; AddonsFound the
	// add-ons 2.6 installed, which 3.x does not.
	GatewaysFound, AddonsFound []string
}

// converter carries a conversion's state: the values being built and what was recorded.
type converter struct {
	spec          *maistra.ControlPlaneSpec
	values        map[string]any
	mapped        []Mapping
	findings      []Finding
	gatewaysFound []string
	addonsFound   []string
}

// set puts value at the dotted path under spec.values and records the mapping from the 2.6 field.
func (c *converter) set(from, path string, value any) {
	put(c.values, strings.Split(path, "."), value)
	c.mapped = append(c.mapped, Mapping{From: from, To: "spec.values." + path})
}

// put sets value at the path of nested maps, making the maps on the way.
func put(m map[string]any, keys []string, value any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
}

// find records a finding about a 2.6 field.
func (c *converter) find(sev Severity, field, did, now string) {
	c.findings = append(c.findings, Finding{Severity: sev, Field: field, Did: did, Now: now})
}

// Convert turns the control plane, with the member roll of its namespace (nil if there is none) and
// the members that name it, into the 3.x resources that replace it. It returns an error only for a
// choice of options that cannot work; anything about the 2.6 mesh is a Finding.
func Convert(cp *maistra.ControlPlane, roll *maistra.MemberRoll, members []*maistra.Member, unknown []string, o Options) (*Result, error) {
	name := cmp.Or(o.Name, DefaultName)
	// The name is the revision, which namespaces and pods name in their istio.io/rev label.
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return nil, fmt.Errorf("--name %q cannot name a revision: %s", name, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(o.CNINamespace); o.CNINamespace != "" && len(errs) > 0 {
		return nil, fmt.Errorf("--cni-namespace %q is no namespace name: %s", o.CNINamespace, strings.Join(errs, "; "))
	}
	switch name {
	case cp.Name:
		return nil, fmt.Errorf("the Istio's name %q is the ServiceMeshControlPlane's, which is the 2.6 control plane's revision: choose another with --name", name)
	case "default":
		return nil, fmt.Errorf("an Istio named default serves the namespaces labelled istio-injection=enabled, which the 2.6 control plane still serves during the migration: choose another name with --name")
	}
	spec := &cp.Spec
	c := &converter{spec: spec, values: map[string]any{}}
	if cp.Status.AppliedSpec != nil {
		spec = cp.Status.AppliedSpec
		c.spec = spec
		c.find(Info, "status.appliedSpec", "The 2.6 operator merged the profiles into the spec it applied.", "bosun converted the applied spec, so that settings the profiles made are carried too.")
	} else {
		// A spec alone does not say what 2.6's profiles turned on: the default profile installs
		// gateways, add-ons and Jaeger tracing that the spec need not mention.
		c.find(Info, "status.appliedSpec", "Not in the input: the spec the 2.6 operator applied, with its profiles merged in.",
			"bosun converted the spec alone, so what a profile turned on without the spec saying so (the default profile's gateways, add-ons and tracing) is neither carried nor reported. Convert from the cluster, or from kubectl get smcp -o yaml, which has the status.")
	}
	res := &Result{Revision: name, Namespace: cp.Namespace, Old: cp.Name, MultiTenant: spec.Mode != maistra.ModeClusterWide}
	res.Members = memberNamespaces(cp, roll, members)

	c.version(cp)
	c.scope(cp, roll, res)
	c.cluster()
	c.general()
	c.policyAndTelemetry()
	c.proxy()
	c.security()
	c.tracing()
	c.runtime()
	c.addons()
	c.meshConfig()
	c.techPreview()
	res.Gateways = c.gatewayObjects(cp.Namespace, name)
	for _, u := range unknown {
		c.find(Warning, u, "A field bosun does not know: 2.6 may have acted on it.", "Check what it does and set its 3.x equivalent under the Istio's spec.values by hand; bosun did not convert it.")
	}

	istioSpec := map[string]any{"namespace": cp.Namespace, "updateStrategy": map[string]any{"type": "InPlace"}}
	cniSpec := map[string]any{"namespace": cmp.Or(o.CNINamespace, "istio-cni")}
	if o.Version != "" {
		istioSpec["version"], cniSpec["version"] = o.Version, o.Version
	}
	if len(c.values) > 0 {
		istioSpec["values"] = c.values
	}
	res.Istio = sailResource("Istio", name, istioSpec)
	res.CNI = sailResource("IstioCNI", "default", cniSpec)
	res.Mapped = c.mapped
	res.GatewaysFound, res.AddonsFound = c.gatewaysFound, c.addonsFound
	slices.SortStableFunc(c.findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(severityOrder[a.Severity], severityOrder[b.Severity]), cmp.Compare(a.Field, b.Field))
	})
	res.Findings = c.findings
	return res, nil
}

// sailResource is a cluster-scoped sailoperator.io/v1 resource.
func sailResource(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sailoperator.io/v1",
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
		"spec":       spec,
	}}
}

// memberNamespaces are the namespaces of the member roll and of the members that name the control
// plane, sorted, without "*" and without the control plane's own namespace.
func memberNamespaces(cp *maistra.ControlPlane, roll *maistra.MemberRoll, members []*maistra.Member) []string {
	var out []string
	if roll != nil {
		for _, m := range roll.Spec.Members {
			if m != "*" && m != cp.Namespace {
				out = append(out, m)
			}
		}
	}
	for _, m := range members {
		ref := m.Spec.ControlPlaneRef
		if ref.Name == cp.Name && ref.Namespace == cp.Namespace && m.Namespace != cp.Namespace {
			out = append(out, m.Namespace)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// version reports a control plane older than 2.6: OpenShift Service Mesh supports the move to 3.x
// from 2.6 only.
func (c *converter) version(cp *maistra.ControlPlane) {
	if !AtLeast26(c.spec.Version) {
		c.find(Blocking, "spec.version", fmt.Sprintf("The control plane runs %s.", orUnset(c.spec.Version)),
			"Migration to 3.x is supported from 2.6 only: set spec.version to v2.6, let the 2.x operator update the control plane and restart the workloads, then migrate.")
	}
}

// AtLeast26 reports whether a ServiceMeshControlPlane version (v2.6, v2.6.5, 2.6) is 2.6 or newer.
func AtLeast26(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 6
}

// scopeAdvice is what a finding says of an Istio left without discovery selectors.
const scopeAdvice = "Red Hat recommends scoping every mesh with spec.values.meshConfig.discoverySelectors; add them once you know which namespaces the mesh needs."

// scope turns the member roll into discovery selectors (multitenant mode) or keeps the mesh
// cluster-wide, as the OpenShift Service Mesh 3.0 announcement describes. A member roll that lists
// "*" made every namespace a member, so its mesh too stays cluster-wide: selectors naming only the
// listed members would hide every other namespace from the new istiod.
func (c *converter) scope(cp *maistra.ControlPlane, roll *maistra.MemberRoll, res *Result) {
	if !res.MultiTenant {
		c.find(Info, "spec.mode", "ClusterWide: the 2.6 control plane watched every namespace.",
			"The Istio has no discovery selectors, so it watches every namespace as before. "+scopeAdvice)
		return
	}
	c.find(Warning, "spec.mode", "MultiTenant: 2.6 injected only the pods that asked for a sidecar (sidecar.istio.io/inject: \"true\") in the member namespaces.",
		"With istio.io/rev on a namespace, 3.x injects every pod of it. Label the pods that must stay out of the mesh sidecar.istio.io/inject=false before moving their namespace.")
	if roll != nil && slices.Contains(roll.Spec.Members, "*") {
		res.AllNamespaces = true
		c.find(Warning, "ServiceMeshMemberRoll spec.members", "The member roll listed \"*\": every namespace of the cluster was a member.",
			"The Istio has no discovery selectors, so it watches every namespace as 2.6 did. "+scopeAdvice)
		return
	}
	names := append([]string{cp.Namespace}, res.Members...)
	selectors := []any{map[string]any{"matchExpressions": []any{map[string]any{
		"key": "kubernetes.io/metadata.name", "operator": "In", "values": toAny(names),
	}}}}
	from := "spec.mode MultiTenant, ServiceMeshMemberRoll spec.members"
	if roll != nil {
		for _, sel := range roll.Spec.MemberSelectors {
			selectors = append(selectors, mustAny(sel))
		}
		if len(roll.Spec.MemberSelectors) > 0 {
			from += " and spec.memberSelectors"
		}
	} else {
		c.find(Warning, "ServiceMeshMemberRoll", "The multitenant control plane had no member roll in the input: its members are unknown.",
			"Convert with the member roll (-f smmr.yaml, or read the cluster): the discovery selectors list only the control plane's namespace and the ServiceMeshMembers given.")
	}
	c.set(from, "meshConfig.discoverySelectors", selectors)
}

func (c *converter) cluster() {
	cl := c.spec.Cluster
	if cl == nil {
		return
	}
	if cl.Name != "" {
		c.set("spec.cluster.name", "global.multiCluster.clusterName", cl.Name)
	}
	if cl.Network != "" {
		c.set("spec.cluster.network", "global.network", cl.Network)
	}
	if mc := cl.MultiCluster; mc != nil && mc.On() {
		c.find(Blocking, "spec.cluster.multiCluster", "2.6's multi-cluster mesh, with its mesh networks.",
			"3.x builds multi-cluster meshes as community Istio does (multi-primary, primary-remote): plan that topology, then give each Istio the clusters' remote secrets (bosun create-remote-secret). bosun converts no mesh networks.")
	} else if mc != nil && len(mc.MeshNetworks) > 0 {
		c.find(Info, "spec.cluster.multiCluster.meshNetworks", "Mesh networks, unused while multi-cluster is off.", "Nothing to carry.")
	}
	if me := cl.MeshExpansion; me != nil && me.On() {
		c.find(Blocking, "spec.cluster.meshExpansion", "Virtual machines joined the 2.6 mesh through its mesh expansion gateway.",
			"3.x has no mesh expansion setting: add virtual machines with Istio's WorkloadEntry and an east-west gateway.")
	} else if me != nil && me.ILBGateway != nil {
		c.find(Info, "spec.cluster.meshExpansion.ilbGateway", "A mesh expansion gateway, unused while mesh expansion is off.", "Nothing to carry.")
	}
}

func (c *converter) general() {
	g := c.spec.General
	if g == nil {
		return
	}
	if g.Logging != nil {
		if len(g.Logging.ComponentLevels) > 0 {
			c.set("spec.general.logging.componentLevels", "global.logging.level", levels(g.Logging.ComponentLevels))
		}
		if g.Logging.LogAsJSON != nil {
			c.set("spec.general.logging.logAsJSON", "global.logAsJson", *g.Logging.LogAsJSON)
		}
	}
	if g.ValidationMessages != nil {
		c.set("spec.general.validationMessages", "global.istiod.enableAnalysis", *g.ValidationMessages)
	}
}

func (c *converter) policyAndTelemetry() {
	for field, t := range map[string]*maistra.TypedConfig{"spec.policy": c.spec.Policy, "spec.telemetry": c.spec.Telemetry} {
		if t == nil {
			continue
		}
		if t.Type != "Mixer" && t.Type != "Remote" {
			if len(t.Mixer) > 0 {
				c.find(Info, field+".mixer", "Mixer settings, unused unless "+field+".type is Mixer.", "Nothing to carry.")
			}
			if len(t.Remote) > 0 {
				c.find(Info, field+".remote", "Remote Mixer settings, unused unless "+field+".type is Remote.", "Nothing to carry.")
			}
		}
		switch t.Type {
		case "Mixer", "Remote":
			c.find(Blocking, field+".type", "Mixer (type "+t.Type+") handled the mesh's "+strings.TrimPrefix(field, "spec.")+"; Istio has removed Mixer.",
				"3.x has no Mixer: move policies to AuthorizationPolicy and WasmPlugin, telemetry to the Telemetry API, then set "+field+".type to Istiod in 2.6 before migrating.")
		case "None":
			if field == "spec.telemetry" {
				c.set(field+".type None", "telemetry.enabled", false)
			}
		}
	}
}

func (c *converter) proxy() {
	p := c.spec.Proxy
	if p == nil {
		return
	}
	if l := p.Logging; l != nil {
		if l.Level != "" {
			c.set("spec.proxy.logging.level", "global.proxy.logLevel", l.Level)
		}
		if len(l.ComponentLevels) > 0 {
			c.set("spec.proxy.logging.componentLevels", "global.proxy.componentLogLevel", levels(l.ComponentLevels))
		}
	}
	if n := p.Networking; n != nil {
		c.networking(n)
	}
	if r := p.Runtime; r != nil {
		if rd := r.Readiness; rd != nil {
			if rd.RewriteApplicationProbes {
				c.set("spec.proxy.runtime.readiness.rewriteApplicationProbes", "sidecarInjectorWebhook.rewriteAppHTTPProbe", true)
			}
			if rd.StatusPort != 0 {
				c.set("spec.proxy.runtime.readiness.statusPort", "global.proxy.statusPort", int64(rd.StatusPort))
			}
			if rd.InitialDelaySeconds != 0 {
				c.set("spec.proxy.runtime.readiness.initialDelaySeconds", "global.proxy.readinessInitialDelaySeconds", int64(rd.InitialDelaySeconds))
			}
			if rd.PeriodSeconds != 0 {
				c.set("spec.proxy.runtime.readiness.periodSeconds", "global.proxy.readinessPeriodSeconds", int64(rd.PeriodSeconds))
			}
			if rd.FailureThreshold != 0 {
				c.set("spec.proxy.runtime.readiness.failureThreshold", "global.proxy.readinessFailureThreshold", int64(rd.FailureThreshold))
			}
		}
		if ct := r.Container; ct != nil {
			if ct.Resources != nil {
				c.set("spec.proxy.runtime.container.resources", "global.proxy.resources", mustAny(ct.Resources))
			}
			if imageSettings(ct) {
				c.find(Warning, "spec.proxy.runtime.container", "The proxy image, or how it is pulled, was overridden.",
					"3.x pins the proxy image of each version in its catalog; bosun did not carry the override. Set spec.values.global.proxy.image (and global.imagePullPolicy, global.imagePullSecrets) only if you must.")
			}
			if len(ct.Env) > 0 {
				c.find(Warning, "spec.proxy.runtime.container.env", "Environment variables of every proxy.",
					"bosun did not carry them: set the ones Istio reads as meshConfig.defaultConfig.proxyMetadata in spec.values.")
			}
		}
	}
	if in := p.Injection; in != nil {
		if in.AutoInject != nil {
			c.set("spec.proxy.injection.autoInject", "sidecarInjectorWebhook.enableNamespacesByDefault", *in.AutoInject)
			if *in.AutoInject {
				// Istio's charts give the unlabelled namespaces to the default revision only.
				c.find(Warning, "spec.proxy.injection.autoInject", "2.6 injected the pods of namespaces that carry no injection label.",
					"In 3.x only the revision named default, or an IstioRevisionTag named default, injects unlabelled namespaces; the converted revision is neither, so the setting does nothing until you create an IstioRevisionTag default for it after the migration. Until then, a namespace gets the new revision's sidecars only with istio.io/rev, as the plan labels the mesh's namespaces.")
			}
		}
		if len(in.AlwaysInjectSelector) > 0 {
			c.set("spec.proxy.injection.alwaysInjectSelector", "sidecarInjectorWebhook.alwaysInjectSelector", mustAny(in.AlwaysInjectSelector))
		}
		if len(in.NeverInjectSelector) > 0 {
			c.set("spec.proxy.injection.neverInjectSelector", "sidecarInjectorWebhook.neverInjectSelector", mustAny(in.NeverInjectSelector))
		}
		if len(in.InjectedAnnotations) > 0 {
			c.set("spec.proxy.injection.injectedAnnotations", "sidecarInjectorWebhook.injectedAnnotations", mustAny(in.InjectedAnnotations))
		}
	}
	if p.AdminPort != 0 && p.AdminPort != 15000 {
		c.find(Warning, "spec.proxy.adminPort", fmt.Sprintf("The proxies' admin interface listened on port %d.", p.AdminPort),
			"3.x proxies always listen on 15000 for admin: update anything that reads the old port.")
	}
	if p.Concurrency != nil {
		c.set("spec.proxy.concurrency", "meshConfig.defaultConfig.concurrency", int64(*p.Concurrency))
	}
	if al := p.AccessLogging; al != nil {
		if f := al.File; f != nil {
			if f.Name != "" {
				c.set("spec.proxy.accessLogging.file.name", "meshConfig.accessLogFile", f.Name)
			}
			if f.Encoding != "" {
				c.set("spec.proxy.accessLogging.file.encoding", "meshConfig.accessLogEncoding", strings.ToUpper(f.Encoding))
			}
			if f.Format != "" {
				c.set("spec.proxy.accessLogging.file.format", "meshConfig.accessLogFormat", f.Format)
			}
		}
		if len(al.EnvoyService) > 0 {
			c.find(Warning, "spec.proxy.accessLogging.envoyService", "The proxies sent access logs to an Envoy access log service.",
				"Declare the service as a meshConfig.extensionProviders entry (envoyHttpAls or envoyTcpAls) and turn it on with a Telemetry resource.")
		}
	}
	if len(p.EnvoyMetricsService) > 0 {
		c.find(Warning, "spec.proxy.envoyMetricsService", "The proxies pushed metrics to an Envoy metrics service.",
			"Set it under spec.values.meshConfig.defaultConfig.envoyMetricsService by hand; bosun did not convert it.")
	}
}

func (c *converter) networking(n *maistra.ProxyNetworking) {
	if n.ClusterDomain != "" {
		c.set("spec.proxy.networking.clusterDomain", "global.proxy.clusterDomain", n.ClusterDomain)
	}
	if n.ConnectionTimeout != "" {
		c.set("spec.proxy.networking.connectionTimeout", "meshConfig.connectTimeout", n.ConnectionTimeout)
	}
	if n.MaxConnectionAge != "" {
		c.set("spec.proxy.networking.maxConnectionAge", "pilot.keepaliveMaxServerConnectionAge", n.MaxConnectionAge)
	}
	if i := n.Initialization; i != nil && (i.Type == "InitContainer" || len(i.InitContainer) > 0) {
		c.find(Warning, "spec.proxy.networking.initialization", "Pods' traffic was redirected by an istio-init container.",
			"On OpenShift 3.x redirects traffic with the IstioCNI node agent, which the output includes; pods need no privileged init container.")
	}
	if tc := n.TrafficControl; tc != nil {
		if v := tc.Inbound.InterceptionMode; v != "" {
			c.set("spec.proxy.networking.trafficControl.inbound.interceptionMode", "meshConfig.defaultConfig.interceptionMode", v)
		}
		if len(tc.Inbound.IncludedPorts) > 0 {
			c.set("spec.proxy.networking.trafficControl.inbound.includedPorts", "global.proxy.includeInboundPorts", strings.Join(tc.Inbound.IncludedPorts, ","))
		}
		if len(tc.Inbound.ExcludedPorts) > 0 {
			c.set("spec.proxy.networking.trafficControl.inbound.excludedPorts", "global.proxy.excludeInboundPorts", ports(tc.Inbound.ExcludedPorts))
		}
		if len(tc.Outbound.IncludedIPRanges) > 0 {
			c.set("spec.proxy.networking.trafficControl.outbound.includedIPRanges", "global.proxy.includeIPRanges", strings.Join(tc.Outbound.IncludedIPRanges, ","))
		}
		if len(tc.Outbound.ExcludedIPRanges) > 0 {
			c.set("spec.proxy.networking.trafficControl.outbound.excludedIPRanges", "global.proxy.excludeIPRanges", strings.Join(tc.Outbound.ExcludedIPRanges, ","))
		}
		if len(tc.Outbound.ExcludedPorts) > 0 {
			c.set("spec.proxy.networking.trafficControl.outbound.excludedPorts", "global.proxy.excludeOutboundPorts", ports(tc.Outbound.ExcludedPorts))
		}
		if v := tc.Outbound.Policy; v != "" {
			c.set("spec.proxy.networking.trafficControl.outbound.policy", "meshConfig.outboundTrafficPolicy.mode", v)
		}
	}
	if pr := n.Protocol; pr != nil && pr.AutoDetect != nil {
		ad := pr.AutoDetect
		if ad.Timeout != "" {
			c.set("spec.proxy.networking.protocol.autoDetect.timeout", "meshConfig.protocolDetectionTimeout", ad.Timeout)
		}
		if ad.Inbound != nil || ad.Outbound != nil {
			c.find(Warning, "spec.proxy.networking.protocol.autoDetect", "Protocol sniffing was switched per direction.",
				"3.x always detects protocols where a port does not declare one: name the Service ports (http-, grpc-, tcp-) or set appProtocol wherever detection must not happen.")
		}
	}
	if d := n.DNS; d != nil {
		if d.RefreshRate != "" {
			c.set("spec.proxy.networking.dns.refreshRate", "meshConfig.dnsRefreshRate", d.RefreshRate)
		}
		if len(d.SearchSuffixes) > 0 {
			c.set("spec.proxy.networking.dns.searchSuffixes", "global.podDNSSearchNamespaces", toAny(d.SearchSuffixes))
		}
	}
}

func (c *converter) security() {
	s := c.spec.Security
	if s == nil || s.ManageNetworkPolicy == nil || *s.ManageNetworkPolicy {
		did := "2.6 created NetworkPolicies that let the mesh's namespaces talk to each other and to the control plane."
		if s == nil {
			did = "Unset, so " + did
		}
		c.find(Warning, "spec.security.manageNetworkPolicy", did,
			"3.x creates no NetworkPolicies. Before removing 2.6, which deletes its policies, create the ones your namespaces need, or set manageNetworkPolicy: false in 2.6 first and check that traffic still flows.")
	}
	if s == nil {
		return
	}
	if t := s.Trust; t != nil {
		if t.Domain != "" {
			c.set("spec.security.trust.domain", "meshConfig.trustDomain", t.Domain)
		}
		if len(t.AdditionalDomains) > 0 {
			c.set("spec.security.trust.additionalDomains", "meshConfig.trustDomainAliases", toAny(t.AdditionalDomains))
		}
	}
	if d := s.DataPlane; d != nil {
		if d.MTLS != nil && *d.MTLS {
			c.find(Warning, "spec.security.dataPlane.mtls", "2.6 required mutual TLS between all workloads of the mesh.",
				"3.x has no such switch: apply a PeerAuthentication named default in the control plane's namespace with spec.mtls.mode STRICT, which applies mesh-wide.")
		}
		if d.AutoMTLS != nil {
			c.set("spec.security.dataPlane.automtls", "meshConfig.enableAutoMtls", *d.AutoMTLS)
		}
	}
	if cpl := s.ControlPlane; cpl != nil {
		if cpl.MTLS != nil {
			c.find(Info, "spec.security.controlPlane.mtls", "Switched TLS between proxies and the control plane.",
				"3.x always uses TLS to istiod; nothing to do.")
		}
		switch cpl.CertProvider {
		case "", "Istiod":
			// istiod serves with a certificate it signs itself: 3.x's default.
		default:
			c.find(Warning, "spec.security.controlPlane.certProvider", "istiod's serving certificate came from "+cpl.CertProvider+".",
				"3.x's charts refuse the Kubernetes signer for istiod (global.pilotCertProvider=kubernetes), and istiod signs its own certificate by default; bosun did not carry the setting. Review how the proxies trust istiod before moving a namespace.")
		}
		if tls := cpl.TLS; tls != nil {
			if v := tls.MinProtocolVersion; v != "" {
				if to, ok := meshTLSVersion(v); ok {
					c.set("spec.security.controlPlane.tls.minProtocolVersion", "meshConfig.meshMTLS.minProtocolVersion", to)
				} else {
					c.find(Warning, "spec.security.controlPlane.tls.minProtocolVersion", "Set the mesh's lowest TLS version to "+v+".",
						"3.x accepts TLS_AUTO, TLSV1_2 or TLSV1_3 in spec.values.meshConfig.meshMTLS.minProtocolVersion and never goes below TLS 1.2; bosun did not carry "+v+": set one of those if you need a floor above 1.2.")
				}
			}
			if len(tls.CipherSuites) > 0 {
				c.set("spec.security.controlPlane.tls.cipherSuites", "meshConfig.meshMTLS.cipherSuites", toAny(tls.CipherSuites))
			}
			if len(tls.ECDHCurves) > 0 {
				c.set("spec.security.controlPlane.tls.ecdhCurves", "meshConfig.meshMTLS.ecdhCurves", toAny(tls.ECDHCurves))
			}
			if tls.MaxProtocolVersion != "" {
				c.find(Info, "spec.security.controlPlane.tls.maxProtocolVersion", "Capped the mesh's TLS version at "+tls.MaxProtocolVersion+".",
					"3.x has no maximum: the proxies negotiate up to TLS 1.3.")
			}
		}
	}
	if ca := s.CertificateAuthority; ca != nil {
		c.certificateAuthority(ca)
	}
	if id := s.Identity; id != nil && id.ThirdParty != nil && id.ThirdParty.Audience != "" {
		c.set("spec.security.identity.thirdParty.audience", "global.sds.token.aud", id.ThirdParty.Audience)
	}
	if id := s.Identity; id != nil && id.ThirdParty != nil && id.ThirdParty.Issuer != "" {
		c.find(Info, "spec.security.identity.thirdParty.issuer", "Named the issuer of the proxies' projected tokens.",
			"3.x uses the cluster's service account issuer; nothing to carry.")
	}
	if id := s.Identity; id != nil && id.Type == "Kubernetes" {
		c.find(Info, "spec.security.identity.type", "Proxies presented first-party service account tokens.",
			"3.x always uses projected (third-party) tokens, which OpenShift issues; nothing to do.")
	}
}

func (c *converter) certificateAuthority(ca *maistra.CertificateAuthority) {
	// The settings of a type not in use did nothing in 2.6 (an unset type is Istiod).
	for _, typ := range []string{"Istiod", "Custom", "cert-manager"} {
		set := map[string]bool{"Istiod": ca.Istiod != nil, "Custom": ca.Custom != nil, "cert-manager": ca.CertManager != nil}[typ]
		if set && cmp.Or(ca.Type, "Istiod") != typ {
			c.find(Info, "spec.security.certificateAuthority."+caSection[typ], "Settings of the "+typ+" certificate authority, unused while the type is "+cmp.Or(ca.Type, "Istiod")+".", "Nothing to carry.")
		}
	}
	switch ca.Type {
	case "", "Istiod":
		is := ca.Istiod
		if is == nil {
			return
		}
		if is.Type == "PrivateKey" || is.PrivateKey != nil {
			c.find(Warning, "spec.security.certificateAuthority.istiod.privateKey", "istiod signed with a root you provided (the cacerts Secret of the control plane's namespace).",
				"3.x's istiod reads the same cacerts Secret in its namespace: keep it there, and both control planes issue certificates from the same root, so workloads on either trust each other.")
		}
		if ss := is.SelfSigned; ss != nil {
			if ss.TTL != "" {
				c.set("spec.security.certificateAuthority.istiod.selfSigned.ttl", "pilot.env.CITADEL_SELF_SIGNED_CA_CERT_TTL", ss.TTL)
			}
			if ss.CheckPeriod != "" {
				c.set("spec.security.certificateAuthority.istiod.selfSigned.checkPeriod", "pilot.env.CITADEL_SELF_SIGNED_ROOT_CERT_CHECK_INTERVAL", ss.CheckPeriod)
			}
			if ss.GracePeriod != "" || ss.EnableJitter != nil {
				c.find(Info, "spec.security.certificateAuthority.istiod.selfSigned", "Tuned the self-signed root's rotation.",
					"bosun did not convert these; istiod's defaults apply.")
			}
		}
		if is.WorkloadCertTTLDefault != "" {
			c.set("spec.security.certificateAuthority.istiod.workloadCertTTLDefault", "pilot.env.DEFAULT_WORKLOAD_CERT_TTL", is.WorkloadCertTTLDefault)
		}
		if is.WorkloadCertTTLMax != "" {
			c.set("spec.security.certificateAuthority.istiod.workloadCertTTLMax", "pilot.env.MAX_WORKLOAD_CERT_TTL", is.WorkloadCertTTLMax)
		}
	case "Custom":
		if ca.Custom != nil && ca.Custom.Address != "" {
			c.set("spec.security.certificateAuthority.custom.address", "global.caAddress", ca.Custom.Address)
		}
		c.find(Warning, "spec.security.certificateAuthority.type", "An external certificate authority signed the workloads' certificates.",
			"The converted Istio points the proxies at the same address; check that the signer accepts the new revision's istiod, whose service account is istiod-<revision>.")
	default:
		c.find(Warning, "spec.security.certificateAuthority.type", "A certificate authority of type "+ca.Type+", which bosun does not know.",
			"Configure the 3.x control plane's certificate authority by hand, under spec.values.")
	case "cert-manager":
		if cm := ca.CertManager; cm != nil && cm.Address != "" {
			c.set("spec.security.certificateAuthority.certManager.address", "global.caAddress", cm.Address)
		}
		c.set("spec.security.certificateAuthority.type cert-manager", "pilot.env.ENABLE_CA_SERVER", "false")
		c.find(Warning, "spec.security.certificateAuthority.certManager", "cert-manager's istio-csr signed the workloads' certificates.",
			"Configure istio-csr for the new revision (its istiod certificate and the revision in its settings) before moving any namespace, as the OpenShift Service Mesh 3 cert-manager document describes.")
	}
}

func (c *converter) tracing() {
	t := c.spec.Tracing
	if t == nil {
		return
	}
	switch t.Type {
	case "None":
		c.set("spec.tracing.type None", "meshConfig.enableTracing", false)
	case "":
	default:
		c.set("spec.tracing.type "+t.Type, "meshConfig.enableTracing", true)
		c.find(Warning, "spec.tracing.type", "The proxies sent spans to the "+t.Type+" the 2.6 control plane configured.",
			"3.x sends spans through an extension provider: install Tempo or Jaeger (Red Hat build of OpenTelemetry), add it under spec.values.meshConfig.extensionProviders (opentelemetry or zipkin), and select it with a Telemetry resource in the control plane's namespace.")
	}
	if t.Sampling != nil {
		// 2.6 counts in hundredths of a percent (10000 is 100%); Istio's traceSampling is a percentage.
		c.set("spec.tracing.sampling", "pilot.traceSampling", float64(*t.Sampling)/100)
	}
}

func (c *converter) runtime() {
	r := c.spec.Runtime
	if r == nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(r.Components)) {
		comp := r.Components[name]
		if comp == nil {
			continue
		}
		field := "spec.runtime.components." + name
		if name != "pilot" {
			c.find(Info, field, "Runtime settings of the 2.6 component "+name+".",
				"3.x installs istiod only; set the runtime of gateways on their Deployments and of add-ons in their own operators.")
			continue
		}
		var left []string
		if d := comp.Deployment; d != nil {
			if d.Replicas != nil {
				c.set(field+".deployment.replicas", "pilot.replicaCount", int64(*d.Replicas))
			}
			if as := d.AutoScaling; as != nil {
				if as.Enabled != nil {
					c.set(field+".deployment.autoScaling.enabled", "pilot.autoscaleEnabled", *as.Enabled)
				}
				if as.MinReplicas != nil {
					c.set(field+".deployment.autoScaling.minReplicas", "pilot.autoscaleMin", int64(*as.MinReplicas))
				}
				if as.MaxReplicas != nil {
					c.set(field+".deployment.autoScaling.maxReplicas", "pilot.autoscaleMax", int64(*as.MaxReplicas))
				}
				if as.TargetCPUUtilizationPercentage != nil {
					c.set(field+".deployment.autoScaling.targetCPUUtilizationPercentage", "pilot.cpu.targetAverageUtilization", int64(*as.TargetCPUUtilizationPercentage))
				}
			}
			if len(d.Strategy) > 0 {
				left = append(left, "deployment.strategy")
			}
		}
		if p := comp.Pod; p != nil {
			if len(p.NodeSelector) > 0 {
				c.set(field+".pod.nodeSelector", "pilot.nodeSelector", mustAny(p.NodeSelector))
			}
			if len(p.Tolerations) > 0 {
				c.set(field+".pod.tolerations", "pilot.tolerations", mustAny(p.Tolerations))
			}
			if p.Metadata != nil || p.PriorityClassName != "" || len(p.Affinity) > 0 {
				left = append(left, "pod.metadata, priorityClassName or affinity")
			}
		}
		if ct := comp.Container; ct != nil {
			if ct.Resources != nil {
				c.set(field+".container.resources", "pilot.resources", mustAny(ct.Resources))
			}
			for _, k := range slices.Sorted(maps.Keys(ct.Env)) {
				c.set(field+".container.env."+k, "pilot.env."+k, ct.Env[k])
			}
			if imageSettings(ct) {
				left = append(left, "container image settings")
			}
		}
		if len(left) > 0 {
			c.find(Info, field, "istiod's "+strings.Join(left, ", ")+" in 2.6.",
				"bosun did not carry them (3.x pins istiod's image in its catalog): set their equivalents under spec.values.pilot by hand if you still need them.")
		}
	}
	if len(r.Defaults) > 0 {
		c.find(Info, "spec.runtime.defaults", "Runtime defaults for all 2.6 components.",
			"bosun did not convert them: set istiod's under spec.values.pilot and global.")
	}
}

// addons reports each add-on: 3.x installs none of them.
func (c *converter) addons() {
	a := c.spec.Addons
	if a == nil {
		return
	}
	type addon struct {
		field, what, now string
		on               bool
	}
	// A section that does not turn its add-on off leaves it on: 2.6's default profile turns the
	// add-ons on.
	on := func(ad *maistra.Addon) bool { return ad != nil && !ad.Off() }
	for _, ad := range []addon{
		{"spec.addons.prometheus", "2.6 installed a Prometheus that scraped the mesh.", "3.x installs none: use OpenShift's user-workload monitoring (a ServiceMonitor for istiod and a PodMonitor for the proxies) or your own Prometheus, then point Kiali at it.", on(a.Prometheus)},
		{"spec.addons.kiali", "2.6 installed a Kiali for the mesh.", "Install Kiali with the Kiali operator (a Kiali resource in the control plane's namespace) and, on OpenShift, the OSSMConsole plug-in; Kiali 2 shows both control planes during the migration.", on(a.Kiali)},
		{"spec.addons.grafana", "2.6 installed a Grafana with Istio's dashboards.", "3.x installs none: import Istio's dashboards into your own Grafana, or use the OpenShift console's metrics.", on(a.Grafana)},
		{"spec.addons.jaeger", "2.6 installed a Jaeger that stored the mesh's spans.", "3.x installs none: install Tempo or the Red Hat build of OpenTelemetry, declare it under spec.values.meshConfig.extensionProviders and select it with a Telemetry resource.", a.Jaeger != nil && !a.Jaeger.Off()},
	} {
		if ad.on {
			c.addonsFound = append(c.addonsFound, strings.TrimPrefix(ad.field, "spec.addons."))
			c.find(Warning, ad.field, ad.what, ad.now)
		}
	}
	if len(a.ThreeScale) > 0 && a.ThreeScale["enabled"] != false {
		c.addonsFound = append(c.addonsFound, "3scale")
		c.find(Blocking, "spec.addons.3scale", "The 3scale Istio adapter enforced API management.", "3.x has no adapter: move to the 3scale WasmPlugin before migrating.")
	}
	if len(a.Stackdriver) > 0 {
		c.find(Warning, "spec.addons.stackdriver", "The proxies exported telemetry to Stackdriver.", "Configure an extension provider for Google Cloud's telemetry by hand; bosun did not convert it.")
	}
}

// meshConfig copies what 2.6 let a user set of Istio's mesh configuration: it has the same shape in
// 3.x.
func (c *converter) meshConfig() {
	m := c.spec.MeshConfig
	if m == nil {
		return
	}
	if len(m.ExtensionProviders) > 0 {
		c.set("spec.meshConfig.extensionProviders", "meshConfig.extensionProviders", mustAny(m.ExtensionProviders))
	}
	if len(m.DiscoverySelectors) > 0 {
		existing, _ := nested(c.values, "meshConfig", "discoverySelectors").([]any)
		c.set("spec.meshConfig.discoverySelectors", "meshConfig.discoverySelectors", append(existing, mustAny(m.DiscoverySelectors).([]any)...))
	}
}

func (c *converter) techPreview() {
	for _, k := range slices.Sorted(maps.Keys(c.spec.TechPreview)) {
		c.find(Warning, "spec.techPreview."+k, "A technology preview value passed to 2.6's charts.",
			"bosun did not convert it: find its 3.x field under spec.values (Istio's Helm values) if you still need it.")
	}
	if ps := c.spec.Profiles; len(ps) > 0 && !slices.Equal(ps, []string{"default"}) {
		c.find(Warning, "spec.profiles", "The control plane merged the profiles "+strings.Join(ps, ", ")+" into its spec.",
			"3.x profiles are Istio's, not 2.6's: convert from the cluster (or with status.appliedSpec) so that what the profiles set is carried.")
	}
}

// meshTLSVersion is the 3.x value (meshConfig.meshMTLS.minProtocolVersion) of a 2.6 TLS version,
// which 2.6 spells TLSv1_2; ok is false for the versions below 1.2, which 3.x does not offer, and for
// values bosun does not know.
func meshTLSVersion(v string) (string, bool) {
	switch up := strings.ToUpper(v); up {
	case "TLS_AUTO", "TLSV1_2", "TLSV1_3":
		return up, true
	}
	return "", false
}

// caSection is the field of each certificate authority type's settings.
var caSection = map[string]string{"Istiod": "istiod", "Custom": "custom", "cert-manager": "certManager"}

// imageSettings reports whether a container's image, or how it is pulled, was overridden.
func imageSettings(ct *maistra.ContainerConfig) bool {
	return ct.ImageRegistry != "" || ct.ImageTag != "" || ct.ImageName != "" || ct.ImagePullPolicy != "" || len(ct.ImagePullSecrets) > 0
}

func orUnset(s string) string {
	if s == "" {
		return "an unset version"
	}
	return s
}
