package migrate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

// gateway is one gateway the 2.6 control plane installed.
type gateway struct {
	field   string
	name    string
	ingress bool
	cfg     *maistra.GatewayConfig
	// sds is an ingress gateway's SDS settings, which 3.x gateways do not need.
	sds maistra.Opaque
}

// gateways lists the gateways 2.6 installed and returns, for each, the objects of a gateway that 3.x
// injects (gateway injection: a Deployment whose pods istiod injects with its gateway template).
// Each is named <gateway>-<revision> and carries the old gateway's app and istio labels, so the 2.6
// gateway's Service sends traffic to both while the mesh moves.
func (c *converter) gatewayObjects(cpNamespace, rev string) []*unstructured.Unstructured {
	g := c.spec.Gateways
	if g == nil {
		return nil
	}
	if g.OpenShiftRoute != nil && g.OpenShiftRoute.On() {
		c.find(Warning, "spec.gateways.openshiftRoute", "2.6 created an OpenShift Route for every host of every Gateway resource (IOR).",
			"3.x creates no Routes: before removing 2.6, create a Route for each host (oc get routes -n "+cpNamespace+" lists the ones IOR made; export them and drop their maistra labels so 2.6 does not delete them).")
	}
	if g.Off() {
		return nil
	}
	var all []gateway
	if in := g.ClusterIngress; in != nil && !in.Off() {
		all = append(all, gateway{field: "spec.gateways.ingress", name: "istio-ingressgateway", ingress: true, cfg: &in.GatewayConfig, sds: in.SDS})
		if len(in.MeshExpansionPorts) > 0 {
			c.find(Info, "spec.gateways.ingress.meshExpansionPorts", "The ingress gateway exposed mesh expansion ports.", "Expose them on an east-west gateway if virtual machines join the 3.x mesh.")
		}
	}
	if eg := g.ClusterEgress; eg != nil && !eg.Off() {
		all = append(all, gateway{field: "spec.gateways.egress", name: "istio-egressgateway", cfg: eg})
	}
	for _, name := range slices.Sorted(maps.Keys(g.AdditionalIngress)) {
		if in := g.AdditionalIngress[name]; in != nil && !in.Off() {
			all = append(all, gateway{field: "spec.gateways.additionalIngress." + name, name: name, ingress: true, cfg: &in.GatewayConfig, sds: in.SDS})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g.AdditionalEgress)) {
		if eg := g.AdditionalEgress[name]; eg != nil && !eg.Off() {
			all = append(all, gateway{field: "spec.gateways.additionalEgress." + name, name: name, cfg: eg})
		}
	}
	var objs []*unstructured.Unstructured
	for _, gw := range all {
		objs = append(objs, c.gateway(gw, cpNamespace, rev)...)
	}
	return objs
}

