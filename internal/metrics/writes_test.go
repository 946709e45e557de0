package metrics

import "testing"

// TestResource: a request path becomes the resource it writes, with its subresource, and never an
// object's or namespace's name, so the label's values stay a small fixed set; paths that address no
// resource are "other".
func TestResource(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces":                                                        "namespaces",
		"/api/v1/namespaces/istio-system":                                           "namespaces",
		"/api/v1/namespaces/istio-system/configmaps":                                "configmaps",
		"/api/v1/namespaces/istio-system/configmaps/istio":                          "configmaps",
		"/apis/apps/v1/namespaces/istio-system/deployments/istiod":                  "deployments",
		"/apis/sailoperator.io/v1/istiorevisions/default/status":                    "istiorevisions/status",
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/x":   "validatingwebhookconfigurations",
		"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/bosun":          "leases",
		"/api/v1/namespaces/istio-system/pods/istiod-1/status":                      "pods/status",
		"/api/v1/namespaces/istio-system/pods/istiod-1/eviction":                    "pods/eviction",
		"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.istio.io/status": "customresourcedefinitions/status",
		"/apis/events.k8s.io/v1/namespaces/default/events":                          "events",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles/istiod-clusterrole":        "clusterroles",
		"/apis/sailoperator.io/v1/istios/":                                          "istios",
		"/api/v1/nodes/worker-1":                                                    "nodes",
		"/version":                                                                  "other",
		"/api":                                                                      "other",
		"/api/v1":                                                                   "other",
		"/apis/apps/v1":                                                             "other",
		"":                                                                          "other",
	} {
		if got := Resource(path); got != want {
			t.Errorf("Resource(%q) = %q, want %q", path, got, want)
		}
	}
}
