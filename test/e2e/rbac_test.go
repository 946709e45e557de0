package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// operatorNamespace and operatorAccount are the operator's namespace and ServiceAccount, as
// config/rbac/role.yaml names them.
const (
	operatorNamespace = "bosun-system"
	operatorAccount   = "bosun-operator"
)

// asOperatorAccount installs config/rbac/role.yaml's roles, a ServiceAccount and its bindings, and
// returns a client configuration that acts as that ServiceAccount, with the groups its token would
// carry: the operator then has exactly the permissions its generated RBAC gives (field lesson #35).
func asOperatorAccount(t *testing.T, c client.Client) *rest.Config {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	roles, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	createNamespace(t, c, operatorNamespace, nil)
	applyYAML(t, c, string(roles))
	applyYAML(t, c, fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
  namespace: %[2]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects: [{kind: ServiceAccount, name: %[1]s, namespace: %[2]s}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: %[1]s
  namespace: %[2]s
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: %[1]s}
subjects: [{kind: ServiceAccount, name: %[1]s, namespace: %[2]s}]`, operatorAccount, operatorNamespace))
	sa := rest.CopyConfig(cfg)
	sa.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + operatorNamespace + ":" + operatorAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}
	return sa
}

// TestTheOperatorNeedsOnlyItsRBAC runs the operator as its ServiceAccount, leader election on, and
// installs, reconciles and removes a control plane: the generated RBAC is enough for all of it,
// including the Events it records and the Lease in its own namespace.
func TestTheOperatorNeedsOnlyItsRBAC(t *testing.T) {
	c := newClient(t)
	startOperatorAs(t, asOperatorAccount(t, c), v1243, func(o *operator.Options) {
		o.LeaderElection = true
		o.LeaderElectionNamespace = operatorNamespace
	})
	installIstio(t, c, "rbac", "istio-rbac", v1243)
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
