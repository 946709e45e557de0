//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/gomod"
	"github.com/bosun-mesh/bosun/internal/move"
)

// gatewayAPIVersion is the Gateway API release whose standard CRDs the test installs: the one Istio
// 1.25 to 1.27 support.
const gatewayAPIVersion = "v1.3.0"

// installGatewayAPI installs the Gateway API's standard CRDs from its Go module, and removes them when
// the test ends.
func installGatewayAPI(t *testing.T, c client.Client) {
	t.Helper()
	mod, err := gomod.Download("", "sigs.k8s.io/gateway-api@"+gatewayAPIVersion)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mod.Dir, "config", "crd", "standard")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		applyYAML(t, c, string(data))
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err == nil && obj.GetName() != "" {
			names = append(names, obj.GetName())
		}
	}
	t.Cleanup(func() {
		for _, name := range names {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
			crd.SetName(name)
			_ = c.Delete(context.Background(), crd)
		}
	})
	waitFor(t, "the Gateway kind served", func(ctx context.Context) error {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(move.GatewayKind.GroupVersion().WithKind("GatewayList"))
		return c.List(ctx, list)
	})
}

// gatewayDeployment is the Deployment istiod deployed for a Gateway, with the revision that rendered it.
func gatewayDeployment(ctx context.Context, c client.Client, namespace, gateway string) (*appsv1.Deployment, error) {
	var list appsv1.DeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{move.LabelGatewayName: gateway}); err != nil {
		return nil, err
	}
	if len(list.Items) != 1 {
		return nil, fmt.Errorf("%d Deployments for Gateway %s/%s", len(list.Items), namespace, gateway)
	}
	return &list.Items[0], nil
}

// TestGatewayFollowsTheRevision: a Gateway API gateway pinned to the old revision by its istio.io/rev
// label, deployed by that revision's real istiod, ends on the new revision after a RevisionBased update
// with updateWorkloads and no other step: bosun relabels the Gateway, the new istiod renders its
// Deployment again (bosun never restarts it), and only then does the Istio report its workloads moved;
// the old revision, unused, goes.
func TestGatewayFollowsTheRevision(t *testing.T) {
	c := newClient(t)
	installGatewayAPI(t, c)
	installBosun(t, c)
	const old, next = "default-v1-24-3", "default-v1-24-4"
	movingIstio(t, c)
	appNamespace(t, c, "gwapp", map[string]string{"istio.io/rev": old})
	applyYAML(t, c, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ingress
  namespace: gwapp
  labels:
    istio.io/rev: `+old+`
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP`)
	waitFor(t, "istiod of "+old+" to deploy the Gateway", func(ctx context.Context) error {
		d, err := gatewayDeployment(ctx, c, "gwapp", "ingress")
		if err != nil {
			return err
		}
		if rev := d.Spec.Template.Annotations["istio.io/rev"]; rev != old || d.Status.AvailableReplicas < 1 {
			return fmt.Errorf("rendered by %q, %d available", rev, d.Status.AvailableReplicas)
		}
		return nil
	})

	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, `{"spec":{"version":"v1.24.4"}}`)
	waitFor(t, "the Istio to report its workloads moved", func(ctx context.Context) error {
		istio := &v1.Istio{}
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, istio); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated)
		if cond == nil || cond.Status != metav1.ConditionTrue || istio.Status.Workloads == nil || istio.Status.Workloads.NamespacesDone != 1 {
			return fmt.Errorf("WorkloadsUpdated %+v, workloads %+v", cond, istio.Status.Workloads)
		}
		return nil
	})
	// By then, the new istiod rendered the Gateway's Deployment, which rolled out; bosun restarted none.
	d, err := gatewayDeployment(t.Context(), c, "gwapp", "ingress")
	if err != nil {
		t.Fatal(err)
	}
	if rev := d.Spec.Template.Annotations["istio.io/rev"]; rev != next || d.Status.UpdatedReplicas != d.Status.Replicas || d.Status.AvailableReplicas < 1 {
		t.Errorf("the Gateway's Deployment was rendered by %q (updated %d of %d, %d available) when the Istio reported the move done; want %s, rolled out",
			rev, d.Status.UpdatedReplicas, d.Status.Replicas, d.Status.AvailableReplicas, next)
	}
	if _, restarted := d.Spec.Template.Annotations[move.AnnotationRestartedFor]; restarted {
		t.Errorf("bosun restarted the Gateway's Deployment, which is istiod's")
	}
	gw := &unstructured.Unstructured{}
	gw.SetGroupVersionKind(move.GatewayKind)
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "gwapp", Name: "ingress"}, gw); err != nil || gw.GetLabels()["istio.io/rev"] != next {
		t.Errorf("Gateway gwapp/ingress labelled %v (%v), want istio.io/rev=%s", gw.GetLabels(), err, next)
	}
	waitFor(t, "the old revision to be deleted", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("IstioRevision %s is still there (%v)", old, err)
	})
}
