package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// The multicluster demo (`make demo-multicluster`, `bosun-dev demo-multicluster`) installs bosun on two
// clusters, one istiod of a multi-primary mesh on each, and a service on each; then it lets each istiod
// read the other cluster with `bosun create-remote-secret`, and shows what each istiod knows: every
// service of both clusters, with its endpoints by cluster. docs/topologies.md#multi-primary is the
// procedure.

// Names of the multicluster demo.
const (
	// MeshID and Network are the mesh's values.global.meshID and values.global.network.
	MeshID  = "mesh1"
	Network = "network1"
	// SampleNamespace holds each cluster's service.
	SampleNamespace = "sample"
)

// ClusterName is the name of the multicluster demo's i-th cluster (from 0): cluster1, cluster2.
func ClusterName(i int) string { return fmt.Sprintf("cluster%d", i+1) }

// MulticlusterConfig is what the multicluster demo runs against.
type MulticlusterConfig struct {
	// Clusters are the two clusters, each as Run would take it; Out is the first one's.
	Clusters []Config
	// Bosun is the bosun executable, whose create-remote-secret joins the clusters.
	Bosun string
}

// MulticlusterManifest is the Istio of one cluster of the multi-primary mesh, in istio-system.
func MulticlusterManifest(version, cluster string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[2]s
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %[3]s
spec:
  namespace: %[2]s
  version: %[1]s
  values:
    global:
      meshID: %[4]s
      multiCluster:
        clusterName: %[5]s
      network: %[6]s
`, version, IstioNamespace, MeshName, MeshID, cluster, Network)
}

// SampleService is the service the multicluster demo runs in a cluster: hello-<cluster>, one pod.
func SampleService(cluster string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: hello-%[1]s
  labels:
    app: hello-%[1]s
spec:
  selector:
    app: hello-%[1]s
  ports:
  - name: http
    port: 5000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-%[1]s
spec:
  replicas: 1
  selector:
    matchLabels:
      app: hello-%[1]s
  template:
    metadata:
      labels:
        app: hello-%[1]s
    spec:
      containers:
      - name: hello
        image: docker.io/istio/examples-helloworld-v1:1.0
        ports:
        - containerPort: 5000
`, cluster)
}

// multiclusterSteps install bosun, the cluster's istiod of the mesh, and its service.
func multiclusterSteps(cfg Config, cluster string) []step {
	wait := fmt.Sprintf("--timeout=%s", cfg.wait())
	return append(installSteps(cfg), []step{
		{title: "Install the cluster's control plane of mesh " + MeshID + ": Istio " + cfg.Version.Name + " with its cluster name and network",
			args: []string{"apply", "--server-side", "-f", "-"}, stdin: MulticlusterManifest(cfg.Version.Name, cluster)},
		{title: "Wait until bosun reports it Ready",
			args:     []string{"wait", "--for=condition=Ready", wait, "istio/" + MeshName},
			diagnose: append([][]string{{"get", "istio,istiorevision", "-o", "yaml"}}, operatorState()...)},
		{title: "Create the sample's namespace",
			args: []string{"create", "namespace", SampleNamespace}},
		{title: "Run a service in it, hello-" + cluster,
			args: []string{"apply", "-n", SampleNamespace, "-f", "-"}, stdin: SampleService(cluster)},
		{title: "Wait for its pod",
			args: []string{"wait", "--for=condition=Available", wait, "-n", SampleNamespace, "deployment/hello-" + cluster}},
	}...)
}

