//go:build integration

package move_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// gatewayPodLabels are the labels istiod gives the pods of what it deploys for the Gateway waypoint.
var gatewayPodLabels = map[string]string{"app": "waypoint", "sidecar.istio.io/inject": "false",
	inuse.LabelGatewayName: "waypoint", inuse.LabelGatewayManaged: "istio.io-gateway-controller"}

// gatewayCRD installs the Gateway API's Gateway kind, as far as the move reads it (its metadata), and
// waits until the API server serves it.
func gatewayCRD(t *testing.T, c client.Client) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gateways.gateway.networking.k8s.io", "annotations": map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}},
		"spec": map[string]any{
			"group": "gateway.networking.k8s.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "gateways", "singular": "gateway", "kind": "Gateway", "listKind": "GatewayList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if err := c.Create(t.Context(), crd); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	operatortest.WaitFor(t, "the Gateway kind served", func(ctx context.Context) error {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(move.GatewayKind.GroupVersion().WithKind("GatewayList"))
		return c.List(ctx, list)
	})
}

// gatewayRevision is the istio.io/rev label of a Gateway.
func gatewayRevision(ctx context.Context, c client.Client, namespace, name string) (string, error) {
	gw := &unstructured.Unstructured{}
	gw.SetGroupVersionKind(move.GatewayKind)
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, gw); err != nil {
		return "", err
	}
	return gw.GetLabels()["istio.io/rev"], nil
}

// pinnedWaypoint makes, for an Istio named name on its old revision old (rolled out), a namespace
// name-app labelled for it with a Deployment web injected by old, and a waypoint (a Gateway pinned to
// old by its istio.io/rev label) with the Deployment istiod of old deployed for it, rolled out: its pods
// opt out of injection, as istiod renders their proxy itself. It returns the Istio and that Deployment.
func pinnedWaypoint(t *testing.T, c client.Client, name, old string) (*v1.Istio, *appsv1.Deployment) {
	t.Helper()
	gatewayCRD(t, c)
	ns := name + "-app"
	operatortest.Namespace(t, c, name+"-system", nil)
	istio := newIstio(name)
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, name+"-system", "istiod-"+old)
	operatortest.Namespace(t, c, ns, map[string]string{"istio.io/rev": old})
	app(t, c, ns, "web", old, v125)
	waypoint := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": ns, "name": "waypoint", "labels": map[string]any{"istio.io/rev": old}},
		"spec":     map[string]any{"gatewayClassName": "istio-waypoint"},
	}}
	waypoint.SetGroupVersionKind(move.GatewayKind)
	operatortest.Create(t, c, waypoint)
	app(t, c, ns, "waypoint", old, v125)
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "waypoint"}}
	operatortest.Update(t, c, deployment, func(d *appsv1.Deployment) {
		d.Labels = map[string]string{inuse.LabelGatewayName: "waypoint", inuse.LabelGatewayManaged: "istio.io-gateway-controller"}
		d.Spec.Template.Annotations = map[string]string{"istio.io/rev": old}
	})
	operatortest.RollOut(t, c, ns, "waypoint")
	operatortest.Update(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "waypoint-1-a"}}, func(p *corev1.Pod) {
		p.Labels = gatewayPodLabels
	})
	return istio, deployment
}

