//go:build linux

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator"
)

// The floor of a step is what the cluster itself needs for it: the objects `bosun render` prints for
// the step's resources, sent by the benchmark as one server-side apply each, back to back, with no
// operator running, until the workload they make has rolled out (kstatus Current, the rule bosun's
// Ready uses). An InPlace version change's floor is one patch of the workload's image. The operator's
// overhead is its time for the same step less the floor.

// floorManager is the field manager of the floor's applies.
const floorManager = "bench-floor"

// floorRuns is how many times each step is timed, with and without the operator: the median and the
// 95th percentile of floorRuns runs are reported.
const floorRuns = 20

// rendered returns the objects `bosun render` prints for the resources, bosun's own kinds (an Istio's
// IstioRevision) and Istio's CRDs (which the floor applies once, untimed: crdsOf) aside.
func rendered(b *testing.B, resources ...client.Object) []*unstructured.Unstructured {
	b.Helper()
	objs := renderManifests(b, false, resources...)
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GroupVersionKind().Group == v1.GroupVersion.Group || o.GetKind() == "CustomResourceDefinition"
	})
}

// crdsOf returns Istio's CRDs that `bosun render --crds` prints for the resources.
func crdsOf(b *testing.B, resources ...client.Object) []*unstructured.Unstructured {
	b.Helper()
	return slices.DeleteFunc(renderManifests(b, true, resources...), func(o *unstructured.Unstructured) bool {
		return o.GetKind() != "CustomResourceDefinition"
	})
}

