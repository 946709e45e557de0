//go:build integration

package crd_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// istioWithValues is an Istio whose spec.values is the given YAML, indented under values:.
func istioWithValues(values string) string {
	return "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: values-case\nspec:\n  version: v1.27-latest\n  namespace: istio-system\n  values:\n" + indent(values, "    ")
}

func cniWithValues(values string) string {
	return "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default\nspec:\n  values:\n" + indent(values, "    ")
}

func ztunnelWithValues(values string) string {
	return "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  values:\n" + indent(values, "    ")
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// TestValuesAreAccepted applies values a platform team writes when it moves a mesh to OpenShift
// Service Mesh 3 (the migration settings, docs/architecture.md#lesson-typed-values), so typing must not refuse them.
func TestValuesAreAccepted(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"Istio": istioWithValues(`meshConfig:
  discoverySelectors:
  - matchExpressions:
    - key: maistra.io/member-of
      operator: Exists
  - matchLabels:
      mesh: mesh1
    matchExpressions:
    - key: tenant
      operator: NotIn
      values: [sandbox, scratch]
  extensionProviders:
  - name: prometheus
    prometheus: {}
  - name: otel
    opentelemetry:
      service: otel-collector.observability.svc.cluster.local
      port: 4317
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
  accessLogFile: /dev/stdout
  defaultConfig:
    holdApplicationUntilProxyStarts: true
    proxyMetadata:
      ISTIO_META_DNS_CAPTURE: "true"
pilot:
  env:
    ENABLE_ENHANCED_RESOURCE_SCOPING: "true"
  autoscaleMin: 2
  keepaliveMaxServerConnectionAge: 30m
  resources:
    requests:
      cpu: 500m
      memory: 2Gi
  tolerations:
  - key: dedicated
    operator: Equal
    value: mesh
    effect: NoSchedule
  pdb:
    maxUnavailable: 1
global:
  proxy:
    resources:
      requests:
        cpu: 10m
  logging:
    level: default:info
  tag: 1.27.0
  resourceScope: all
experimental:
  anything:
    goes: here
gatewayClasses:
  istio:
    service:
      spec:
        type: ClusterIP`),
		"IstioCNI": cniWithValues(`cni:
  ambient:
    enabled: true
    enablementSelectors:
    - podSelector:
        matchLabels:
          istio.io/dataplane-mode: ambient
  cniBinDir: /var/lib/cni/bin
global:
  platform: openshift`),
		"ZTunnel": ztunnelWithValues(`ztunnel:
  logLevel: debug
  dnsPolicy: ClusterFirst
  env:
    L7_ENABLED: "true"
global:
  hub: registry.example.com/istio`),
	}
	for name, manifest := range cases {
		t.Run(name, func(t *testing.T) {
			mustCreate(ctx, t, parseManifest(t, manifest))
		})
	}
}