// TestGatewayFollowsTheRevision: a RevisionBased move relabels a Gateway pinned to the old revision
// (a waypoint) to the new one, never restarts the Deployment istiod deployed for it, restarts the
// namespace's other workloads first, and counts the namespace as moved only once istiod of the new
// revision has rendered that Deployment again and it rolled out.
func TestGatewayFollowsTheRevision(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "gw-v1-25-0-snapshot-be4b14ad", "gw-v1-27-0-snapshot-b9159ca3"
	istio, deployment := pinnedWaypoint(t, c, "gw", old)
	rendered := generation(t, c, "gw-app", "waypoint")

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "gw-system", "istiod-"+next)
	operatortest.WaitFor(t, "the waypoint relabelled to "+next, func(ctx context.Context) error {
		if rev, err := gatewayRevision(ctx, c, "gw-app", "waypoint"); err != nil || rev != next {
			return fmt.Errorf("istio.io/rev=%q (%v)", rev, err)
		}
		return nil
	})
	restartedFor(t, c, "gw-app", "web", next+"@")
	rollOut(t, c, "gw-app", "web", next, v127)
	workloadsStatus(t, c, "gw", v1.ReasonMoving, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.InProgress != "gw-app/Deployment/waypoint" || st.NamespacesDone != 0 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	if got := generation(t, c, "gw-app", "waypoint"); got != rendered {
		t.Fatalf("bosun restarted the waypoint's Deployment, which is istiod's (generation %d, then %d)", rendered, got)
	}

	// istiod of the new revision renders the Deployment again, and it rolls out.
	operatortest.Update(t, c, deployment, func(d *appsv1.Deployment) { d.Spec.Template.Annotations = map[string]string{"istio.io/rev": next} })
	operatortest.Delete(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "gw-app", Name: "waypoint-1-a"}})
	pod(t, c, "gw-app", "waypoint-2-a", next, v127, gatewayPodLabels, nil)
	operatortest.RollOut(t, c, "gw-app", "waypoint")
	workloadsStatus(t, c, "gw", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if cond.Status != metav1.ConditionTrue || st.NamespacesDone != 1 || st.PodsLeft != 0 {
			return fmt.Errorf("%s %s; %+v", cond.Status, cond.Message, st)
		}
		return nil
	})
	d := &appsv1.Deployment{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "gw-app", Name: "waypoint"}, d); err != nil {
		t.Fatal(err)
	}
	if _, restarted := d.Spec.Template.Annotations[move.AnnotationRestartedFor]; restarted {
		t.Errorf("the waypoint's Deployment carries %s: bosun restarted it", move.AnnotationRestartedFor)
	}
}

// TestGatewayFollowsAnInPlaceUpdate: after an InPlace update, the revision keeps its name, so the
// Deployment istiod deployed for a Gateway names it before and after; only its proxy image tells them
// apart. A namespace whose only workload is such a Deployment (a waypoint no label pins: it follows its
// namespace's istio.io/rev) counts as moved only once istiod has rendered it again with the proxy the
// updated injector's values make (proxyv2 of the new global.tag) and it rolled out; bosun never
// restarts it.
func TestGatewayFollowsAnInPlaceUpdate(t *testing.T) {
	c := operatortest.Client(t)
	gatewayCRD(t, c)
	tag := func(v string) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: []byte(`"` + v + `"`)} }
	operatortest.Namespace(t, c, "gi-system", nil)
	istio := newIstio("gi")
	istio.Spec.UpdateStrategy.Type = v1.UpdateStrategyInPlace
	istio.Spec.Values.Global.Tag = tag("1.25.0")
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "gi-system", "istiod-gi")
	operatortest.Namespace(t, c, "gi-edge", map[string]string{"istio.io/rev": "gi"})
	waypoint := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "gi-edge", "name": "waypoint"},
		"spec":     map[string]any{"gatewayClassName": "istio-waypoint"},
	}}
	waypoint.SetGroupVersionKind(move.GatewayKind)
	operatortest.Create(t, c, waypoint)
	// What istiod deployed for it: a Deployment rendered by the revision gi with the proxy of its values,
	// whose pods opt out of injection and carry no proxy version.
	renders := func(image string) {
		t.Helper()
		deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "gi-edge", Name: "waypoint"}}
		operatortest.Update(t, c, deployment, func(d *appsv1.Deployment) {
			d.Labels = map[string]string{inuse.LabelGatewayName: "waypoint", inuse.LabelGatewayManaged: "istio.io-mesh-controller"}
			d.Spec.Template.Annotations = map[string]string{"istio.io/rev": "gi"}
			d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "istio-proxy", Image: image}}
		})
		pods := &corev1.PodList{}
		if err := c.List(t.Context(), pods, client.InNamespace("gi-edge")); err != nil {
			t.Fatal(err)
		}
		for i := range pods.Items {
			operatortest.Delete(t, c, &pods.Items[i])
		}
		pod(t, c, "gi-edge", "waypoint-"+image[len(image)-6:], "gi", "", gatewayPodLabels, nil)
		operatortest.RollOut(t, c, "gi-edge", "waypoint")
	}
	app(t, c, "gi-edge", "waypoint", "gi", v125)
	renders("gcr.io/istio-testing/proxyv2:1.25.0")
	rendered := generation(t, c, "gi-edge", "waypoint")

	operatortest.Update(t, c, istio, func(i *v1.Istio) {
		i.Spec.Version = v127
		i.Spec.Values.Global.Tag = tag("1.27.0")
		i.Annotations = map[string]string{desired.AnnotationAllowMinorSkip: "true"}
	})
	operatortest.RollOut(t, c, "gi-system", "istiod-gi")
	workloadsStatus(t, c, "gi", v1.ReasonMoving, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if st.Target != "gi ("+v127+")" || st.InProgress != "gi-edge/Deployment/waypoint" || st.NamespacesDone != 0 {
			return fmt.Errorf("%s; %+v", cond.Message, st)
		}
		return nil
	})
	if got := generation(t, c, "gi-edge", "waypoint"); got != rendered {
		t.Fatalf("bosun restarted the waypoint's Deployment, which is istiod's (generation %d, then %d)", rendered, got)
	}

	// istiod renders the Deployment again with the new proxy, and it rolls out.
	renders("gcr.io/istio-testing/proxyv2:1.27.0")
	workloadsStatus(t, c, "gi", v1.ReasonWorkloadsUpdated, func(cond metav1.Condition, st *v1.WorkloadsUpdateStatus) error {
		if cond.Status != metav1.ConditionTrue || st.Target != "gi ("+v127+")" || st.NamespacesDone != 1 {
			return fmt.Errorf("%s %s; %+v", cond.Status, cond.Message, st)
		}
		return nil
	})
}

