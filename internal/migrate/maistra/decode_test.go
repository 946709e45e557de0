package maistra

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &obj.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

// The fields a user set that bosun does not know are listed with their full path: dropping them
// silently would migrate a mesh without a setting its owner relies on.
func TestDecodeListsUnknownFields(t *testing.T) {
	in, err := Decode(objects(t, `apiVersion: maistra.io/v2
kind: ServiceMeshControlPlane
metadata: {name: basic, namespace: istio-system}
spec:
  version: v2.6
  mystery: 1
  gateways:
    ingress:
      enabled: true
      colour: blue
      service: {type: LoadBalancer, shape: round}
    additionalIngress:
      extra: {namespace: apps, shape: round}
  proxy:
    injection:
      alwaysInjectSelector: [{matchLabels: {a: b}}]
  techPreview: {anything: goes}
status:
  chartVersion: 2.6.5
  whatever: true
  appliedSpec:
    version: v2.6
    fromProfile: x
`, `apiVersion: maistra.io/v1
kind: ServiceMeshMemberRoll
metadata: {name: default, namespace: istio-system}
spec:
  members: [a, b]
  memberz: [c]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ServiceMeshControlPlane istio-system/basic: spec.gateways.additionalIngress.extra.shape",
		"ServiceMeshControlPlane istio-system/basic: spec.gateways.ingress.colour",
		"ServiceMeshControlPlane istio-system/basic: spec.gateways.ingress.service.shape",
		"ServiceMeshControlPlane istio-system/basic: spec.mystery",
		"ServiceMeshControlPlane istio-system/basic: status.appliedSpec.fromProfile",
		"ServiceMeshMemberRoll istio-system/default: spec.memberz",
	}
	if !slices.Equal(in.Unknown, want) {
		t.Errorf("unknown fields:\n%s\nwant:\n%s", strings.Join(in.Unknown, "\n"), strings.Join(want, "\n"))
	}
	cp := in.ControlPlanes[0]
	if cp.Status.ChartVersion != "2.6.5" || cp.Status.AppliedSpec == nil || cp.Spec.Gateways.ClusterIngress.Service.Type != "LoadBalancer" || !cp.Spec.Gateways.ClusterIngress.On() {
		t.Errorf("decoded %+v", cp)
	}
	if got := in.MemberRolls[0].Spec.Members; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("members %v", got)
	}
}

func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: maistra.io/v1\nkind: ServiceMeshControlPlane\nmetadata: {name: old}\nspec: {}", "export it with kubectl get smcp -o yaml"},
		{"apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: x}", "bosun migrate reads maistra.io/v2 ServiceMeshControlPlane"},
		{"apiVersion: maistra.io/v2\nkind: ServiceMeshControlPlane\nmetadata: {name: b}\nspec: {tracing: {sampling: lots}}", "ServiceMeshControlPlane /b: json: cannot unmarshal string into Go struct field TracingConfig.spec.tracing.sampling of type int32"},
	} {
		_, err := Decode(objects(t, tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.doc, err, tc.want)
		}
	}
}
