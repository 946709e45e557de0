package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Istio's charts render some environment variables themselves and then append the user's
// values.pilot.env (or a component's env) after them, so a user who sets one the chart already sets
// (CLUSTER_ID, as the external control plane guide does) gets the name twice in one container. The API
// server stores that, and the kubelet gives the container the last value; but server-side apply
// treats env as a map keyed by name and refuses the whole object ("duplicate entries for key"), so
// the documented manifest would never install (docs/architecture.md#lesson-duplicate-env). bosun
// sends each name once, with the value the container would have got: the last one, where the last one
// stood.

// podTemplatePaths are where each workload kind keeps its pod spec.
var podTemplatePaths = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"Pod":         {"spec"},
}

// dedupeEnv keeps, in every container of a workload, only the last entry of each environment
// variable name.
func dedupeEnv(obj *unstructured.Unstructured) {
	path, ok := podTemplatePaths[obj.GetKind()]
	if !ok {
		return
	}
	spec, found, err := unstructured.NestedMap(obj.Object, path...)
	if !found || err != nil {
		return
	}
	changed := false
	for _, field := range []string{"initContainers", "containers"} {
		containers, _ := spec[field].([]any)
		for _, c := range containers {
			container, ok := c.(map[string]any)
			if !ok {
				continue
			}
			env, _ := container["env"].([]any)
			if kept, dropped := lastOfEachName(env); dropped {
				container["env"] = kept
				changed = true
			}
		}
	}
	if changed {
		_ = unstructured.SetNestedMap(obj.Object, spec, path...)
	}
}

// lastOfEachName returns env without the entries a later entry of the same name overrides, and
// whether it dropped any.
func lastOfEachName(env []any) ([]any, bool) {
	last := map[string]int{}
	for i, e := range env {
		if m, ok := e.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				last[name] = i
			}
		}
	}
	kept := make([]any, 0, len(env))
	for i, e := range env {
		if m, ok := e.(map[string]any); ok {
			if name, ok := m["name"].(string); ok && last[name] != i {
				continue
			}
		}
		kept = append(kept, e)
	}
	return kept, len(kept) != len(env)
}