// TestAGatewayThatDoesNotMovePausesAndGoesBack: istiod of the new revision renders the Deployment of a
// relabelled Gateway again, and its rollout fails (its controller reports the progress deadline
// exceeded). The move pauses naming it, labels the Gateway back to the old revision (whose istiod
// deploys it again), moves its namespace back and restarts the workload it had restarted back onto the
// old proxy; the Gateway keeps bosun's record of where it came from.
func TestAGatewayThatDoesNotMovePausesAndGoesBack(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "gwp-v1-25-0-snapshot-be4b14ad", "gwp-v1-27-0-snapshot-b9159ca3"
	istio, deployment := pinnedWaypoint(t, c, "gwp", old)

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "gwp-system", "istiod-"+next)
	restartedFor(t, c, "gwp-app", "web", next+"@")
	rollOut(t, c, "gwp-app", "web", next, v127)
	operatortest.WaitFor(t, "the Gateway relabelled to "+next, func(ctx context.Context) error {
		if rev, err := gatewayRevision(ctx, c, "gwp-app", "waypoint"); err != nil || rev != next {
			return fmt.Errorf("istio.io/rev=%q (%v)", rev, err)
		}
		return nil
	})

	// istiod of the new revision renders the Deployment again; its rollout fails.
	operatortest.Update(t, c, deployment, func(d *appsv1.Deployment) { d.Spec.Template.Annotations = map[string]string{"istio.io/rev": next} })
	failRollout(t, c, "gwp-app", "waypoint")
	workloadsStatus(t, c, "gwp", v1.ReasonPaused, func(cond metav1.Condition, _ *v1.WorkloadsUpdateStatus) error {
		for _, want := range []string{"gwp-app/Deployment/waypoint", "has timed out progressing"} {
			if !strings.Contains(cond.Message, want) {
				return fmt.Errorf("%q does not say %q", cond.Message, want)
			}
		}
		return nil
	})
	pausedBack(t, c, "gwp-app", old, next)
}