// TestWrongValuesAreRefused checks that a wrong value is refused by the API server with a message that
// names the field, rather than stored and ignored or silently dropped.
func TestWrongValuesAreRefused(t *testing.T) {
	for _, tc := range wrongValueCases() {
		t.Run(tc.name, func(t *testing.T) {
			obj := parseManifest(t, tc.manifest)
			created, err := create(context.Background(), t, obj)
			if err == nil {
				deleteAndWait(t, created)
				t.Fatalf("the API server accepted it; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func wrongValueCases() []invalidCase {
	return []invalidCase{
		{name: "a misspelt mesh config field", manifest: istioWithValues("meshConfig:\n  accessLogFil: /dev/stdout"), want: `unknown field "spec.values.meshConfig.accessLogFil"`},
		{name: "an unknown pilot field", manifest: istioWithValues("pilot:\n  replicas: 3"), want: `unknown field "spec.values.pilot.replicas"`},
		{name: "an unknown global field", manifest: istioWithValues("global:\n  meshId: m1"), want: `unknown field "spec.values.global.meshId"`},
		{name: "an unknown proxy field", manifest: istioWithValues("meshConfig:\n  defaultConfig:\n    holdApplicationUntilProxyStart: true"), want: `unknown field "spec.values.meshConfig.defaultConfig.holdApplicationUntilProxyStart"`},
		{name: "an unknown outbound traffic policy", manifest: istioWithValues("meshConfig:\n  outboundTrafficPolicy:\n    mode: FOO"), want: `spec.values.meshConfig.outboundTrafficPolicy.mode: Unsupported value: "FOO": supported values: "REGISTRY_ONLY", "ALLOW_ANY", "ALLOW_ANY_DYNAMIC_DNS"`},
		{name: "an unknown access log encoding", manifest: istioWithValues("meshConfig:\n  accessLogEncoding: XML"), want: `spec.values.meshConfig.accessLogEncoding: Unsupported value: "XML": supported values: "TEXT", "JSON"`},
		{name: "an unknown resource scope", manifest: istioWithValues("global:\n  resourceScope: everything"), want: `spec.values.global.resourceScope: Unsupported value: "everything"`},
		{name: "a string for a number", manifest: istioWithValues("pilot:\n  autoscaleMin: two"), want: `spec.values.pilot.autoscaleMin: Invalid value: "string": spec.values.pilot.autoscaleMin in body must be of type integer`},
		{name: "a negative replica count", manifest: istioWithValues("pilot:\n  autoscaleMax: -1"), want: `spec.values.pilot.autoscaleMax in body should be greater than or equal to 0`},
		{name: "a string for a boolean", manifest: istioWithValues("pilot:\n  autoscaleEnabled: \"yes\""), want: `spec.values.pilot.autoscaleEnabled: Invalid value: "string": spec.values.pilot.autoscaleEnabled in body must be of type boolean`},
		{name: "an unquoted boolean env value", manifest: istioWithValues("pilot:\n  env:\n    ENABLE_ENHANCED_RESOURCE_SCOPING: true"), want: `spec.values.pilot.env.ENABLE_ENHANCED_RESOURCE_SCOPING: Invalid value: "boolean": spec.values.pilot.env.ENABLE_ENHANCED_RESOURCE_SCOPING in body must be of type string`},
		{name: "a number for a duration", manifest: istioWithValues("pilot:\n  keepaliveMaxServerConnectionAge: 30"), want: `spec.values.pilot.keepaliveMaxServerConnectionAge: Invalid value: "integer": spec.values.pilot.keepaliveMaxServerConnectionAge in body must be of type string`},
		{name: "a toleration that is not a list", manifest: istioWithValues("pilot:\n  tolerations:\n    key: dedicated"), want: `unknown field "spec.values.pilot.tolerations.key"`},
		{name: "an unknown toleration field", manifest: istioWithValues("pilot:\n  tolerations:\n  - key: dedicated\n    effects: NoSchedule"), want: `unknown field "spec.values.pilot.tolerations[0].effects"`},
		{name: "resources in the wrong shape", manifest: istioWithValues("pilot:\n  resources:\n    cpu: 500m"), want: `unknown field "spec.values.pilot.resources.cpu"`},
		{name: "a label selector value that is not a string", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchLabels:\n      mesh: 1"), want: `spec.values.meshConfig.discoverySelectors[0].matchLabels.mesh: Invalid value: "integer"`},
		{name: "a discovery selector with an operator Kubernetes does not know", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchExpressions:\n    - key: mesh\n      operator: Bogus\n      values: [mesh1]"), want: `spec.values.meshConfig.discoverySelectors[0].matchExpressions[0].operator: Unsupported value: "Bogus": supported values: "In", "NotIn", "Exists", "DoesNotExist"`},
		{name: "a discovery selector In without values", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchLabels:\n      mesh: mesh1\n  - matchExpressions:\n    - key: mesh\n      operator: In"), want: `spec.values.meshConfig.discoverySelectors[1].matchExpressions[0].values: Invalid value: values must be set for In and NotIn, and left out for Exists and DoesNotExist`},
		{name: "a discovery selector Exists with values", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchExpressions:\n    - key: mesh\n      operator: Exists\n      values: [mesh1]"), want: `spec.values.meshConfig.discoverySelectors[0].matchExpressions[0].values: Invalid value: values must be set for In and NotIn`},
		{name: "a discovery selector whose label value has a space", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchLabels:\n      mesh: \"mesh one\""), want: `spec.values.meshConfig.discoverySelectors[0].matchLabels.mesh in body should match`},
		{name: "a discovery selector whose key is not a label key", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchExpressions:\n    - key: \"bad key!\"\n      operator: Exists"), want: `spec.values.meshConfig.discoverySelectors[0].matchExpressions[0].key in body should match`},
		{name: "a discovery selector value that is not a label value", manifest: istioWithValues("meshConfig:\n  discoverySelectors:\n  - matchExpressions:\n    - key: mesh\n      operator: In\n      values: [\"-mesh1\"]"), want: `spec.values.meshConfig.discoverySelectors[0].matchExpressions[0].values[0] in body should match`},
		{name: "a never-inject selector without a key", manifest: istioWithValues("sidecarInjectorWebhook:\n  neverInjectSelector:\n  - matchExpressions:\n    - key: \"\"\n      operator: Exists"), want: `spec.values.sidecarInjectorWebhook.neverInjectSelector[0].matchExpressions[0].key`},
		{name: "an ambient enablement selector with an unknown operator", manifest: cniWithValues("cni:\n  ambient:\n    enablementSelectors:\n    - podSelector:\n        matchExpressions:\n        - key: app\n          operator: Equals\n          values: [a]"), want: `spec.values.cni.ambient.enablementSelectors[0].podSelector.matchExpressions[0].operator: Unsupported value: "Equals"`},
		{name: "logging that is not an object", manifest: istioWithValues("global:\n  logging: debug"), want: `spec.values.global.logging: Invalid value: "string": spec.values.global.logging in body must be of type object`},
		{name: "two tracers of one extension provider", manifest: istioWithValues("meshConfig:\n  extensionProviders:\n  - name: both\n    zipkin:\n      service: zipkin.istio-system.svc\n      port: 9411\n    datadog:\n      service: datadog.agent.svc\n      port: 8126"), want: "at most one of envoyExtAuthzHttp, envoyExtAuthzGrpc, zipkin, lightstep, datadog"},
		{name: "two tracers of the proxy's tracing", manifest: istioWithValues("meshConfig:\n  defaultConfig:\n    tracing:\n      zipkin:\n        address: zipkin:9411\n      lightstep:\n        address: lightstep:443"), want: "at most one of zipkin, lightstep, datadog, stackdriver, openCensusAgent may be set"},
		{name: "a CA certificate with both sources", manifest: istioWithValues("meshConfig:\n  caCertificates:\n  - pem: abc\n    spiffeBundleUrl: https://example.com/bundle"), want: "at most one of pem, spiffeBundleUrl may be set"},
		{name: "istiod's PodDisruptionBudget with both bounds", manifest: istioWithValues("pilot:\n  pdb:\n    minAvailable: 1\n    maxUnavailable: 1"), want: "set pdb.minAvailable or pdb.maxUnavailable, not both"},
		{name: "an injector setting of the wrong type", manifest: istioWithValues("sidecarInjectorWebhook:\n  rewriteAppHTTPProbe: 1"), want: `spec.values.sidecarInjectorWebhook.rewriteAppHTTPProbe: Invalid value: "integer"`},
		{name: "ztunnel values on an Istio", manifest: istioWithValues("ztunnel:\n  logLevel: debug"), want: `unknown field "spec.values.ztunnel"`},
		{name: "gateways on an Istio", manifest: istioWithValues("gateways:\n  istio-ingressgateway:\n    enabled: true"), want: `unknown field "spec.values.gateways"`},
		{name: "an unknown CNI field", manifest: cniWithValues("cni:\n  ambient:\n    enable: true"), want: `unknown field "spec.values.cni.ambient.enable"`},
		{name: "a string for a CNI boolean", manifest: cniWithValues("cni:\n  ambient:\n    enabled: \"true\""), want: `spec.values.cni.ambient.enabled: Invalid value: "string"`},
		{name: "a global CNI key the chart does not read", manifest: cniWithValues("global:\n  meshID: m1"), want: `unknown field "spec.values.global.meshID"`},
		{name: "an unknown ztunnel log level", manifest: ztunnelWithValues("ztunnel:\n  logLevel: verbose"), want: `spec.values.ztunnel.logLevel: Unsupported value: "verbose": supported values: "trace", "debug", "info", "warn", "error"`},
		{name: "a negative ztunnel grace period", manifest: ztunnelWithValues("ztunnel:\n  terminationGracePeriodSeconds: -1"), want: `spec.values.ztunnel.terminationGracePeriodSeconds in body should be greater than or equal to 0`},
		{name: "an unknown ztunnel DNS policy", manifest: ztunnelWithValues("ztunnel:\n  dnsPolicy: Sometimes"), want: `spec.values.ztunnel.dnsPolicy: Unsupported value: "Sometimes"`},
		{name: "an unknown ztunnel field", manifest: ztunnelWithValues("ztunnel:\n  replicas: 2"), want: `unknown field "spec.values.ztunnel.replicas"`},
	}
}

// TestValuesExplainThemselves reads the OpenAPI v3 document the API server publishes, which `kubectl
// explain istio.spec.values.meshConfig.discoverySelectors` prints from: it must carry Istio's own
// description of the field.
func TestValuesExplainThemselves(t *testing.T) {
	raw, err := kubernetes.NewForConfigOrDie(cfg).RESTClient().Get().AbsPath("/openapi/v3/apis/sailoperator.io/v1").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]openAPISchema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	istio, ok := doc.Components.Schemas["io.sailoperator.v1.Istio"]
	if !ok {
		t.Fatal("the OpenAPI document has no io.sailoperator.v1.Istio")
	}
	field := istio.at(t, "spec", "values", "meshConfig", "discoverySelectors")
	const want = "A list of Kubernetes selectors that specify the set of namespaces that Istio considers when computing configuration updates for sidecars."
	if !strings.Contains(field.Description, want) {
		t.Errorf("discoverySelectors is described as %q; want Istio's description", field.Description)
	}
	mode := istio.at(t, "spec", "values", "meshConfig", "outboundTrafficPolicy", "mode")
	if len(mode.Enum) != 3 {
		t.Errorf("outboundTrafficPolicy.mode enumerates %v", mode.Enum)
	}
}

type openAPISchema struct {
	Description string                   `json:"description"`
	Properties  map[string]openAPISchema `json:"properties"`
	Enum        []any                    `json:"enum"`
}

func (s openAPISchema) at(t *testing.T, path ...string) openAPISchema {
	t.Helper()
	cur := s
	for _, p := range path {
		next, ok := cur.Properties[p]
		if !ok {
			t.Fatalf("no %s in the schema (path %v)", p, path)
		}
		cur = next
	}
	return cur
}
