package demo

import (
	"strings"
	"testing"
)

// TestParseEndpointShards: istiod's endpoint shards become, for each service of the namespace, its
// endpoints by cluster; other namespaces are left out.
func TestParseEndpointShards(t *testing.T) {
	data := []byte(`{
  "hello-cluster1.sample.svc.cluster.local": {"sample": {"Shards": {"Kubernetes/cluster1": [{"Addresses": ["10.244.0.5"]}]}, "ServiceAccounts": {}}},
  "hello-cluster2.sample.svc.cluster.local": {"sample": {"Shards": {"Kubernetes/cluster2": [{"Addresses": ["10.244.0.7"]}, {"Addresses": ["10.244.0.8"]}]}}},
  "istiod.istio-system.svc.cluster.local": {"istio-system": {"Shards": {"Kubernetes/cluster1": [{}]}}}
}`)
	got, err := ParseEndpointShards(data, "sample")
	if err != nil {
		t.Fatal(err)
	}
	v := View{Pod: "istiod-1", Endpoints: got}
	if !v.Knows("hello-cluster1", "cluster1") || !v.Knows("hello-cluster2", "cluster2") || v.Knows("hello-cluster2", "cluster1") || len(got) != 2 {
		t.Errorf("endpoints %v", got)
	}
	if s := v.String(); !strings.Contains(s, "hello-cluster2.sample") || !strings.Contains(s, "endpoints in cluster2: 2") {
		t.Errorf("view prints %q", s)
	}
	if _, err := ParseEndpointShards([]byte("not json"), "sample"); err == nil {
		t.Error("a reply that is not JSON was read")
	}
}

// TestMulticlusterManifest: each cluster's Istio names the mesh, its own cluster and the network.
func TestMulticlusterManifest(t *testing.T) {
	m := MulticlusterManifest("v1.27-latest", ClusterName(1))
	for _, want := range []string{"meshID: mesh1", "clusterName: cluster2", "network: network1", "version: v1.27-latest", "namespace: istio-system"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q:\n%s", want, m)
		}
	}
}
