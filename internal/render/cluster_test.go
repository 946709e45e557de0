//go:build integration

package render

import (
	"slices"
	"testing"

	"k8s.io/client-go/discovery"

	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// TestDiscoverCluster reads a real API server's capabilities, as the operator does before rendering.
func TestDiscoverCluster(t *testing.T) {
	cluster := clustertest.Start(t, testcluster.Options{})
	got, err := DiscoverCluster(discovery.NewDiscoveryClientForConfigOrDie(cluster.Config()))
	if err != nil {
		t.Fatal(err)
	}
	if got.KubeVersion != testcluster.KubeVersion {
		t.Errorf("KubeVersion = %s, want %s", got.KubeVersion, testcluster.KubeVersion)
	}
	for _, want := range []string{"v1", "apps/v1", "apps/v1/Deployment", "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration", "policy/v1/PodDisruptionBudget"} {
		if !slices.Contains(got.APIVersions, want) {
			t.Errorf("APIVersions lacks %s", want)
		}
	}
	if _, err := New(nil, got); err != nil {
		t.Errorf("a Renderer refuses the discovered cluster: %v", err)
	}
}
