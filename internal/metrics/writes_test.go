package metrics

import "testing"

func TestResource(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces":                                                      "namespaces",
		"/api/v1/namespaces/istio-system":                                         "namespaces",
		"/api/v1/namespaces/istio-system/configmaps":                              "configmaps",
		"/api/v1/namespaces/istio-system/configmaps/istio":                        "configmaps",
		"/apis/apps/v1/namespaces/istio-system/deployments/istiod":                "deployments",
		"/apis/sailoperator.io/v1/istiorevisions/default/status":                  "istiorevisions/status",
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/x": "validatingwebhookconfigurations",
		"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/bosun":        "leases",
		"/version": "other",
	} {
		if got := Resource(path); got != want {
			t.Errorf("Resource(%q) = %q, want %q", path, got, want)
		}
	}
}
