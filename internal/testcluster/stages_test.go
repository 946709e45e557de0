package testcluster

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// kwokPodReadyStage is kwok's pod-ready stage as `make cluster-bins` copies
// it, reduced to what writePlayedStages reads and changes.
const kwokPodReadyStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
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
  next:
    statusTemplate: |
      phase: Running
`

// stage is the part of a kwok Stage these tests read.
type stage struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ResourceRef struct {
			APIGroup string `json:"apiGroup"`
			Kind     string `json:"kind"`
		} `json:"resourceRef"`
		Selector struct {
			MatchExpressions []matchExpression `json:"matchExpressions"`
		} `json:"selector"`
		Next struct {
			StatusTemplate string `json:"statusTemplate"`
		} `json:"next"`
	} `json:"spec"`
}

type matchExpression struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// stageSource writes kwok's stage files, as `make cluster-bins` leaves them,
// into a new directory.
func stageSource(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readStage parses a stage file.
func readStage(t *testing.T, path string) stage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s stage
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return s
}

// TestPlayedStagesLeaveReadinessToThePlayer checks the stages kwok runs
// with: its pod-ready stage keeps its own conditions and no longer selects
// istiod's or bosun's pods, nor pods marked NeverReadyAnnotation (so kwok
// never makes them Ready), and each of those gets a stage of its own that
// selects exactly those pods.
func TestPlayedStagesLeaveReadinessToThePlayer(t *testing.T) {
	src := stageSource(t, map[string]string{podReadyStage: kwokPodReadyStage})
	files, err := writePlayedStages(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, f := range files {
		byName[filepath.Base(f)] = f
	}

	ready := readStage(t, byName[podReadyStage])
	exprs := ready.Spec.Selector.MatchExpressions
	if len(exprs) != 2+len(playedLabels)+1 {
		t.Fatalf("pod-ready selects by %d expressions, want kwok's 2, one per played label and one for never-ready pods: %+v", len(exprs), exprs)
	}
	if exprs[0].Key != ".metadata.deletionTimestamp" || exprs[1].Key != ".status.phase" {
		t.Errorf("kwok's own expressions changed: %+v", exprs[:2])
	}
	if ready.Spec.Next.StatusTemplate != "phase: Running\n" {
		t.Errorf("kwok's status template changed: %q", ready.Spec.Next.StatusTemplate)
	}
	for _, p := range []struct{ what, query, value, stage string }{
		{"app=istiod", `.metadata.labels["app"]`, "istiod", "pod-played-istiod"},
		{"app.kubernetes.io/name=bosun", `.metadata.labels["app.kubernetes.io/name"]`, "bosun", "pod-played-bosun"},
		{"never-ready", `.metadata.annotations["bosun.dev/e2e-never-ready"]`, "true", "pod-never-ready"},
	} {
		want := matchExpression{Key: p.query, Operator: "NotIn", Values: []string{p.value}}
		if !slices.ContainsFunc(exprs, func(e matchExpression) bool {
			return e.Key == want.Key && e.Operator == want.Operator && slices.Equal(e.Values, want.Values)
		}) {
			t.Errorf("pod-ready does not leave %s pods alone (no %+v)", p.what, want)
		}

		path, ok := byName[p.stage+".yaml"]
		if !ok {
			t.Errorf("no stage for %s pods in %v", p.what, files)
			continue
		}
		played := readStage(t, path)
		if played.Metadata.Name != p.stage {
			t.Errorf("stage name %q, want %s (kwok refuses two stages of one name)", played.Metadata.Name, p.stage)
		}
		if played.Spec.ResourceRef.Kind != "Pod" || played.Spec.ResourceRef.APIGroup != "v1" {
			t.Errorf("stage for %s acts on %+v, want pods", p.what, played.Spec.ResourceRef)
		}
		sel := played.Spec.Selector.MatchExpressions
		if !slices.ContainsFunc(sel, func(e matchExpression) bool {
			return e.Key == want.Key && e.Operator == "In" && slices.Equal(e.Values, want.Values)
		}) {
			t.Errorf("stage for %s does not select them: %+v", p.what, sel)
		}
		if !slices.ContainsFunc(sel, func(e matchExpression) bool {
			return e.Key == ".status.phase" && e.Operator == "In" && slices.Equal(e.Values, []string{"Pending"})
		}) {
			t.Errorf("stage for %s acts on pods that are not Pending, so it would overwrite the player's Ready: %+v", p.what, sel)
		}
		if !slices.ContainsFunc(sel, func(e matchExpression) bool {
			return e.Key == ".metadata.deletionTimestamp" && e.Operator == "DoesNotExist"
		}) {
			t.Errorf("stage for %s acts on pods being deleted: %+v", p.what, sel)
		}
	}
	if NeverReadyAnnotation != "bosun.dev/e2e-never-ready" {
		t.Errorf("NeverReadyAnnotation is %q: tests that mark pods with it would no longer match the stage", NeverReadyAnnotation)
	}
}

// TestPlayedPodStageStartsButDoesNotReady renders the status template of
// istiod's played-pod stage and of the never-ready stage as kwok does (with
// stand-ins for kwok's functions) and checks the status each gives its pod:
// Running, with the pod and host addresses the player routes, containers
// started, but neither the pod nor its containers Ready, since the process
// behind a played pod decides that and nothing makes a never-ready pod so.
func TestPlayedPodStageStartsButDoesNotReady(t *testing.T) {
	src := stageSource(t, map[string]string{podReadyStage: kwokPodReadyStage})
	files, err := writePlayedStages(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pod-played-istiod.yaml", "pod-never-ready.yaml"} {
		t.Run(name, func(t *testing.T) {
			i := slices.IndexFunc(files, func(f string) bool { return filepath.Base(f) == name })
			if i < 0 {
				t.Fatalf("no %s in %v", name, files)
			}
			checkStartedNotReady(t, files[i])
		})
	}
}

// checkStartedNotReady renders the status template of the stage file at path
// for a pod with one container and checks that it is Running, addressed,
// started and not Ready.
func checkStartedNotReady(t *testing.T, path string) {
	t.Helper()
	tmpl, err := template.New("status").Funcs(template.FuncMap{
		"Now": func() string { return "2026-01-02T03:04:05Z" },
		"Quote": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"NodeIPsWith": func(node string) []string {
			if node == "" {
				return nil
			}
			return []string{"172.18.0.1"}
		},
		"PodIPsWith": func(node string, hostNetwork bool, uid, name, namespace string) []string {
			return []string{"10.244.0.7"}
		},
	}).Parse(readStage(t, path).Spec.Next.StatusTemplate)
	if err != nil {
		t.Fatalf("kwok cannot parse the played stage's status template: %v", err)
	}
	pod := map[string]any{
		"metadata": map[string]any{"name": "istiod-1", "namespace": "istio-system", "uid": "u-1"},
		"spec": map[string]any{
			"nodeName":    "kwok-node-0",
			"hostNetwork": false,
			"containers":  []any{map[string]any{"name": "discovery", "image": "docker.io/istio/pilot:1.25.0"}},
		},
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, pod); err != nil {
		t.Fatalf("rendering the played stage's status: %v", err)
	}
	var status corev1.PodStatus
	if err := yaml.UnmarshalStrict(out.Bytes(), &status); err != nil {
		t.Fatalf("the played stage renders an invalid pod status: %v\n%s", err, out.String())
	}
	if status.Phase != corev1.PodRunning {
		t.Errorf("phase %q, want Running: the player plays only running pods", status.Phase)
	}
	if status.PodIP != "10.244.0.7" || len(status.PodIPs) != 1 || status.HostIP != "172.18.0.1" {
		t.Errorf("pod IP %q %v, host IP %q; want the addresses kwok gives", status.PodIP, status.PodIPs, status.HostIP)
	}
	conditions := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range status.Conditions {
		conditions[c.Type] = c.Status
	}
	for typ, want := range map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodInitialized:  corev1.ConditionTrue,
		corev1.PodReady:        corev1.ConditionFalse,
		corev1.ContainersReady: corev1.ConditionFalse,
	} {
		if conditions[typ] != want {
			t.Errorf("condition %s is %q, want %q", typ, conditions[typ], want)
		}
	}
	if len(status.ContainerStatuses) != 1 {
		t.Fatalf("%d container statuses, want one per container", len(status.ContainerStatuses))
	}
	cs := status.ContainerStatuses[0]
	if cs.Name != "discovery" || cs.Ready || cs.Started == nil || !*cs.Started || cs.State.Running == nil {
		t.Errorf("container status %+v, want discovery running, started and not ready", cs)
	}
}

// TestWritePlayedStagesCopiesKwoksOtherStages checks that kwok's other stage
// files (node heartbeats, pod deletion) reach kwok unchanged, and that files
// that are not stages are left out.
func TestWritePlayedStagesCopiesKwoksOtherStages(t *testing.T) {
	const heartbeat = "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: node-heartbeat\n# kept as written\n"
	src := stageSource(t, map[string]string{
		podReadyStage:                    kwokPodReadyStage,
		"node-heartbeat-with-lease.yaml": heartbeat,
		"kwok-stages.version":            "v0.7.0\n",
		"README.md":                      "not a stage\n",
	})
	dst := filepath.Join(t.TempDir(), "stages")
	files, err := writePlayedStages(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if filepath.Dir(f) != dst {
			t.Errorf("%s is not in %s, the cluster's copy", f, dst)
		}
		names = append(names, filepath.Base(f))
	}
	slices.Sort(names)
	want := []string{"node-heartbeat-with-lease.yaml", "pod-never-ready.yaml", "pod-played-bosun.yaml", "pod-played-istiod.yaml", podReadyStage}
	if !slices.Equal(names, want) {
		t.Errorf("stage files %v, want %v", names, want)
	}
	got, err := os.ReadFile(filepath.Join(dst, "node-heartbeat-with-lease.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != heartbeat {
		t.Errorf("kwok's heartbeat stage changed:\n%s", got)
	}
	orig, err := os.ReadFile(filepath.Join(src, podReadyStage))
	if err != nil {
		t.Fatal(err)
	}
	if string(orig) != kwokPodReadyStage {
		t.Error("writePlayedStages changed the shared copy of kwok's stages in the bin directory")
	}
}

// TestWritePlayedStagesRefusesIncompleteStages checks the errors of a bin
// directory that `make cluster-bins` did not fill: each says what is wrong.
func TestWritePlayedStagesRefusesIncompleteStages(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name:  "no pod-ready stage",
			files: map[string]string{"node-initialize.yaml": "kind: Stage\n"},
			want:  "no pod-ready.yaml in",
		},
		{
			name:  "pod-ready without a selector",
			files: map[string]string{podReadyStage: "kind: Stage\nspec:\n  next: {}\n"},
			want:  "pod-ready.yaml: the stage has no spec.selector.matchExpressions to extend",
		},
		{
			name:  "pod-ready that is not YAML",
			files: map[string]string{podReadyStage: "spec: [unclosed\n"},
			want:  "pod-ready.yaml:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := writePlayedStages(stageSource(t, tt.files), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := writePlayedStages(filepath.Join(t.TempDir(), "missing"), t.TempDir()); err == nil {
		t.Error("no error for a missing stage directory")
	}
	if err := checkBinaries(t.TempDir(), true); err == nil || !strings.Contains(err.Error(), kwokStagesDir) {
		t.Errorf("checkBinaries of a full cluster without stages: %v, want it to name %s", err, kwokStagesDir)
	}
}

// TestPlayedLabelsAreTheRolesLabels checks that the pods kwok leaves to a
// player are exactly the pods some role plays: a label only in
// playedLabels would leave pods never Ready, a role's label missing there
// would have kwok make them Ready before their process serves.
func TestPlayedLabelsAreTheRolesLabels(t *testing.T) {
	roles := []role{&istiodRole{}, &operatorRole{}}
	var fromRoles []labelPair
	for _, r := range roles {
		fromRoles = append(fromRoles, r.label())
	}
	if !slices.Equal(fromRoles, playedLabels) {
		t.Errorf("roles play %v, kwok leaves %v to players", fromRoles, playedLabels)
	}
	names := map[string]bool{}
	for _, r := range roles {
		if names[r.name()] {
			t.Errorf("two roles named %q would share a folder of pod files", r.name())
		}
		names[r.name()] = true
	}
	values := map[string]bool{}
	for _, l := range playedLabels {
		if values[l.value] {
			t.Errorf("two played labels have the value %q, so their stage files collide", l.value)
		}
		values[l.value] = true
	}
	if got := istiodLabel.String(); got != "app=istiod" {
		t.Errorf("istiod's label selector %q, want app=istiod", got)
	}
	if got := operatorLabel.String(); got != "app.kubernetes.io/name=bosun" {
		t.Errorf("the operator's label selector %q, want app.kubernetes.io/name=bosun", got)
	}
}
