//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// The tests in this file run against a real istiod: the box plays every istiod pod with a
// pilot-discovery process (docs/istiod-in-the-box.md), built by `make istiod-bins` from the 1.25
// snapshot, which the played 1.24 versions use. Pods are injected by Istio's own webhook, Istio
// config is validated by istiod, and istiod patches its webhooks as in production.

// box is the cluster TestMain starts, for the tests that look at the processes playing istiod.
var box *testcluster.Cluster

// TestInjectionByIstiod: in a namespace labelled istio-injection=enabled, a Deployment's pods get
// the istio-proxy container, the sidecar.istio.io/status annotation, the istio.io/rev annotation and
// bosun's bosun.dev/proxy-version, written by istiod's injector from the installed version's charts.
func TestInjectionByIstiod(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "default", "istio-system", v1244)

	appNamespace(t, c, "inject-demo", map[string]string{"istio-injection": "enabled"})
	pod := injectedPod(t, c, "inject-demo", "web")
	assertInjected(t, pod, "default", "proxyv2:1.24.4")
	if got := pod.Annotations["bosun.dev/proxy-version"]; got != v1244 {
		t.Errorf("pod %s/%s: bosun.dev/proxy-version %q, want %s: the injector did not write the proxy's version", pod.Namespace, pod.Name, got, v1244)
	}
}

// TestIstiodValidatesIstioConfig: istiod's validating webhook refuses an invalid VirtualService
// with Istio's own message, and accepts a valid one.
func TestIstiodValidatesIstioConfig(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "default", "istio-system", v1244)
	ensureNamespace(t, c, "validate-demo")

	// Bound to the mesh gateway, a wildcard host is refused by Istio's validation only: the CRD's
	// schema accepts it.
	invalid := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: everything
  namespace: validate-demo