// gateway returns the ServiceAccount, Role, RoleBinding, Deployment and Service of one gateway.
func (c *converter) gateway(gw gateway, cpNamespace, rev string) []*unstructured.Unstructured {
	ns := cmp.Or(gw.cfg.Namespace, cpNamespace)
	name := gw.name + "-" + rev
	istioLabel := strings.TrimPrefix(gw.name, "istio-")
	selector := map[string]string{"app": gw.name, "istio": istioLabel, "istio.io/rev": rev}
	if gw.cfg.RouterMode == "sni-dnat" {
		c.find(Blocking, gw.field+".routerMode", "The gateway routed by SNI to other meshes: 2.6's federation.",
			"Federation has no equivalent in 3.0 (a new implementation is in developer preview): keep the federated services on 2.6, or expose them through ordinary gateways, before migrating. bosun converts no federation gateway.")
		return nil
	}
	if len(gw.cfg.Volumes) > 0 || gw.cfg.Runtime != nil || len(gw.cfg.RequestedNetworkView) > 0 || len(gw.sds) > 0 {
		c.find(Warning, gw.field+".runtime/volumes", "Runtime settings, volumes, SDS or network views of the gateway's pods.",
			"bosun did not carry them: add what you still need to the Deployment "+ns+"/"+name+" before applying it.")
	}
	c.find(Info, gw.field, "2.6 installed the gateway "+ns+"/"+gw.name+".",
		fmt.Sprintf("The output has the Deployment %s/%s, injected by the new revision (gateway injection), whose pods carry the labels app=%s and istio=%s: where the 2.6 Service %s selects those labels, it sends traffic to both gateways during the migration. Before removing 2.6, which deletes that Service, move clients, DNS and Routes to the Service %s.", ns, name, gw.name, istioLabel, gw.name, name))
	c.mapped = append(c.mapped, Mapping{From: gw.field, To: "Deployment " + ns + "/" + name})
	c.gatewaysFound = append(c.gatewaysFound, ns+"/"+gw.name)

	serviceType := cmp.Or(gw.cfg.Service.Type, corev1.ServiceTypeClusterIP)
	servicePorts := gw.cfg.Service.Ports
	if len(servicePorts) == 0 {
		servicePorts = defaultGatewayPorts(gw.ingress)
	}
	ports := mustAny(servicePorts)
	svcMeta := map[string]any{"name": name, "namespace": ns, "labels": toAnyMap(selector)}
	if md := gw.cfg.Service.Metadata; md != nil {
		labels := map[string]any{}
		for k, v := range md.Labels {
			labels[k] = v
		}
		for k, v := range selector {
			labels[k] = v
		}
		svcMeta["labels"] = labels
		if len(md.Annotations) > 0 {
			svcMeta["annotations"] = toAnyMap(md.Annotations)
		}
	}
	return []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": name, "namespace": ns}}},
		{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": name, "namespace": ns},
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get", "watch", "list"}}}}},
		{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": name, "namespace": ns},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": name}}}},
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": toAnyMap(selector)},
				"template": map[string]any{
					"metadata": map[string]any{
						// The gateway template makes the injected proxy the pod's only container.
						"annotations": map[string]any{"inject.istio.io/templates": "gateway"},
						// istio.io/rev alone asks the new revision for the proxy. The pods carry
						// no sidecar.istio.io/inject=true, which a multitenant 2.6 injector would
						// also answer in a member namespace.
						"labels": toAnyMap(selector),
					},
					"spec": map[string]any{
						"serviceAccountName": name,
						"containers":         []any{map[string]any{"name": "istio-proxy", "image": "auto"}},
					},
				},
			}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": svcMeta,
			"spec": map[string]any{"type": string(serviceType), "selector": toAnyMap(selector), "ports": ports}}},
	}
}

// defaultGatewayPorts are the ports of 2.6's default gateways: Istio's status port, HTTP and HTTPS.
func defaultGatewayPorts(ingress bool) []corev1.ServicePort {
	ports := []corev1.ServicePort{
		{Name: "http2", Port: 80, TargetPort: intOrString(8080), Protocol: corev1.ProtocolTCP},
		{Name: "https", Port: 443, TargetPort: intOrString(8443), Protocol: corev1.ProtocolTCP},
	}
	if ingress {
		ports = append([]corev1.ServicePort{{Name: "status-port", Port: 15021, TargetPort: intOrString(15021), Protocol: corev1.ProtocolTCP}}, ports...)
	}
	return ports
}

// mustAny converts a typed value (a struct, slice or map of JSON-safe values) into the form a
// manifest holds; the types bosun passes it always convert.
func mustAny(v any) any {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&struct {
		V any `json:"v"`
	}{v})
	if err != nil {
		panic(fmt.Sprintf("converting %T: %v", v, err))
	}
	return m["v"]
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// levels writes component log levels as Istio's flags take them: "a:debug,b:info", sorted.
func levels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+":"+m[k])
	}
	return strings.Join(parts, ",")
}

func ports(ps []int32) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprint(p))
	}
	return strings.Join(parts, ",")
}

// nested reads a value from nested maps.
func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func intOrString(i int) intstr.IntOrString { return intstr.FromInt32(int32(i)) }