// renderManifests runs the benchmarks' `bosun render` on the resources, with the operator's charts and
// catalog, and decodes what it prints.
func renderManifests(b *testing.B, crds bool, resources ...client.Object) []*unstructured.Unstructured {
	b.Helper()
	var in bytes.Buffer
	for _, r := range resources {
		gvk, err := apiutil.GVKForObject(r, operator.Scheme())
		if err != nil {
			b.Fatal(err)
		}
		r = r.DeepCopyObject().(client.Object)
		r.GetObjectKind().SetGroupVersionKind(gvk)
		data, err := yaml.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		in.WriteString("---\n")
		in.Write(data)
	}
	file := filepath.Join(b.TempDir(), "resources.yaml")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"render", "-f", file, "--platform", "kubernetes", "--resources-dir", env.resources, "--versions-file", env.versionsFile}
	if crds {
		args = append(args, "--crds")
	}
	cmd := exec.Command(env.bosun, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("bosun render: %v\n%s", err, stderr.String())
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatalf("decoding bosun render's output: %v", err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// applyFloor sends each object with server-side apply, one after the other, as the floor's manager.
func applyFloor(ctx context.Context, c *cluster, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner(floorManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// floorOfInstall is the floor of an install, floorRuns times: the objects applied until w has rolled
// out, then deleted with its pods.
func floorOfInstall(b *testing.B, c *cluster, objs []*unstructured.Unstructured, w workload) []time.Duration {
	b.Helper()
	var times []time.Duration
	for range floorRuns {
		start := time.Now()
		if err := applyFloor(b.Context(), c, objs); err != nil {
			b.Fatal(err)
		}
		times = append(times, waitRolledOut(b, c, w, "").Sub(start))
		deleteFloor(b, c, objs)
	}
	return times
}

// deleteFloor deletes the objects and waits until they and the pods of their workloads are gone.
func deleteFloor(b *testing.B, c *cluster, objs []*unstructured.Unstructured) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, obj := range slices.Backward(objs) {
		if err := c.client.Delete(ctx, obj.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			b.Fatalf("deleting %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	err := poll(ctx, 100*time.Millisecond, func() error {
		for _, obj := range objs {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(obj.GroupVersionKind())
			if err := c.client.Get(ctx, client.ObjectKeyFromObject(obj), live); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %s is still there (%v)", obj.GetKind(), obj.GetName(), err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	waitNoPods(b, c, workloadsOf(objs))
}

// workload names a Deployment or DaemonSet.
type workload struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// workloadsOf returns the Deployments and DaemonSets among objects.
func workloadsOf(objs []*unstructured.Unstructured) []workload {
	var out []workload
	for _, o := range objs {
		if k := o.GetKind(); k == "Deployment" || k == "DaemonSet" {
			out = append(out, workload{gvk: o.GroupVersionKind(), namespace: o.GetNamespace(), name: o.GetName()})
		}
	}
	return out
}

// waitNoPods waits until the workloads' pods are gone, so that a run does not share the cluster with
// the previous run's pods as they stop.
func waitNoPods(b *testing.B, c *cluster, workloads []workload) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := poll(ctx, 100*time.Millisecond, func() error {
		for _, w := range workloads {
			pods, err := c.clientset.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, p := range pods.Items {
				if strings.HasPrefix(p.Name, w.name+"-") {
					return fmt.Errorf("pod %s/%s is still there", p.Namespace, p.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// waitRolledOut watches a workload until kstatus says it is Current (its controller observed its
// latest generation and every replica runs it, ready), and until image, when not empty, is the
// image of its first container; it returns when this process saw it.
func waitRolledOut(b *testing.B, c *cluster, w workload, image string) time.Time {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(w.gvk.GroupVersion().WithKind(w.gvk.Kind + "List"))
	for ctx.Err() == nil {
		wt, err := c.client.Watch(ctx, list, client.InNamespace(w.namespace), client.MatchingFields{"metadata.name": w.name})
		if err != nil {
			b.Fatal(err)
		}
		for ev := range wt.ResultChan() {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			if image != "" && firstImage(obj) != image {
				continue
			}
			if res, err := status.Compute(obj); err == nil && res.Status == status.CurrentStatus {
				wt.Stop()
				return time.Now()
			}
		}
		wt.Stop()
	}
	b.Fatalf("timed out after %s waiting for %s %s/%s to roll out", waitTimeout, w.gvk.Kind, w.namespace, w.name)
	return time.Time{}
}

// firstImage is the image of a workload's first container.
func firstImage(obj *unstructured.Unstructured) string {
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		return ""
	}
	image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")
	return image
}

// setImage patches the first container of a workload to image, as `kubectl set image` does.
func setImage(ctx context.Context, c *cluster, w workload, container, image string) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(w.gvk)
	obj.SetNamespace(w.namespace)
	obj.SetName(w.name)
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, container, image)
	return c.client.Patch(ctx, obj, client.RawPatch("application/strategic-merge-patch+json", []byte(patch)))
}

// firstContainer is the name and image of a rendered workload's first container.
func firstContainer(objs []*unstructured.Unstructured, w workload) (name, image string) {
	for _, o := range objs {
		if o.GroupVersionKind() == w.gvk && o.GetNamespace() == w.namespace && o.GetName() == w.name {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			name, _, _ = unstructured.NestedString(containers[0].(map[string]any), "name")
			return name, firstImage(o)
		}
	}
	return "", ""
}

// firstImageOf is the image of a rendered workload's first container.
func firstImageOf(objs []*unstructured.Unstructured, w workload) string {
	_, image := firstContainer(objs, w)
	return image
}

// checkCurrent fails the benchmark unless the workload runs image on at least one ready pod and
// kstatus says it is Current: the Ready the benchmark timed must mean the rollout was over.
func checkCurrent(b *testing.B, c *cluster, w workload, image string) {
	b.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(w.gvk)
	if err := c.client.Get(b.Context(), client.ObjectKey{Namespace: w.namespace, Name: w.name}, obj); err != nil {
		b.Fatal(err)
	}
	res, err := status.Compute(obj)
	if err != nil {
		b.Fatal(err)
	}
	ready, _, _ := unstructured.NestedInt64(obj.Object, "status", "readyReplicas")
	if w.gvk.Kind == "DaemonSet" {
		ready, _, _ = unstructured.NestedInt64(obj.Object, "status", "numberReady")
	}
	if got := firstImage(obj); got != image || res.Status != status.CurrentStatus || ready == 0 {
		b.Errorf("%s %s/%s: Ready before its rollout was over: image %s (want %s), %d ready pods, %s: %s", w.gvk.Kind, w.namespace, w.name, got, image, ready, res.Status, res.Message)
	}
}

// stepTimes are a step's times with and without the operator.
type stepTimes struct {
	floor, operator []time.Duration
}

// quantile returns the q-quantile of times (nearest rank), in seconds.
func quantile(times []time.Duration, q float64) float64 {
	sorted := slices.Sorted(slices.Values(times))
	rank := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))].Seconds()
}

// reportStep reports a step's floor and the operator's time for it as median and 95th percentile,
// and the operator's overhead (its time less the floor's), against the target for the median; the
// 95th percentile's overhead may be twice the target.
func reportStep(b *testing.B, what string, t stepTimes, target float64, reference string) {
	b.Helper()
	seconds := func(times []time.Duration) []float64 {
		var s []float64
		for _, d := range times {
			s = append(s, round(d.Seconds(), 3))
		}
		return s
	}
	name := strings.TrimPrefix(b.Name(), "Benchmark")
	progress("%s: %s: floor, each run: %v s", name, what, seconds(t.floor))
	progress("%s: %s: operator, each run: %v s", name, what, seconds(t.operator))
	floor50, floor95 := round(quantile(t.floor, 0.5), 3), round(quantile(t.floor, 0.95), 3)
	op50, op95 := round(quantile(t.operator, 0.5), 3), round(quantile(t.operator, 0.95), 3)
	runs := fmt.Sprintf(" of %d", len(t.operator))
	report(b, figure{what: what + ": floor, median" + runs, value: floor50, unit: "floor-s", target: noTarget})
	report(b, figure{what: what + ": floor, p95", value: floor95, unit: "floor-p95-s", target: noTarget})
	report(b, figure{what: what + ": bosun, median" + runs, value: op50, unit: "ready-s", target: noTarget, reference: reference})
	report(b, figure{what: what + ": bosun, p95", value: op95, unit: "ready-p95-s", target: noTarget})
	report(b, figure{what: what + ": bosun's overhead (median less the floor's)", value: round(op50-floor50, 3), unit: "overhead-s", target: target})
	report(b, figure{what: what + ": bosun's overhead at p95", value: round(op95-floor95, 3), unit: "overhead-p95-s", target: 2 * target})
}

// window is the operator's samples at the start and the end of one timed run.
type window struct{ start, end sample }

// phaseBreakdown prints where the operator's time went in the timed runs, per run: each phase of each
// kind's reconciles (bosun_reconcile_phase_seconds), and the time requests waited in each controller's
// queue before their reconcile started (workqueue_queue_duration_seconds).
func phaseBreakdown(b *testing.B, windows []window) {
	b.Helper()
	type key struct{ kind, phase string }
	sums := map[key]float64{}
	counts := map[key]float64{}
	add := func(m metrics, sign float64, metric, kindLabel, phase string) {
		for _, s := range m.matching(metric, nil) {
			k := key{phase: phase}
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case kindLabel:
					k.kind = l.GetValue()
				case "phase":
					k.phase = l.GetValue()
				}
			}
			sums[k] += sign * s.GetHistogram().GetSampleSum()
			counts[k] += sign * float64(s.GetHistogram().GetSampleCount())
		}
	}
	for _, w := range windows {
		for _, s := range []struct {
			m    metrics
			sign float64
		}{{w.end.metrics, 1}, {w.start.metrics, -1}} {
			add(s.m, s.sign, "bosun_reconcile_phase_seconds", "kind", "")
			add(s.m, s.sign, "workqueue_queue_duration_seconds", "name", "queue")
		}
	}
	keys := slices.SortedFunc(func(yield func(key) bool) {
		for k := range sums {
			if counts[k] > 0 && !yield(k) {
				return
			}
		}
	}, func(a, b key) int {
		return strings.Compare(strings.ToLower(a.kind)+"/"+a.phase, strings.ToLower(b.kind)+"/"+b.phase)
	})
	runs := float64(len(windows))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s %.1f ms (%.3g×)", k.kind, k.phase, sums[k]*1000/runs, counts[k]/runs))
	}
	progress("%s: the operator's time per run, by phase (every reconcile of the run; queue is the wait before one starts): %s",
		strings.TrimPrefix(b.Name(), "Benchmark"), strings.Join(parts, ", "))
}
