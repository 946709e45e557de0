package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// operatorNamespace and operatorAccount are the operator's namespace and ServiceAccount in the plain
// manifests (deploy/bosun.yaml, the chart rendered by make manifests).
const (
	operatorNamespace = "bosun-system"
	operatorAccount   = "bosun-operator"
)

// asOperatorAccount installs the namespace, ServiceAccount and RBAC of deploy/bosun.yaml and returns a
// client configuration that acts as that ServiceAccount, with the groups its token would carry: the
// operator then has exactly the permissions the chart gives it (field lesson #35).
func asOperatorAccount(t *testing.T, c client.Client) *rest.Config {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "bosun.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wanted := map[string]bool{"Namespace": true, "ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true}
	var docs []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if wanted[obj.GetKind()] {
			docs = append(docs, doc)
		}
	}
	if len(docs) != len(wanted) {
		t.Fatalf("deploy/bosun.yaml has %d of the %d objects an operator's identity needs", len(docs), len(wanted))
	}
	applyYAML(t, c, strings.Join(docs, "\n---\n"))
	sa := rest.CopyConfig(cfg)
	sa.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + operatorNamespace + ":" + operatorAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}
	return sa
}

// TestTheOperatorNeedsOnlyItsRBAC runs the operator as its ServiceAccount, leader election on, and
// installs, reconciles and removes a control plane, a revision tag, an IstioCNI and a ZTunnel: the chart's RBAC is
// enough for all of it, including Istio's CRDs, the Events it records and the Lease in its own
// namespace.
func TestTheOperatorNeedsOnlyItsRBAC(t *testing.T) {
	c := newClient(t)
	// Istio's CRDs are the operator's to apply: take one away, so it must create it again.
	missing := "wasmplugins.extensions.istio.io"
	deleteCRD(t, c, missing)
	startOperatorAs(t, asOperatorAccount(t, c), v1243, func(o *operator.Options) {
		o.LeaderElection = true
		o.LeaderElectionNamespace = operatorNamespace
	})
	installIstio(t, c, "rbac", "istio-rbac", v1243)
	waitFor(t, "the operator to create "+missing, func(ctx context.Context) error {
		if v := crdVersions(ctx, c, []string{missing})[missing]; v == "missing" || v == "" {
			return fmt.Errorf("%s is %q", missing, v)
		}
		return nil
	})
	createNamespace(t, c, "istio-cni-rbac", nil)
	createNamespace(t, c, "ztunnel-rbac", nil)
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
