package metrics

import "testing"

// TestResourceOfANamespacesSubresource: /api/v1/namespaces/istio-system/status is the status of the
// namespace istio-system, not a resource "status" in it: its writes are labelled namespaces/status
// (and namespaces/finalize), a resource that exists.
func TestResourceOfANamespacesSubresource(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/istio-system/status":   "namespaces/status",
		"/api/v1/namespaces/istio-system/finalize": "namespaces/finalize",
	} {
		if got := Resource(path); got != want {
			t.Errorf("Resource(%q) = %q, want %q", path, got, want)
		}
	}
}
