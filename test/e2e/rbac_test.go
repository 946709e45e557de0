//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestTheOperatorNeedsOnlyItsRBAC installs bosun from deploy/bosun.yaml; the box runs its operator
// pod as a bosun process with a token of the chart's ServiceAccount and the Deployment's arguments
// (leader election on). It installs, reconciles and removes a control plane, a revision tag, an
// IstioCNI and a ZTunnel: the chart's RBAC is enough for all of it, including Istio's CRDs, the Events
// it records and the Lease in its own namespace (docs/architecture.md#lesson-minimal-rbac). Its metrics are served through the
// chart's Service.
func TestTheOperatorNeedsOnlyItsRBAC(t *testing.T) {
	c := newClient(t)
	// Istio's CRDs are the operator's to apply: take one away, so it must create it again.
	missing := "wasmplugins.extensions.istio.io"
	deleteCRD(t, c, missing)
	bosun := installBosun(t, c)
	operatorIdentity(t, c)
	installIstio(t, c, "rbac", "istio-rbac", v1243)
	waitFor(t, "the operator to create "+missing, func(ctx context.Context) error {
		if v := crdVersions(ctx, c, []string{missing})[missing]; v == "missing" || v == "" {
			return fmt.Errorf("%s is %q", missing, v)
		}
		return nil
	})
	ensureNamespace(t, c, "istio-cni-rbac")
	ensureNamespace(t, c, "ztunnel-rbac")
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  namespace: istio-cni-rbac
  version: v1.24.3
---
apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  namespace: ztunnel-rbac
  version: v1.24.3
  targetRef:
    kind: Istio
    name: rbac`)
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: IstioRevisionTag
metadata:
  name: rbac-tag
spec:
  targetRef:
    kind: Istio
    name: rbac`)
	waitFor(t, "the tag to point at revision rbac", func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: "rbac-tag"}, tag); err != nil {
			return err
		}
		if tag.Status.IstioRevision != "rbac" || !meta.IsStatusConditionTrue(tag.Status.Conditions, v1.ConditionReconciled) {
			return fmt.Errorf("status %+v", tag.Status)
		}
		return nil
	})
	agentHealthy(t, c, &v1.IstioCNI{})
	agentHealthy(t, c, &v1.ZTunnel{})
	deleteTag(t, c, "rbac-tag")
	deleteNodeAgent(t, c, &v1.ZTunnel{})
	deleteNodeAgent(t, c, &v1.IstioCNI{})
	deleteIstio(t, c, "rbac")
	waitFor(t, "the operator's metrics through its Service", func(ctx context.Context) error {
		body, err := bosun.metrics(ctx)
		if err != nil {
			return err
		}
		for _, metric := range []string{`bosun_applied_objects_total{action="created",kind="IstioRevision"}`, "controller_runtime_reconcile_total"} {
			if !strings.Contains(body, metric) {
				return fmt.Errorf("no %s among %d bytes of metrics", metric, len(body))
			}
		}
		return nil
	})
	for _, want := range []struct{ namespace, reason, regarding string }{
		{"default", "RevisionCreated", "rbac"},
		{operatorNamespace, "LeaderElection", "bosun-operator-leader"},
	} {
		waitFor(t, "a "+want.reason+" event in "+want.namespace, func(ctx context.Context) error {
			var events eventsv1.EventList
			if err := c.List(ctx, &events, client.InNamespace(want.namespace)); err != nil {
				return err
			}
			for _, e := range events.Items {
				if e.Reason == want.reason && e.Regarding.Name == want.regarding {
					return nil
				}
			}
			return fmt.Errorf("none among %d events", len(events.Items))
		})
	}
}

// operatorIdentity checks that the process playing the operator's pod talks to the API server as the
// pod's ServiceAccount, not as the box's administrator: otherwise the RBAC test above proves nothing.
// It reads the kubeconfig the process was started with (its --kubeconfig argument) and asks the API
// server who that is.
func operatorIdentity(t *testing.T, c client.Client) {
	t.Helper()
	pod, pid := operatorProcess(t, c)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("the arguments of process %d playing pod %s: %v", pid, pod, err)
	}
	var kubeconfig string
	for _, a := range strings.Split(string(cmdline), "\x00") {
		if path, ok := strings.CutPrefix(a, "--kubeconfig="); ok {
			kubeconfig = path
		}
	}
	if kubeconfig == "" {
		t.Fatalf("process %d playing pod %s has no --kubeconfig argument: %q", pid, pod, cmdline)
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who the operator of pod %s is: %v", pod, err)
	}
	want := "system:serviceaccount:" + operatorNamespace + ":" + operatorDeployment
	if got := review.Status.UserInfo.Username; got != want {
		t.Errorf("the operator of pod %s acts as %q, want its ServiceAccount %q", pod, got, want)
	}
}
