package apply

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// object parses a YAML object and gives it managedFields.
func object(t *testing.T, doc string, managed ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetManagedFields(managed)
	return obj
}

// entry is a managedFields entry of manager with operation op and the given FieldsV1 JSON.
func entry(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func bosunApply(fields string) metav1.ManagedFieldsEntry {
	return entry(FieldManager, metav1.ManagedFieldsOperationApply, fields)
}

// service is what bosun renders for a Service: a label, a selector and two ports whose protocol the
// API server defaults.
const service = `
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  selector: {app: istiod}
  ports:
  - {name: grpc-xds, port: 15010}
  - {name: https-webhook, port: 443, targetPort: 15017}
status: {loadBalancer: {}}`

// serviceOwned is bosun's field set after applying service, with the protocols the API server added to
// the ports' keys.
const serviceOwned = `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:selector":{"f:app":{}},"f:ports":{` +
	`"k:{\"port\":15010,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}},` +
	`"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}}}}`

// TestDriftFindsWhatBosunNoLongerOwns: a field bosun rendered that its apply entry no longer holds has
// drifted and is named by its path, so that only that object is sent again; what bosun owns, and what
// it never sends (apiVersion, kind, status, name, namespace), is never drift
// (docs/architecture.md#lesson-drift-put-back).
func TestDriftFindsWhatBosunNoLongerOwns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		desired string
		managed []metav1.ManagedFieldsEntry
		want    []string
	}{
		{
			name:    "everything still bosun's",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{bosunApply(serviceOwned)},
		},
		{
			name:    "a port whose protocol the API server defaulted is matched by its port alone",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{bosunApply(serviceOwned), entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:clusterIP":{}}}`)},
		},
		{
			name:    "a label someone changed belongs to them",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{
				bosunApply(`{"f:spec":{"f:selector":{"f:app":{}},"f:ports":{"k:{\"port\":15010,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}},"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}}},"f:metadata":{"f:labels":{"f:team":{}}}}`),
				entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:labels":{"f:app":{}}}}`),
			},
			want: []string{"metadata.labels.app"},
		},
		{
			name:    "no metadata at all in bosun's set",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:spec":{"f:selector":{"f:app":{}},"f:ports":{"k:{\"port\":15010,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}},"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}}}}`)},
			want:    []string{"metadata.labels"},
		},
		{
			name:    "a port someone removed",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:selector":{"f:app":{}},"f:ports":{"k:{\"port\":15010,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}}}}}`)},
			want:    []string{"spec.ports[1]"},
		},
		{
			name:    "a value changed inside a port that is still bosun's",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:selector":{"f:app":{}},"f:ports":{"k:{\"port\":15010,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}},"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}}}}}`)},
			want:    []string{"spec.ports[1].targetPort"},
		},
		{
			name: "an atomic list owned whole, whatever it holds",
			desired: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod}
spec: {template: {spec: {containers: [{name: discovery, args: [discovery, --log_output_level=default:info]}]}}}`,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"discovery\"}":{".":{},"f:name":{},"f:args":{}}}}}}}`)},
		},
		{
			name: "an atomic list someone replaced",
			desired: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod}
spec: {template: {spec: {containers: [{name: discovery, args: [discovery]}]}}}`,
			managed: []metav1.ManagedFieldsEntry{
				bosunApply(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"discovery\"}":{".":{},"f:name":{}}}}}}}`),
				entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"discovery\"}":{"f:args":{}}}}}}}`),
			},
			want: []string{"spec.template.spec.containers[0].args"},
		},
		{
			name: "a set-like list is matched by value",
			desired: `
apiVersion: v1
kind: ConfigMap
metadata: {name: mesh, finalizers: [a.example/x, b.example/y]}`,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:metadata":{"f:finalizers":{".":{},"v:\"b.example/y\"":{}}}}`)},
			want:    []string{"metadata.finalizers[0]"},
		},
		{
			name: "null values and the fields bosun never sends",
			desired: `
apiVersion: v1
kind: ConfigMap
metadata: {name: mesh, namespace: istio-system, annotations: null}
data: {mesh: x, empty: null}
status: {phase: x}`,
			managed: []metav1.ManagedFieldsEntry{bosunApply(`{"f:data":{"f:mesh":{}}}`)},
		},
		{
			name:    "an object bosun only updated, never applied",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{entry(FieldManager, metav1.ManagedFieldsOperationUpdate, serviceOwned)},
			want:    []string{"(not applied by bosun)"},
		},
		{
			name:    "bosun's apply of the status alone",
			desired: service,
			managed: []metav1.ManagedFieldsEntry{func() metav1.ManagedFieldsEntry {
				e := bosunApply(serviceOwned)
				e.Subresource = "status"
				return e
			}()},
			want: []string{"(not applied by bosun)"},
		},
		{
			name:    "no managedFields",
			desired: service,
			want:    []string{"(not applied by bosun)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired := object(t, tc.desired)
			live := object(t, tc.desired, tc.managed...)
			got := Drift(live, desired)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Drift = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDriftOfUnreadableManagedFieldsIsDrift: managedFields bosun cannot parse count as drift, so the
// object is sent again rather than trusted.
func TestDriftOfUnreadableManagedFieldsIsDrift(t *testing.T) {
	live := object(t, service, bosunApply(`{"f:spec":{"k:{bad":{}}}`))
	if got := Drift(live, object(t, service)); len(got) != 1 || !strings.HasPrefix(got[0], "(unreadable managedFields") {
		t.Errorf("Drift = %q, want one entry saying the managedFields are unreadable", got)
	}
}

// validator is a validating webhook configuration as rendered: the chart's failurePolicy Ignore.
const validator = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: istio-validator-istio-system}
webhooks:
- name: rev.validation.istio.io
  failurePolicy: Ignore
  clientConfig: {service: {name: istiod, namespace: istio-system}}`