spec:
  hosts: ["*"]
  http:
  - route:
    - destination:
        host: reviews`
	const istioMessage = "wildcard host * is not allowed for virtual services bound to the mesh gateway"
	waitFor(t, "istiod to refuse an invalid VirtualService", func(ctx context.Context) error {
		err := applyDryRun(ctx, c, invalid)
		if err == nil {
			return errors.New("accepted")
		}
		if !strings.Contains(err.Error(), `admission webhook "validation.istio.io" denied the request`) || !strings.Contains(err.Error(), istioMessage) {
			return fmt.Errorf("refused without Istio's message: %w", err)
		}
		return nil
	})
	valid := strings.Replace(invalid, `hosts: ["*"]`, `hosts: ["reviews"]`, 1)
	if err := applyErr(t.Context(), c, valid); err != nil {
		t.Errorf("a valid VirtualService was refused: %v", err)
	}
}

// applyDryRun applies one object as a server-side dry run and returns the API server's answer.
func applyDryRun(ctx context.Context, c client.Client, manifest string) error {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kubectl"), client.ForceOwnership, client.DryRunAll)
}

// webhookQuietPeriod is how long bosun must leave istiod's webhook fields alone once istiod has set
// them (docs/architecture.md#lesson-istiod-webhook-fields: the fights happened within seconds). bosun reconciles on watch
// events and has no periodic resync of its own (controller-runtime's default, 10 hours), so a write of
// istiod's that bosun would undo is answered within seconds, and each answer draws another: half a
// minute shows a fight many times over.
const webhookQuietPeriod = 30 * time.Second

// TestIstiodOwnsItsWebhookFields: the real istiod patches caBundle into its injector and validator
// and flips the validator's failurePolicy to Fail; a bosun reconcile forced by a spec change that
// re-renders the injector keeps istiod's values, and for the following webhookQuietPeriod bosun writes
// nothing to either webhook configuration.
func TestIstiodOwnsItsWebhookFields(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "default", "istio-system", v1244)
	owned := client.MatchingLabels{"bosun.dev/owner": "IstioRevision.default"}

	var mwcs []admissionregistrationv1.MutatingWebhookConfiguration
	var vwcs []admissionregistrationv1.ValidatingWebhookConfiguration
	waitFor(t, "istiod to patch caBundle into its webhooks and flip the validators to Fail", func(ctx context.Context) error {
		var err error
		if mwcs, vwcs, err = istiodWebhooks(ctx, c, owned); err != nil {
			return err
		}
		return patchedByIstiod(mwcs, vwcs)
	})
	cas := caBundles(mwcs, vwcs)

	// A spec change that changes the injector bosun renders: bosun applies it, and istiod's fields
	// stay as istiod set them.
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		`{"spec":{"values":{"sidecarInjectorWebhook":{"reinvocationPolicy":"IfNeeded"}}}}`)
	istioHealthy(t, c, "default")
	waitFor(t, "bosun to apply the changed injector", func(ctx context.Context) error {
		var err error
		if mwcs, vwcs, err = istiodWebhooks(ctx, c, owned); err != nil {
			return err
		}
		for _, m := range mwcs {
			for _, w := range m.Webhooks {
				if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
					return fmt.Errorf("%s: webhook %s: reinvocationPolicy %v", m.Name, w.Name, ptr.Deref(w.ReinvocationPolicy, ""))
				}
			}
		}
		return nil
	})
	if err := patchedByIstiod(mwcs, vwcs); err != nil {
		t.Errorf("after bosun's reconcile: %v", err)
	}
	if got := caBundles(mwcs, vwcs); !maps.Equal(got, cas) {
		t.Errorf("caBundles changed across bosun's reconcile")
	}

	// Watching every one of them for webhookQuietPeriod: no write of bosun's.
	if writes := bosunWritesDuring(t, mwcs, vwcs, webhookQuietPeriod); len(writes) > 0 {
		t.Errorf("bosun wrote to istiod's webhook configurations within %s of istiod's patches:\n%s", webhookQuietPeriod, strings.Join(writes, "\n"))
	}
	if mwcs, vwcs, err := istiodWebhooks(t.Context(), c, owned); err != nil {
		t.Error(err)
	} else if err := patchedByIstiod(mwcs, vwcs); err != nil {
		t.Errorf("after %s: %v", webhookQuietPeriod, err)
	} else if got := caBundles(mwcs, vwcs); !maps.Equal(got, cas) {
		t.Errorf("caBundles changed within %s", webhookQuietPeriod)
	}
}

// TestIstiodPodsArePlayed: each istiod pod has a pilot-discovery process; deleting the pod stops it
// and the replacement pod gets a new one; a rollout restart replaces the process too.
func TestIstiodPodsArePlayed(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	installIstio(t, c, "played", "istio-played", v1244)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod, pid := playedIstiod(t, cs, "istio-played")

	if err := cs.CoreV1().Pods("istio-played").Delete(t.Context(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	processGone(t, pid)
	pod, pid = playedIstiod(t, cs, "istio-played")

	restart := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339Nano))
	mergePatch(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-played", Name: "istiod-played"}}, restart)
	processGone(t, pid)
	if next, _ := playedIstiod(t, cs, "istio-played"); next == pod {
		t.Errorf("the rollout kept pod %s", pod)
	}
	istioHealthy(t, c, "played")
}

// playedIstiod waits until the namespace has exactly one live istiod pod, Ready and played by a
// process, and returns the pod's name and the process id.
func playedIstiod(t *testing.T, cs kubernetes.Interface, namespace string) (string, int) {
	t.Helper()
	var name string
	var pid int
	waitFor(t, "one Ready istiod pod played by a process in "+namespace, func(ctx context.Context) error {
		pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d istiod pods", len(pods.Items))
		}
		p := pods.Items[0]
		if !podReady(&p) {
			return fmt.Errorf("pod %s is not Ready", p.Name)
		}
		var ok bool
		if pid, ok = box.PlayedProcesses()[namespace+"/"+p.Name]; !ok {
			return fmt.Errorf("pod %s is not played; played: %v", p.Name, box.PlayedProcesses())
		}
		name = p.Name
		return nil
	})
	return name, pid
}

// processGone waits until no process has the id pid.
func processGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d to exit", pid), func(context.Context) error {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill(%d, 0) = %v", pid, err)
		}
		return nil
	})
}

// injectedPod creates a one-replica Deployment (its pods carry no injection label of their own) and
// returns its pod once it exists. Creating the pod passes through the injector; if the webhook
// cannot be reached the ReplicaSet cannot create it and the wait fails.
func injectedPod(t *testing.T, c client.Client, namespace, name string) *corev1.Pod {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}},
			},
		},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), d) })
	var pod *corev1.Pod
	var last error
	defer func() {
		if pod == nil {
			t.Logf("no pod of Deployment %s/%s; last: %v", namespace, name, last)
		}
	}()
	waitFor(t, "a pod of Deployment "+namespace+"/"+name, func(ctx context.Context) (err error) {
		defer func() { last = err }()
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels(labels)); err != nil {
			return err
		}
		if len(pods.Items) == 0 {
			rs := &appsv1.ReplicaSetList{}
			_ = c.List(ctx, rs, client.InNamespace(namespace), client.MatchingLabels(labels))
			for _, r := range rs.Items {
				for _, cond := range r.Status.Conditions {
					return fmt.Errorf("no pod: ReplicaSet %s: %s", r.Name, cond.Message)
				}
			}
			return errors.New("no pod yet")
		}
		pod = &pods.Items[0]
		return nil
	})
	return pod
}

// assertInjected checks that istiod injected pod from revision rev, with a proxy image ending in
// image.
func assertInjected(t *testing.T, pod *corev1.Pod, rev, image string) {
	t.Helper()
	var proxy *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "istio-proxy" {
			proxy = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		// Istio 1.24 and later run the proxy as a native sidecar when the cluster supports it.
		if pod.Spec.InitContainers[i].Name == "istio-proxy" {
			proxy = &pod.Spec.InitContainers[i]
		}
	}
	if proxy == nil {
		t.Fatalf("pod %s/%s has no istio-proxy container: containers %v, init containers %v", pod.Namespace, pod.Name, names(pod.Spec.Containers), names(pod.Spec.InitContainers))
	}
	if !strings.HasSuffix(proxy.Image, "/"+image) {
		t.Errorf("pod %s/%s: istio-proxy image %q, want one ending in /%s", pod.Namespace, pod.Name, proxy.Image, image)
	}
	if got := pod.Annotations["istio.io/rev"]; got != rev {
		t.Errorf("pod %s/%s: istio.io/rev annotation %q, want %q", pod.Namespace, pod.Name, got, rev)
	}
	var status struct {
		Containers     []string `json:"containers"`
		InitContainers []string `json:"initContainers"`
		Revision       string   `json:"revision"`
	}
	raw := pod.Annotations["sidecar.istio.io/status"]
	if err := json.Unmarshal([]byte(raw), &status); err != nil {
		t.Fatalf("pod %s/%s: sidecar.istio.io/status %q: %v", pod.Namespace, pod.Name, raw, err)
	}
	if status.Revision != rev || !slices.Contains(append(status.Containers, status.InitContainers...), "istio-proxy") {
		t.Errorf("pod %s/%s: sidecar.istio.io/status %s, want revision %q and istio-proxy", pod.Namespace, pod.Name, raw, rev)
	}
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// istiodWebhooks returns the injector and validator configurations bosun applied for a revision (with
// the default revision, the base chart's validator too).
func istiodWebhooks(ctx context.Context, c client.Client, owned client.MatchingLabels) ([]admissionregistrationv1.MutatingWebhookConfiguration, []admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	mwcs := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	vwcs := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := c.List(ctx, mwcs, owned); err != nil {
		return nil, nil, err
	}
	if err := c.List(ctx, vwcs, owned); err != nil {
		return nil, nil, err
	}
	if len(mwcs.Items) == 0 || len(vwcs.Items) == 0 {
		return nil, nil, fmt.Errorf("%d injector and %d validator configurations", len(mwcs.Items), len(vwcs.Items))
	}
	return mwcs.Items, vwcs.Items, nil
}

// patchedByIstiod returns nil if every webhook carries a caBundle and the validators fail closed,
// which only istiod writes: bosun sends neither.
func patchedByIstiod(mwcs []admissionregistrationv1.MutatingWebhookConfiguration, vwcs []admissionregistrationv1.ValidatingWebhookConfiguration) error {
	for _, m := range mwcs {
		for _, w := range m.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return fmt.Errorf("%s: webhook %s has no caBundle", m.Name, w.Name)
			}
		}
	}
	for _, v := range vwcs {
		for _, w := range v.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return fmt.Errorf("%s: webhook %s has no caBundle", v.Name, w.Name)
			}
			if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
				return fmt.Errorf("%s: webhook %s: failurePolicy %v, want Fail", v.Name, w.Name, ptr.Deref(w.FailurePolicy, ""))
			}
		}
	}
	return nil
}

// caBundles lists the caBundle of every webhook, by configuration and webhook name.
func caBundles(mwcs []admissionregistrationv1.MutatingWebhookConfiguration, vwcs []admissionregistrationv1.ValidatingWebhookConfiguration) map[string]string {
	out := map[string]string{}
	for _, m := range mwcs {
		for _, w := range m.Webhooks {
			out[m.Name+"/"+w.Name] = string(w.ClientConfig.CABundle)
		}
	}
	for _, v := range vwcs {
		for _, w := range v.Webhooks {
			out[v.Name+"/"+w.Name] = string(w.ClientConfig.CABundle)
		}
	}
	return out
}

// bosunWritesDuring watches the configurations for d and describes every change that bosun's field
// manager made to them: a write of bosun's moves its managedFields entry (fields or time).
func bosunWritesDuring(t *testing.T, mwcs []admissionregistrationv1.MutatingWebhookConfiguration, vwcs []admissionregistrationv1.ValidatingWebhookConfiguration, d time.Duration) []string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	events := make(chan watch.Event)
	last := map[string]string{}
	start := func(kind string, w watch.Interface, err error) {
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						ev = watch.Event{Type: "Closed", Object: &metav1.Status{Message: kind}}
					}
					select {
					case events <- ev:
					case <-ctx.Done():
						return
					}
					if !ok {
						return
					}
				}
			}
		}()
	}
	for _, m := range mwcs {
		last[m.Name] = bosunEntry(m.ManagedFields)
		w, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + m.Name, ResourceVersion: m.ResourceVersion})
		start("MutatingWebhookConfiguration "+m.Name, w, err)
	}
	for _, v := range vwcs {
		last[v.Name] = bosunEntry(v.ManagedFields)
		w, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + v.Name, ResourceVersion: v.ResourceVersion})
		start("ValidatingWebhookConfiguration "+v.Name, w, err)
	}
	var writes []string
	for {
		select {
		case <-ctx.Done():
			return writes
		case ev := <-events:
			if ev.Type == "Closed" {
				t.Fatalf("the watch of %s ended before %s", ev.Object.(*metav1.Status).Message, d)
			}
			obj, ok := ev.Object.(metav1.Object)
			if !ok {
				continue
			}
			if entry := bosunEntry(obj.GetManagedFields()); entry != last[obj.GetName()] {
				writes = append(writes, fmt.Sprintf("%s %s at resourceVersion %s: bosun's entry %s", ev.Type, obj.GetName(), obj.GetResourceVersion(), entry))
				last[obj.GetName()] = entry
			}
		}
	}
}

// bosunEntry is bosun's managedFields entry (operation, time and fields) as text.
func bosunEntry(entries []metav1.ManagedFieldsEntry) string {
	var out []string
	for _, e := range entries {
		if e.Manager == apply.FieldManager {
			raw := ""
			if e.FieldsV1 != nil {
				raw = string(e.FieldsV1.Raw)
			}
			out = append(out, fmt.Sprintf("%s %s %s", e.Operation, e.Time, raw))
		}
	}
	return strings.Join(out, "; ")
}

// podReady reports whether a pod's Ready condition is True.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