// pausedBack checks what a paused move left in namespace: the Gateway waypoint labelled back to old,
// with bosun's record of where it came from; the namespace back on old; web restarted back onto old's
// proxy; and the old revision kept.
func pausedBack(t *testing.T, c client.Client, namespace, old, next string) {
	t.Helper()
	operatortest.WaitFor(t, "the Gateway labelled back to "+old, func(ctx context.Context) error {
		gw := &unstructured.Unstructured{}
		gw.SetGroupVersionKind(move.GatewayKind)
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "waypoint"}, gw); err != nil {
			return err
		}
		rec := move.Record{}
		if err := json.Unmarshal([]byte(gw.GetAnnotations()[move.AnnotationRecord]), &rec); err != nil || rec.From != old {
			return fmt.Errorf("record %q (%v), want one from %s", gw.GetAnnotations()[move.AnnotationRecord], err, old)
		}
		if rev := gw.GetLabels()["istio.io/rev"]; rev != old {
			return fmt.Errorf("istio.io/rev=%q", rev)
		}
		return nil
	})
	if got := namespaceLabel(t, c, namespace); got != old {
		t.Errorf("the paused namespace is labelled istio.io/rev=%q, want %s", got, old)
	}
	restartedFor(t, c, namespace, "web", move.RollbackPrefix+next+"@")
	if err := c.Get(t.Context(), client.ObjectKey{Name: old}, &v1.IstioRevision{}); err != nil {
		t.Errorf("the old revision, which the paused namespace and Gateway use again, is gone: %v", err)
	}
}

// TestAPausedMoveLabelsBackAGatewayThatMoved: a Gateway bosun relabelled, whose Deployment istiod of the
// new revision rendered again and rolled out, has nothing left to move; when a workload of its
// namespace then fails, the paused move labels it back all the same, with the namespace, and so a
// Gateway it relabelled that istiod deploys nothing for.
func TestAPausedMoveLabelsBackAGatewayThatMoved(t *testing.T) {
	c := operatortest.Client(t)
	const old, next = "gwm-v1-25-0-snapshot-be4b14ad", "gwm-v1-27-0-snapshot-b9159ca3"
	istio, deployment := pinnedWaypoint(t, c, "gwm", old)
	// A Gateway deployed by hand: istiod deploys nothing for it, yet its label moves with the mesh.
	manual := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "gwm-app", "name": "manual", "labels": map[string]any{"istio.io/rev": old}},
		"spec":     map[string]any{"gatewayClassName": "istio", "addresses": []any{map[string]any{"value": "ingress.gwm-app.svc.cluster.local"}}},
	}}
	manual.SetGroupVersionKind(move.GatewayKind)
	operatortest.Create(t, c, manual)
	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	operatortest.RollOut(t, c, "gwm-system", "istiod-"+next)
	restartedFor(t, c, "gwm-app", "web", next+"@")

	// While web rolls out, istiod of the new revision deploys the relabelled waypoint again.
	operatortest.Update(t, c, deployment, func(d *appsv1.Deployment) { d.Spec.Template.Annotations = map[string]string{"istio.io/rev": next} })
	operatortest.Delete(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "gwm-app", Name: "waypoint-1-a"}})
	pod(t, c, "gwm-app", "waypoint-2-a", next, v127, gatewayPodLabels, nil)
	operatortest.RollOut(t, c, "gwm-app", "waypoint")
	// web's rollout fails.
	failRollout(t, c, "gwm-app", "web")
	workloadsStatus(t, c, "gwm", v1.ReasonPaused, func(cond metav1.Condition, _ *v1.WorkloadsUpdateStatus) error {
		if !strings.Contains(cond.Message, "gwm-app/Deployment/web") {
			return fmt.Errorf("%q does not name gwm-app/Deployment/web", cond.Message)
		}
		return nil
	})
	pausedBack(t, c, "gwm-app", old, next)
	operatortest.WaitFor(t, "the Gateway deployed by hand labelled back to "+old, func(ctx context.Context) error {
		if rev, err := gatewayRevision(ctx, c, "gwm-app", "manual"); err != nil || rev != old {
			return fmt.Errorf("istio.io/rev=%q (%v)", rev, err)
		}
		return nil
	})
}