// TestForUpdateSendsFailurePolicyUntilIstiodTakesIt: bosun keeps sending a validating webhook's
// failurePolicy while no one else owns it (leaving it out would let the API server default it to Fail
// before istiod serves), and stops as soon as istiod does
// (docs/architecture.md#lesson-istiod-webhook-fields). Other kinds are sent as rendered.
func TestForUpdateSendsFailurePolicyUntilIstiodTakesIt(t *testing.T) {
	failurePolicy := func(obj *unstructured.Unstructured) any {
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		return hooks[0].(map[string]any)["failurePolicy"]
	}
	ownedFailurePolicy := `{"f:webhooks":{"k:{\"name\":\"rev.validation.istio.io\"}":{"f:failurePolicy":{}}}}`
	for _, tc := range []struct {
		name    string
		managed []metav1.ManagedFieldsEntry
		want    any
	}{
		{"bosun alone owns it", []metav1.ManagedFieldsEntry{bosunApply(ownedFailurePolicy)}, "Ignore"},
		{"bosun's own update of it does not count as istiod's", []metav1.ManagedFieldsEntry{entry(FieldManager, metav1.ManagedFieldsOperationUpdate, ownedFailurePolicy)}, nil},
		{"istiod owns it", []metav1.ManagedFieldsEntry{bosunApply(`{"f:webhooks":{}}`), entry("pilot-discovery", metav1.ManagedFieldsOperationUpdate, ownedFailurePolicy)}, nil},
		{"istiod wrote only the caBundle", []metav1.ManagedFieldsEntry{bosunApply(ownedFailurePolicy), entry("pilot-discovery", metav1.ManagedFieldsOperationUpdate, `{"f:webhooks":{"k:{\"name\":\"rev.validation.istio.io\"}":{"f:clientConfig":{"f:caBundle":{}}}}}`)}, "Ignore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired := object(t, validator)
			got := ForUpdate(desired, object(t, validator, tc.managed...))
			if fp := failurePolicy(got); fp != tc.want {
				t.Errorf("failurePolicy sent = %v, want %v", fp, tc.want)
			}
			if failurePolicy(desired) != "Ignore" {
				t.Error("ForUpdate changed the rendered object")
			}
		})
	}
	cm := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: failurePolicy}, data: {failurePolicy: Ignore}}`)
	if got := ForUpdate(cm, object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: failurePolicy}}`, entry("pilot-discovery", metav1.ManagedFieldsOperationUpdate, `{"f:data":{"f:failurePolicy":{}}}`))); got.Object["data"].(map[string]any)["failurePolicy"] != "Ignore" {
		t.Errorf("a ConfigMap was sent as %v, want it as rendered", got.Object)
	}
}

// TestNotOursErrorSaysWhatToChange: the refusal of another installer's object names the object and
// every field manager of it once, status writers aside, and gives the flag that lets bosun take it over
// (docs/architecture.md#lesson-prune-only-own-objects).
func TestNotOursErrorSaysWhatToChange(t *testing.T) {
	status := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:status":{}}`)
	status.Subresource = "status"
	live := object(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: istiod, namespace: istio-system}}`,
		entry("helm", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:replicas":{}}}`),
		status,
		entry("helm", metav1.ManagedFieldsOperationApply, `{"f:metadata":{}}`),
	)
	managers := foreignManagers(live)
	if !slices.Equal(managers, []string{"helm", "kubectl-edit"}) {
		t.Fatalf("foreignManagers = %q, want helm and kubectl-edit once each, without the status writer", managers)
	}
	err := &NotOursError{Ref: refOf(live), Managers: managers}
	want := "Deployment istio-system/istiod exists and was not created by bosun (helm, kubectl-edit): delete it (bosun creates it within a minute), or let bosun take it over by running the operator with --adopt-from=helm,kubectl-edit"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// TestAdoptableNeedsOneAllowedManager: bosun takes an object over when any of its managers is one it
// may adopt from, and never when none is, or when it may adopt from no one.
func TestAdoptableNeedsOneAllowedManager(t *testing.T) {
	for _, tc := range []struct {
		adopt, managers []string
		want            bool
	}{
		{nil, []string{"helm"}, false},
		{[]string{"helm"}, []string{"helm"}, true},
		{[]string{"helm"}, []string{"kubectl-client-side-apply", "helm"}, true},
		{[]string{"helm"}, []string{"Helm"}, false},
		{[]string{"helm", "sail-operator"}, []string{"kubectl"}, false},
		{[]string{"helm"}, nil, false},
	} {
		a := &Applier{adopt: tc.adopt}
		if got := a.adoptable(tc.managers); got != tc.want {
			t.Errorf("adopt from %q, managers %q: adoptable = %t, want %t", tc.adopt, tc.managers, got, tc.want)
		}
	}
}
