//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/samples"
)

// The scenarios of this package follow the OpenShift Service Mesh 3 documents with bosun installed as
// a user installs it (installBosun: deploy/bosun.yaml, the operator a separate process with only its
// RBAC) and the sample application samples/bookinfo, deployed as a user deploys it (kubectl apply -n
// <namespace>) into a namespace labelled for injection: its pods are injected by the real istiod the
// box runs for the revision, and `kubectl rollout restart` replaces them with pods injected by
// whichever revision the namespace selects then.

// restartedAt is the pod template annotation `kubectl rollout restart` sets.
const restartedAt = "kubectl.kubernetes.io/restartedAt"

// appNamespace creates a namespace for an application, with labels, and deletes it when the test
// ends, waiting until it is gone (its pods with it) so that the next test may use the name again.
// Register it after the Istio the application uses, so that the pods go first.
func appNamespace(t *testing.T, c client.Client, name string, labels map[string]string) {
	t.Helper()
	appNamespaces(t, c, labels, name)
}

// appNamespaces is appNamespace for several namespaces with the same labels, deleted together.
func appNamespaces(t *testing.T, c client.Client, labels map[string]string, names ...string) {
	t.Helper()
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := c.Create(t.Context(), ns); err != nil {
			t.Fatalf("creating namespace %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		for _, name := range names {
			if err := c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting namespace %s: %v", name, err)
			}
		}
		waitFor(t, fmt.Sprintf("namespaces %v to be gone", names), func(ctx context.Context) error {
			for _, name := range names {
				if err := c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("namespace %s is still there: %v", name, err)
				}
			}
			return nil
		})
	})
}

// deployBookinfo applies samples/bookinfo in a namespace, as `kubectl apply -n <namespace> -f
// bookinfo.yaml` does, and waits until each of its Deployments runs its pod; it returns the pods,
// sorted by name. Each pod passes the injector on its way in: where the injector cannot be reached
// the ReplicaSets cannot create them and the wait fails.
func deployBookinfo(t *testing.T, c client.Client, namespace string) []corev1.Pod {
	t.Helper()
	for _, doc := range strings.Split(samples.Bookinfo, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		obj.SetNamespace(namespace)
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s/%s: %v", obj.GetKind(), namespace, obj.GetName(), err)
		}
	}
	return bookinfoRolledOut(t, c, namespace, func(corev1.Pod) error { return nil })
}

// rolloutRestart restarts Bookinfo's Deployments in a namespace as `kubectl rollout restart
// deployment -n <namespace>` does (a new restartedAt annotation on the pod template), waits as
// `kubectl rollout status` does until every Deployment runs only pods of its new template, and returns
// those pods, sorted by name.
func rolloutRestart(t *testing.T, c client.Client, namespace string) []corev1.Pod {
	t.Helper()
	at := time.Now().Format(time.RFC3339Nano)
	for _, name := range samples.BookinfoDeployments {
		mergePatch(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}},
			fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAt, at))
	}
	return bookinfoRolledOut(t, c, namespace, func(p corev1.Pod) error {
		if p.Annotations[restartedAt] != at {
			return fmt.Errorf("pod %s is from before the restart", p.Name)
		}
		return nil
	})
}

// bookinfoRolledOut waits until every Deployment of Bookinfo in a namespace has rolled out its
// current template and the namespace has exactly one pod for each, none of them terminating, and each
// passing check; it returns the pods, sorted by name.
func bookinfoRolledOut(t *testing.T, c client.Client, namespace string, check func(corev1.Pod) error) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	var last error
	defer func() {
		if t.Failed() && last != nil {
			t.Logf("Bookinfo in %s: %v", namespace, last)
		}
	}()
	waitFor(t, "Bookinfo's Deployments in "+namespace+" to roll out", func(ctx context.Context) (err error) {
		defer func() { last = err }()
		for _, name := range samples.BookinfoDeployments {
			d := &appsv1.Deployment{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
				return err
			}
			if err := rolledOut(ctx, c, d); err != nil {
				return err
			}
		}
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		if len(list.Items) != len(samples.BookinfoDeployments) {
			return fmt.Errorf("%d pods (%v), want one for each of %v", len(list.Items), podNames(list.Items), samples.BookinfoDeployments)
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s is terminating", p.Name)
			}
			if err := check(p); err != nil {
				return err
			}
		}
		pods = list.Items
		return nil
	})
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods
}

