//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// operatorNamespace and operatorDeployment are the operator's namespace and Deployment (named as its
// ServiceAccount) in the plain manifests (deploy/bosun.yaml, the chart rendered by make manifests).
const (
	operatorNamespace  = demo.OperatorNamespace
	operatorDeployment = demo.OperatorDeployment
)

// operatorPodLabels select the operator's pods, which the box plays with the bosun-operator binary
// TestMain built (testcluster.Options.OperatorBinary).
var operatorPodLabels = client.MatchingLabels{"app.kubernetes.io/name": "bosun"}

// installed is bosun installed from deploy/bosun.yaml, its operator running as the box plays its pod:
// a real bosun-operator process with the Deployment's arguments, as the chart's ServiceAccount.
type installed struct {
	objects []*unstructured.Unstructured
}

// inUseRefresh is the --in-use-refresh-interval of the operator installBosun installs.
const inUseRefresh = 2 * time.Second

// installBosun applies deploy/bosun.yaml as a user applies it (the CRDs are installed already, by
// TestMain), with the operator container's arguments changed as a user changes them with kustomize:
// the test catalog and its charts instead of the image's, the kubernetes platform, and InUse counts
// refreshed every inUseRefresh rather than every 30 s, since the tests check exact counts after each
// step. extra adds arguments. It waits for the operator's pod to be Ready, and removes the
// installation when the test ends.
func installBosun(t *testing.T, c client.Client, extra ...string) *installed {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "bosun.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	catalogFile := filepath.Join(t.TempDir(), "versions.yaml")
	if err := os.WriteFile(catalogFile, []byte(catalogYAML(v1244)), 0o644); err != nil {
		t.Fatal(err)
	}
	in := &installed{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if obj.GetKind() == "" {
			continue
		}
		if obj.GetKind() == "Deployment" {
			editOperatorArgs(t, obj, func(args []string) []string {
				// A flag given here replaces the chart's (and extra replaces these), so that the pod's
				// arguments say each flag once.
				all := append(args, append([]string{"--versions-file=" + catalogFile, "--resources-dir=" + resources, "--platform=kubernetes",
					"--in-use-refresh-interval=" + inUseRefresh.String()}, extra...)...)
				var out []string
				for i, a := range all {
					name, _, _ := strings.Cut(a, "=")
					if !slices.ContainsFunc(all[i+1:], func(b string) bool {
						return strings.HasPrefix(b, "--") && (b == name || strings.HasPrefix(b, name+"="))
					}) {
						out = append(out, a)
					}
				}
				return out
			})
		}
		in.objects = append(in.objects, obj)
	}
	for _, obj := range in.objects {
		if err := c.Patch(t.Context(), obj.DeepCopy(), client.Apply, client.FieldOwner("e2e-installer"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	t.Cleanup(func() { in.uninstall(t, c) })
	in.ready(t, c)
	return in
}

// editOperatorArgs changes the arguments of the operator Deployment's container.
func editOperatorArgs(t *testing.T, deployment *unstructured.Unstructured, edit func([]string) []string) {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deployment.Object, d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Args = edit(d.Spec.Template.Spec.Containers[0].Args)
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "status")
	deployment.Object = obj
	deployment.SetAPIVersion("apps/v1")
	deployment.SetKind("Deployment")
}

// ready waits until the operator's pods are all Ready and each is played by a process.
func (in *installed) ready(t *testing.T, c client.Client) {
	t.Helper()
	waitFor(t, "the operator's pods to be Ready, each played by a bosun process", func(ctx context.Context) error {
		pods, err := operatorPods(ctx, c)
		if err != nil {
			return err
		}
		if len(pods) == 0 {
			return errors.New("no operator pod")
		}
		played := box.PlayedProcesses()
		for _, pod := range pods {
			if !podReady(&pod) {
				return fmt.Errorf("pod %s is not Ready", pod.Name)
			}
			if played[pod.Namespace+"/"+pod.Name] == 0 {
				return fmt.Errorf("pod %s has no process", pod.Name)
			}
		}
		return nil
	})
}

// operatorPods lists the operator's pods that are not being deleted.
func operatorPods(ctx context.Context, c client.Client) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(operatorNamespace), operatorPodLabels); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil }), nil
}

// operatorProcess returns the operator pod's name and the id of the process that plays it, when one
// pod runs.
func operatorProcess(t *testing.T, c client.Client) (string, int) {
	t.Helper()
	pods, err := operatorPods(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("%d operator pods, want 1", len(pods))
	}
	return pods[0].Name, box.PlayedProcesses()[operatorNamespace+"/"+pods[0].Name]
}

// metrics reads the operator's metrics as Prometheus would: through the chart's metrics Service,
// here by way of the API server's service proxy, which reaches the pod through the box's network.
func (in *installed) metrics(ctx context.Context) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	var svc string
	for _, obj := range in.objects {
		if obj.GetKind() == "Service" {
			svc = obj.GetName()
		}
	}
	data, err := cs.CoreV1().Services(operatorNamespace).ProxyGet("http", svc, "metrics", "/metrics", nil).DoRaw(ctx)
	return string(data), err
}

// uninstall deletes what installBosun applied, as `kubectl delete -f deploy/bosun.yaml` does, and waits
// until the operator's processes have stopped.
func (in *installed) uninstall(t *testing.T, c client.Client) {
	t.Helper()
	for _, obj := range slices.Backward(in.objects) {
		if err := c.Delete(context.Background(), obj.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	waitFor(t, "the operator's processes to stop", func(ctx context.Context) error {
		for key := range box.PlayedProcesses() {
			if strings.HasPrefix(key, operatorNamespace+"/") {
				return fmt.Errorf("%s still runs", key)
			}
		}
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: operatorNamespace}, &ns); err == nil {
			return fmt.Errorf("namespace %s is %s", operatorNamespace, ns.Status.Phase)
		}
		return nil
	})
}
