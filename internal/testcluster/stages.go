package testcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// podReadyStage is the name of kwok's stage file that makes a pending pod
// Running and Ready at once.
const podReadyStage = "pod-ready.yaml"

// playedPodStage makes a pending played pod (labelled %[2]s) Running, with
// addresses and running containers, but not Ready: its player sets Ready
// from the probe of the process behind it. It is kwok's pod-ready stage with
// readiness left out, one per played label.
const playedPodStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-played-%[1]s
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '%[2]s'
      operator: 'In'
      values:
      - '%[3]s'
  next:
    statusTemplate: |
      {{ $now := Now }}

      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady

      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`

// writePlayedStages writes into dst the stage files of src (as `make
// cluster-bins` copied them from kwok's module), with kwok's pod-ready stage
// told to leave played pods alone, plus the played-pod stage. It returns the
// files' paths.
func writePlayedStages(src, dst string) ([]string, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	var files []string
	foundReady := false
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return nil, err
		}
		if e.Name() == podReadyStage {
			foundReady = true
			if data, err = excludePlayedPods(data); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
		}
		path := filepath.Join(dst, e.Name())
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	if !foundReady {
		return nil, fmt.Errorf("no %s in %s: run `make cluster-bins`", podReadyStage, src)
	}
	for _, l := range playedLabels {
		path := filepath.Join(dst, "pod-played-"+l.value+".yaml")
		if err := os.WriteFile(path, []byte(fmt.Sprintf(playedPodStage, l.value, labelQuery(l.key), l.value)), 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// labelQuery is kwok's query (jq) of a pod's label.
func labelQuery(key string) string { return `.metadata.labels["` + key + `"]` }

// excludePlayedPods adds to a stage's selector that the pod is not a played
// one. kwok's NotIn also matches pods without the label.
func excludePlayedPods(stage []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(stage, &doc); err != nil {
		return nil, err
	}
	spec, _ := doc["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	exprs, ok := selector["matchExpressions"].([]any)
	if !ok {
		return nil, fmt.Errorf("the stage has no spec.selector.matchExpressions to extend")
	}
	for _, l := range playedLabels {
		exprs = append(exprs, map[string]any{"key": labelQuery(l.key), "operator": "NotIn", "values": []any{l.value}})
	}
	selector["matchExpressions"] = exprs
	return yaml.Marshal(doc)
}
