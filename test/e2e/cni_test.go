//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestIstioCNIMovesByRecreation: spec.namespace of an IstioCNI cannot change, as in OpenShift Service
// Mesh 3 (its update procedure, chapter 4, changes spec.version only; TestInPlaceInstallAndUpdate
// follows it); the CNI moves by being deleted and created again in another namespace, which leaves
// nothing in the old one.
func TestIstioCNIMovesByRecreation(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-cni")
	applyExample(t, c, "03-istiocni.yaml")
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.IstioCNI{}) })
	agentHealthy(t, c, &v1.IstioCNI{})
	daemonSetImage(t, c, "istio-cni", "istio-cni-node", ":1.24.3")

	err := c.Patch(t.Context(), &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"namespace":"istio-cni-2"}}`)))
	if err == nil || !strings.Contains(err.Error(), "spec.namespace is immutable") {
		t.Errorf("changing spec.namespace: %v, want the API server's refusal saying it is immutable", err)
	}
	deleteNodeAgent(t, c, &v1.IstioCNI{})
	ensureNamespace(t, c, "istio-cni-2")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  namespace: istio-cni-2
  version: v1.24.4`)
	agentHealthy(t, c, &v1.IstioCNI{})
	daemonSetImage(t, c, "istio-cni-2", "istio-cni-node", ":1.24.4")
	waitFor(t, "nothing of the IstioCNI to be left in istio-cni", func(ctx context.Context) error {
		return leftIn(ctx, t, c, "istio-cni", "IstioCNI.default")
	})
}