// rolledOut says why a Deployment has not rolled out its current template yet, as `kubectl rollout
// status` does, or returns nil. A ReplicaSet's failure to create a pod (the injector refusing it,
// say) is in the message.
func rolledOut(ctx context.Context, c client.Client, d *appsv1.Deployment) error {
	s, want := d.Status, *d.Spec.Replicas
	if s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want {
		return nil
	}
	msg := fmt.Sprintf("Deployment %s: %d of %d updated, %d replicas, %d available", d.Name, s.UpdatedReplicas, want, s.Replicas, s.AvailableReplicas)
	var sets appsv1.ReplicaSetList
	if err := c.List(ctx, &sets, client.InNamespace(d.Namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err == nil {
		for _, rs := range sets.Items {
			for _, cond := range rs.Status.Conditions {
				msg += fmt.Sprintf("; ReplicaSet %s: %s", rs.Name, cond.Message)
			}
		}
	}
	return fmt.Errorf("%s", msg)
}

// assertSidecars checks what `istioctl proxy-status` shows a user, from what istiod's injector wrote:
// every pod was injected by revision rev with a proxy of the given image (proxyv2:<version>, the
// VERSION column; see assertInjected), and its proxy is set to talk to that revision's istiod in
// istio-system (the ISTIOD column).
func assertSidecars(t *testing.T, pods []corev1.Pod, rev, image string) {
	t.Helper()
	if len(pods) == 0 {
		t.Fatalf("no pods to check for sidecars of %s", rev)
	}
	service := "istiod-" + rev
	if rev == "default" {
		service = "istiod"
	}
	want := service + ".istio-system.svc:15012"
	for i := range pods {
		p := &pods[i]
		assertInjected(t, p, rev, image)
		if got, err := istiodAddress(p); err != nil || got != want {
			t.Errorf("pod %s/%s: the proxy talks to istiod at %q (%v), want %s", p.Namespace, p.Name, got, err, want)
		}
	}
}

// istiodAddress is the istiod address the injector gave a pod's istio-proxy container: its CA_ADDR,
// where the proxy gets its certificates (and, by default, its configuration) from.
func istiodAddress(pod *corev1.Pod) (string, error) {
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if c.Name != "istio-proxy" {
			continue
		}
		for _, e := range c.Env {
			if e.Name == "CA_ADDR" {
				return e.Value, nil
			}
		}
		return "", fmt.Errorf("istio-proxy has no CA_ADDR")
	}
	return "", fmt.Errorf("no istio-proxy container")
}

// assertSamePods checks that the pods running in a namespace are still the given ones: nothing
// restarted them. The documents' sidecars stay with the control plane that injected them until the
// user restarts the workloads.
func assertSamePods(t *testing.T, c client.Client, namespace string, before []corev1.Pod) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := c.List(t.Context(), &list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	uids := func(pods []corev1.Pod) []types.UID {
		var out []types.UID
		for _, p := range pods {
			out = append(out, p.UID)
		}
		slices.Sort(out)
		return out
	}
	if got, want := uids(list.Items), uids(before); !slices.Equal(got, want) {
		t.Errorf("the pods of %s changed without a restart: now %v, before %v", namespace, podNames(list.Items), podNames(before))
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return list.Items
}

// podNames are the names of pods.
func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// rows waits until `kubectl get <resource>` prints exactly the wanted rows, in any order (the columns
// of priority 0 without AGE; a wanted cell "*" matches any value).
func rows(t *testing.T, resource string, want ...[]string) {
	t.Helper()
	var wantText []string
	for _, r := range want {
		wantText = append(wantText, strings.Join(r, " "))
	}
	waitSaying(t, "kubectl get "+resource+" to print "+strings.Join(wantText, " | "), func(context.Context) error {
		got := table(t, resource)
		var gotText []string
		for _, r := range got {
			gotText = append(gotText, strings.Join(r, " "))
		}
		if len(got) != len(want) {
			return fmt.Errorf("rows %q, want %q", gotText, wantText)
		}
		for _, w := range want {
			r := row(got, w[0])
			if len(r) != len(w) {
				return fmt.Errorf("rows %q, want %q", gotText, wantText)
			}
			for i := range w {
				if w[i] != "*" && w[i] != r[i] {
					return fmt.Errorf("rows %q, want %q", gotText, wantText)
				}
			}
		}
		return nil
	})
}

// istiodPods waits until a namespace runs exactly one Ready istiod pod for each of the revisions,
// as `oc get pods -n istio-system` shows them (istiod-<revision>-<hash>-<id>, 1/1 Running), and no
// other.
func istiodPods(t *testing.T, c client.Client, namespace string, revisions ...string) {
	t.Helper()
	waitSaying(t, fmt.Sprintf("one Ready istiod pod for each of %v in %s", revisions, namespace), func(ctx context.Context) error {
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{"app": "istiod"}); err != nil {
			return err
		}
		var got []string
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning || !podReady(&p) || p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s: phase %s, ready %v, terminating %v", p.Name, p.Status.Phase, podReady(&p), p.DeletionTimestamp != nil)
			}
			rev := p.Labels["istio.io/rev"]
			got = append(got, rev)
			// The revision named default runs the Deployment istiod; every other revision
			// istiod-<revision>.
			if prefix := "istiod-" + rev + "-"; rev != "default" && !strings.HasPrefix(p.Name, prefix) {
				return fmt.Errorf("pod %s of revision %s is not named %s…", p.Name, rev, prefix)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(revisions))
		if !slices.Equal(got, want) {
			return fmt.Errorf("istiod pods of revisions %v (%v), want %v", got, podNames(list.Items), want)
		}
		return nil
	})
}

// applyExample applies one of the documents' manifests (config/crd/testdata/ossm-docs), as `oc apply
// -f` does.
func applyExample(t *testing.T, c client.Client, name string) {
	t.Helper()
	data, err := os.ReadFile(docExample(t, name))
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, c, string(data))
}

// waitSaying is waitFor that, when the wait fails, also logs the last error cond returned (waitFor
// reports only the deadline when it passes while cond runs).
func waitSaying(t *testing.T, what string, cond func(ctx context.Context) error) {
	t.Helper()
	var last error
	done := false
	defer func() {
		if !done && last != nil {
			t.Logf("last error waiting for %s: %v", what, last)
		}
	}()
	waitFor(t, what, func(ctx context.Context) error {
		last = cond(ctx)
		return last
	})
	done = true
}
