package render

import (
	"fmt"
	"sort"

	"k8s.io/client-go/discovery"
)

// DiscoverCluster asks the API server for its version and every group/version and group/version/Kind
// it serves, so that charts see the cluster they are applied to (.Capabilities.KubeVersion and
// .Capabilities.APIVersions.Has).
func DiscoverCluster(dc discovery.DiscoveryInterface) (Cluster, error) {
	info, err := dc.ServerVersion()
	if err != nil {
		return Cluster{}, fmt.Errorf("reading the API server's version: %w", err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return Cluster{}, fmt.Errorf("reading the API server's groups: %w", err)
	}
	// A group whose aggregated server is down only loses its own entries; the rest still count.
	seen := map[string]bool{}
	for _, list := range lists {
		seen[list.GroupVersion] = true
		for _, r := range list.APIResources {
			seen[list.GroupVersion+"/"+r.Kind] = true
		}
	}
	versions := make([]string, 0, len(seen))
	for v := range seen {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	return Cluster{KubeVersion: info.GitVersion, APIVersions: versions}, nil
}
