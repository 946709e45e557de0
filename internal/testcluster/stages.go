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

// NeverReadyAnnotation marks a pod that kwok runs but never makes Ready, as
// a workload whose readiness probe never passes: set to "true", its
// containers start and it gets its addresses, and it stays not Ready until it
// goes. Tests put it on the pods they want unhealthy, for instance through
// Istio's sidecarInjectorWebhook.injectedAnnotations on the pods one
// revision's istiod injects. A player never acts on it, so it has no place on
// a played pod.
const NeverReadyAnnotation = "bosun.dev/e2e-never-ready"

// playedPodStage makes a pending pod whose query %[2]s (kwok's jq) is %[3]s
// Running, with addresses and running containers, but not Ready: a played
// pod's player sets Ready from the probe of the process behind it, and a pod
// marked NeverReadyAnnotation stays so. It is kwok's pod-ready stage with
// readiness left out, named %[1]s, one per unreadyPods entry.
const playedPodStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %[1]s
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

// unreadySelector selects pods that kwok starts but does not make Ready: a
// pod whose query (kwok's jq) is value. name names its stage and file.
type unreadySelector struct{ name, query, value string }

// unreadyPods are the pods kwok's pod-ready stage leaves alone and
// playedPodStage starts instead: each played label's, whose player decides
// Ready, and those marked NeverReadyAnnotation, which nothing makes Ready.
func unreadyPods() []unreadySelector {
	var s []unreadySelector
	for _, l := range playedLabels {
		s = append(s, unreadySelector{name: "pod-played-" + l.value, query: labelQuery(l.key), value: l.value})
	}
	return append(s, unreadySelector{name: "pod-never-ready", query: annotationQuery(NeverReadyAnnotation), value: "true"})
}

// writePlayedStages writes into dst the stage files of src (as `make
// cluster-bins` copied them from kwok's module), with kwok's pod-ready stage
// told to leave unreadyPods alone, plus a played-pod stage for each. It
// returns the files' paths.
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
	for _, u := range unreadyPods() {
		path := filepath.Join(dst, u.name+".yaml")
		if err := os.WriteFile(path, []byte(fmt.Sprintf(playedPodStage, u.name, u.query, u.value)), 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// labelQuery is kwok's query (jq) of a pod's label.
func labelQuery(key string) string { return `.metadata.labels["` + key + `"]` }

// annotationQuery is kwok's query (jq) of a pod's annotation.
func annotationQuery(key string) string { return `.metadata.annotations["` + key + `"]` }

// excludePlayedPods adds to a stage's selector that the pod is none of
// unreadyPods. kwok's NotIn also matches pods without the label or
// annotation.
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
	for _, u := range unreadyPods() {
		exprs = append(exprs, map[string]any{"key": u.query, "operator": "NotIn", "values": []any{u.value}})
	}
	selector["matchExpressions"] = exprs
	return yaml.Marshal(doc)
}