// RunMulticluster runs the multicluster demo and stops at the first step that fails. It returns once
// each istiod is shown to know both clusters' services.
func RunMulticluster(ctx context.Context, mc MulticlusterConfig) error {
	if len(mc.Clusters) != 2 {
		return fmt.Errorf("the multicluster demo takes two clusters, not %d", len(mc.Clusters))
	}
	out := mc.Clusters[0].Out
	if out == nil {
		out = io.Discard
	}
	start := time.Now()
	fmt.Fprintf(out, "demo: a multi-primary mesh %s over two clusters, Istio %s (%s).\n", MeshID, mc.Clusters[0].Version.Name, mc.Clusters[0].Version.Resolved)
	for i, cfg := range mc.Clusters {
		cfg.Out = out
		cluster := ClusterName(i)
		all := multiclusterSteps(cfg, cluster)
		fmt.Fprintf(out, "\n#### %s (export KUBECONFIG=%s)\n", cluster, cfg.Kubeconfig)
		for j, s := range all {
			if err := cfg.runStep(ctx, s, fmt.Sprintf("%s %d/%d, %s", cluster, j+1, len(all), time.Since(start).Round(time.Second))); err != nil {
				return fmt.Errorf("%s, step %d (%s): %w", cluster, j+1, s.title, err)
			}
		}
	}
	fmt.Fprintf(out, "\n#### Let each istiod read the other cluster (docs/topologies.md#access-to-another-cluster-bosun-create-remote-secret)\n")
	for i := range mc.Clusters {
		source, target := mc.Clusters[i], mc.Clusters[1-i]
		args := []string{"create-remote-secret", "--kubeconfig", source.Kubeconfig, "--name", ClusterName(i),
			"--namespace", IstioNamespace, "--apply", "--target-kubeconfig", target.Kubeconfig}
		fmt.Fprintf(out, "\n==> %s's istiod reads %s\n$ bosun %s\n", ClusterName(1-i), ClusterName(i), shellJoin(args))
		cmd := exec.CommandContext(ctx, mc.Bosun, args...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bosun create-remote-secret --name %s: %w", ClusterName(i), err)
		}
	}
	fmt.Fprintf(out, "\n#### What each istiod knows: every service of the mesh, with its endpoints by cluster\n")
	for i, cfg := range mc.Clusters {
		cfg.Out = out
		view, err := cfg.waitForView(ctx, func(v View) bool { return v.Knows("hello-"+ClusterName(1-i), ClusterName(1-i)) })
		if err != nil {
			return fmt.Errorf("%s's istiod: %w", ClusterName(i), err)
		}
		fmt.Fprintf(out, "\n==> %s's istiod (kubectl get --raw .../pods/%s:8080/proxy/debug/endpointShardz, summarised)\n%s", ClusterName(i), view.Pod, view)
	}
	fmt.Fprintf(out, "\ndemo: a multi-primary mesh over two clusters in %s.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// View is what one istiod knows of the mesh's services: for each service of the sample's namespace, its
// endpoints by cluster.
type View struct {
	// Pod is the istiod pod asked.
	Pod string
	// Endpoints are, by service name, the number of endpoints in each cluster.
	Endpoints map[string]map[string]int
}

// Knows reports whether the istiod knows an endpoint of the service in the cluster.
func (v View) Knows(service, cluster string) bool { return v.Endpoints[service][cluster] > 0 }

func (v View) String() string {
	var b strings.Builder
	services := make([]string, 0, len(v.Endpoints))
	for s := range v.Endpoints {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, s := range services {
		clusters := make([]string, 0, len(v.Endpoints[s]))
		for c, n := range v.Endpoints[s] {
			clusters = append(clusters, fmt.Sprintf("%s: %d", c, n))
		}
		sort.Strings(clusters)
		fmt.Fprintf(&b, "  %-50s endpoints in %s\n", s+"."+SampleNamespace, strings.Join(clusters, ", "))
	}
	return b.String()
}

// ParseEndpointShards reads istiod's /debug/endpointShardz (by host, then namespace, the endpoints of
// each shard, keyed <registry>/<cluster>) into the endpoints of the services of namespace.
func ParseEndpointShards(data []byte, namespace string) (map[string]map[string]int, error) {
	var shardz map[string]map[string]struct {
		Shards map[string][]json.RawMessage
	}
	if err := json.Unmarshal(data, &shardz); err != nil {
		return nil, fmt.Errorf("reading istiod's endpoint shards: %w", err)
	}
	out := map[string]map[string]int{}
	for host, byNamespace := range shardz {
		shards, ok := byNamespace[namespace]
		if !ok {
			continue
		}
		service, _, _ := strings.Cut(host, ".")
		for key, endpoints := range shards.Shards {
			_, cluster, _ := strings.Cut(key, "/")
			if out[service] == nil {
				out[service] = map[string]int{}
			}
			out[service][cluster] += len(endpoints)
		}
	}
	return out, nil
}

// waitForView asks the cluster's istiod for its endpoint shards until done says its view is complete.
func (cfg Config) waitForView(ctx context.Context, done func(View) bool) (View, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.wait())
	defer cancel()
	var last error
	for {
		view, err := cfg.view(ctx)
		if err == nil && done(view) {
			return view, nil
		}
		if err == nil {
			err = fmt.Errorf("it knows %v so far", view.Endpoints)
		}
		last = err
		select {
		case <-ctx.Done():
			return View{}, fmt.Errorf("%w: %v", ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

// view asks the cluster's istiod, through the API server's pod proxy, for its endpoint shards.
func (cfg Config) view(ctx context.Context) (View, error) {
	var name bytes.Buffer
	if err := cfg.kubectl(ctx, []string{"get", "pods", "-n", IstioNamespace, "-l", "app=istiod", "-o", "jsonpath={.items[0].metadata.name}"}, "", &name); err != nil {
		return View{}, err
	}
	pod := strings.TrimSpace(name.String())
	var raw bytes.Buffer
	if err := cfg.kubectl(ctx, []string{"get", "--raw", "/api/v1/namespaces/" + IstioNamespace + "/pods/" + pod + ":8080/proxy/debug/endpointShardz"}, "", &raw); err != nil {
		return View{}, err
	}
	endpoints, err := ParseEndpointShards(raw.Bytes(), SampleNamespace)
	return View{Pod: pod, Endpoints: endpoints}, err
}