// TestNodeAgentVersionSkew: a node agent runs its control plane's minor version or one behind. An
// IstioCNI on 1.24 beside a control plane on 1.27 that needs it is refused with a message naming the
// revision and the versions to set, a Warning event and no retries; nothing is applied. The revision
// (and its Istio) says the same in DependenciesHealthy, IstioCNIVersionSkew. Setting a version that
// fits installs it and the control plane becomes healthy. The same holds for a ZTunnel.
func TestNodeAgentVersionSkew(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-skew")
	ensureNamespace(t, c, "istio-cni")
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: skew
spec:
  namespace: istio-skew
  version: `+v127+`
  profile: ambient
  values:
    pilot:
      cni:
        enabled: true`)
	t.Cleanup(func() { deleteIstio(t, c, "skew") })
	// The version rule is checked against the control planes that exist: wait for the revision, or a
	// node agent created in the same breath is installed before there is anything to be skewed from.
	waitFor(t, "revision skew to exist", func(ctx context.Context) error {
		return c.Get(ctx, client.ObjectKey{Name: "skew"}, &v1.IstioRevision{})
	})
	for _, agent := range []struct {
		obj        client.Object
		manifest   string
		reason     string
		controller string
	}{
		{&v1.IstioCNI{}, "kind: IstioCNI\nmetadata:\n  name: default\nspec:\n  namespace: istio-cni\n  version: v1.24.3", v1.ReasonIstioCNIVersionSkew, "istiocni"},
		{&v1.ZTunnel{}, "kind: ZTunnel\nmetadata:\n  name: default\nspec:\n  namespace: ztunnel\n  version: v1.24.3", v1.ReasonZTunnelVersionSkew, "ztunnel"},
	} {
		kind := strings.TrimPrefix(strings.SplitN(agent.manifest, "\n", 2)[0], "kind: ")
		outer := t
		t.Run(kind, func(t *testing.T) {
			applyYAML(t, c, "apiVersion: sailoperator.io/v1\n"+agent.manifest)
			// Both agents stay until the end, when the control plane needs them to be healthy.
			outer.Cleanup(func() { deleteNodeAgent(outer, c, agent.obj) })
			msg := refusedWith(t, c, agent.obj, v1.ReasonVersionSkew)
			for _, want := range []string{"1.24", "1.27", "IstioRevision skew", "v1.27-latest or v1.26-latest"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal %q does not mention %q", msg, want)
				}
			}
			warningOn(t, c, kind, "default")
			if left := ownedBy(t, c, kind+".default"); len(left) > 0 {
				t.Errorf("objects were applied for a refused %s: %v", kind, left)
			}
			noRetryStorm(t, agent.controller)
			// The control plane's side: the revision and the Istio, which copies its conditions.
			waitFor(t, "the control plane to report the skew", func(ctx context.Context) error {
				rev, istio := &v1.IstioRevision{}, &v1.Istio{}
				if err := c.Get(ctx, client.ObjectKey{Name: "skew"}, rev); err != nil {
					return err
				}
				if err := c.Get(ctx, client.ObjectKey{Name: "skew"}, istio); err != nil {
					return err
				}
				for what, conds := range map[string][]metav1.Condition{"IstioRevision": rev.Status.Conditions, "Istio": istio.Status.Conditions} {
					cond, err := condition(conds, v1.ConditionDependenciesHealthy)
					if err != nil || cond.Reason != agent.reason || !strings.Contains(cond.Message, "v1.27-latest") {
						return fmt.Errorf("%s DependenciesHealthy %+v %v", what, cond, err)
					}
				}
				return nil
			})
			mergePatch(t, c, agent.obj.DeepCopyObject().(client.Object), `{"spec":{"version":"v1.27-latest"}}`)
			agentHealthy(t, c, agent.obj)
		})
	}
	istioHealthy(t, c, "skew")
}

// agentHealthy waits until the IstioCNI or ZTunnel default (obj gives the kind) has reconciled its
// latest generation and is Healthy.
func agentHealthy(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%T default to be Healthy", obj), func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, obj); err != nil {
			return err
		}
		gen, observed, state, conds := agentStatus(obj)
		if observed != gen || state != v1.StateHealthy {
			return fmt.Errorf("generation %d, observed %d, state %q, conditions %+v", gen, observed, state, conds)
		}
		return nil
	})
}

// agentStatus reads the status of an IstioCNI or a ZTunnel.
func agentStatus(obj client.Object) (generation, observed int64, state string, conditions []metav1.Condition) {
	switch o := obj.(type) {
	case *v1.IstioCNI:
		return o.Generation, o.Status.ObservedGeneration, o.Status.State, o.Status.Conditions
	case *v1.ZTunnel:
		return o.Generation, o.Status.ObservedGeneration, o.Status.State, o.Status.Conditions
	}
	panic(fmt.Sprintf("not a node agent: %T", obj))
}

// refusedWith waits until the node agent default's Reconciled condition is False with reason, and
// returns its message.
func refusedWith(t *testing.T, c client.Client, obj client.Object, reason string) string {
	t.Helper()
	var msg string
	waitFor(t, "a refusal "+reason, func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, obj); err != nil {
			return err
		}
		_, _, _, conds := agentStatus(obj)
		cond, err := condition(conds, v1.ConditionReconciled)
		if err != nil || cond.Status != metav1.ConditionFalse || cond.Reason != reason {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		msg = cond.Message
		return nil
	})
	return msg
}

// watchAgentReady records the Ready condition of the node agent default (list gives the kind) from
// now on; the returned func reports whether it was ever False with reason.
func watchAgentReady(t *testing.T, list client.ObjectList, reason string) func() bool {
	t.Helper()
	w, err := newWatchClient(t).Watch(t.Context(), list, client.MatchingFields{"metadata.name": "default"})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			if _, ok := obj.(*v1.IstioCNI); !ok {
				if _, ok := obj.(*v1.ZTunnel); !ok {
					continue
				}
			}
			_, _, _, conds := agentStatus(obj)
			if cond, err := condition(conds, v1.ConditionReady); err == nil && cond.Status == metav1.ConditionFalse && cond.Reason == reason {
				close(seen)
				return
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() bool {
		select {
		case <-seen:
			return true
		default:
			return false
		}
	}
}

// deleteNodeAgent deletes the IstioCNI or ZTunnel default and waits until it is gone (its finalizer
// removes what bosun applied).
func deleteNodeAgent(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	obj = obj.DeepCopyObject().(client.Object)
	obj.SetName("default")
	if err := c.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting %T: %v", obj, err)
		return
	}
	waitFor(t, fmt.Sprintf("%T default to be gone", obj), func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, obj); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// daemonSetImage reads a DaemonSet and checks that its first container's image ends with suffix.
func daemonSetImage(t *testing.T, c client.Client, namespace, name, suffix string) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, ds); err != nil {
		t.Fatalf("DaemonSet %s/%s: %v", namespace, name, err)
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; !strings.Contains(img, suffix) {
		t.Errorf("DaemonSet %s/%s image %s, want one with %s", namespace, name, img, suffix)
	}
	return ds
}

// podsRun checks that a namespace has pods and that each runs an image ending with suffix.
func podsRun(ctx context.Context, c client.Client, namespace, suffix string) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		return err
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("no pods in %s", namespace)
	}
	for _, p := range pods.Items {
		if img := p.Spec.Containers[0].Image; !strings.Contains(img, suffix) || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			return fmt.Errorf("pod %s: image %s, phase %s", p.Name, img, p.Status.Phase)
		}
	}
	return nil
}

// leftIn lists what is left in a namespace of an owner's objects, and of pods.
func leftIn(ctx context.Context, t *testing.T, c client.Client, namespace, owner string) error {
	var left []string
	for k, obj := range liveObjects(t, c, owner) {
		if obj.GetNamespace() == namespace {
			left = append(left, k)
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		return err
	}
	for _, p := range pods.Items {
		left = append(left, "Pod "+p.Name)
	}
	if len(left) > 0 {
		return fmt.Errorf("still in %s: %v", namespace, left)
	}
	return nil
}

// ownedBy lists the objects, of any kind bosun applies, labelled as belonging to owner.
func ownedBy(t *testing.T, c client.Client, owner string) []string {
	t.Helper()
	var out []string
	for k := range liveObjects(t, c, owner) {
		out = append(out, k)
	}
	return out
}

// TestNodeAgentBadInput: an IstioCNI or ZTunnel (either API version) not named default is refused by
// the API server, saying why; an IstioCNI whose namespace does not exist and a ZTunnel whose targetRef
// names nothing end in a condition that says what to do, a Warning event, nothing applied and no
// retries, and the IstioCNI is installed as soon as its namespace is created.
func TestNodeAgentBadInput(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	for _, tc := range []struct{ manifest, want string }{
		{"apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: other\nspec:\n  version: v1.24.3", "an IstioCNI must be named 'default'"},
		{"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: other\nspec:\n  version: v1.24.3", "a ZTunnel must be named 'default'"},
		{"apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: other\nspec:\n  version: v1.24.3", "a ZTunnel must be named 'default'"},
	} {
		err := applyErr(t.Context(), c, tc.manifest)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("applying %q: %v, want a refusal saying %q", tc.manifest, err, tc.want)
		}
	}

	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  namespace: istio-cni-late
  version: v1.24.3`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.IstioCNI{}) })
	msg := refusedWith(t, c, &v1.IstioCNI{}, v1.ReasonNamespaceNotFound)
	if !strings.Contains(msg, "kubectl create namespace istio-cni-late") {
		t.Errorf("the refusal %q does not say how to create the namespace", msg)
	}
	warningOn(t, c, "IstioCNI", "default")

	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  namespace: default
  version: v1.24.3
  targetRef:
    kind: Istio
    name: missing`)
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	msg = refusedWith(t, c, &v1.ZTunnel{}, v1.ReasonRefNotFound)
	if !strings.Contains(msg, "Istio missing") {
		t.Errorf("the refusal %q does not name the missing Istio", msg)
	}
	warningOn(t, c, "ZTunnel", "default")
	for _, owner := range []string{"IstioCNI.default", "ZTunnel.default"} {
		if left := ownedBy(t, c, owner); len(left) > 0 {
			t.Errorf("objects were applied for a refused %s: %v", owner, left)
		}
	}
	noRetryStorm(t, "istiocni")
	noRetryStorm(t, "ztunnel")

	ensureNamespace(t, c, "istio-cni-late")
	agentHealthy(t, c, &v1.IstioCNI{})
}

// TestConvergedNodeAgentsWriteNothing: once an IstioCNI and a ZTunnel are Ready, reconciles caused by
// events that change nothing bosun manages (a user's label on an object bosun applied for each) render
// nothing and make no API write (DESIGN decision 4).
func TestConvergedNodeAgentsWriteNothing(t *testing.T) {
	c := newClient(t)
	startOperator(t, v1244)
	ensureNamespace(t, c, "istio-cni")
	ensureNamespace(t, c, "ztunnel")
	applyYAML(t, c, "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default\nspec:\n  namespace: istio-cni\n  version: v1.24.3\n---\n"+
		"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  namespace: ztunnel\n  version: v1.24.3")
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.IstioCNI{}) })
	t.Cleanup(func() { deleteNodeAgent(t, c, &v1.ZTunnel{}) })
	agentHealthy(t, c, &v1.IstioCNI{})
	agentHealthy(t, c, &v1.ZTunnel{})
	writes := waitQuiet(t)
	before := series(t, "bosun_api_writes_total")
	renders := counter(t, "bosun_renders_total", nil)
	reconciles := map[string]float64{}
	for _, ctl := range []string{"istiocni", "ztunnel"} {
		reconciles[ctl] = counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": ctl})
	}
	mergePatch(t, c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-cni", Name: "istio-cni-config"}}, `{"metadata":{"labels":{"team":"platform"}}}`)
	mergePatch(t, c, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ztunnel", Name: "ztunnel"}}, `{"metadata":{"labels":{"team":"platform"}}}`)
	waitFor(t, "both controllers to reconcile", func(context.Context) error {
		for ctl, n := range reconciles {
			if counter(t, "controller_runtime_reconcile_total", map[string]string{"controller": ctl}) <= n {
				return fmt.Errorf("%s has not reconciled", ctl)
			}
		}
		return nil
	})
	if got := counter(t, "bosun_api_writes_total", nil) - writes; got != 0 {
		t.Errorf("no-op reconciles sent %v API writes, want 0; writes before %v, after %v", got, before, series(t, "bosun_api_writes_total"))
	}
	if got := counter(t, "bosun_renders_total", nil) - renders; got != 0 {
		t.Errorf("no-op reconciles rendered %v charts, want 0", got)
	}
}
