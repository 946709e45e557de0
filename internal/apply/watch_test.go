package apply

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/yaml"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// parsed parses a YAML object as it is, managedFields included.
func parsed(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestOwnedChangesThatWake: what bosun applies waking its owner when anything but its status changes,
// and a workload when its status changes too (its readiness); a PodDisruptionBudget whose status moves
// with a rollout's pods wakes nothing.
func TestOwnedChangesThatWake(t *testing.T) {
	const pdb = `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: istiod
  resourceVersion: "%s"
  labels: {app: istiod%s}
  managedFields:
  - {manager: bosun, operation: Apply, apiVersion: policy/v1}
  - {manager: kube-controller-manager, operation: Update, apiVersion: policy/v1, subresource: status, time: "%s"}
spec: {minAvailable: 1}
status: {currentHealthy: %s}`
	const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, resourceVersion: "%s"}
spec: {replicas: 1}
status: {readyReplicas: %s}`
	cases := []struct {
		name     string
		old, new string
		wake     bool
	}{
		{"a PDB's status", sprintf(pdb, "1", "", "2026-12-07T10:00:00Z", "0"), sprintf(pdb, "2", "", "2026-12-07T10:00:01Z", "1"), false},
		{"a PDB's labels", sprintf(pdb, "1", "", "2026-12-07T10:00:00Z", "0"), sprintf(pdb, "2", ", team: x", "2026-12-07T10:00:00Z", "0"), true},
		{"a Deployment's status", sprintf(deployment, "1", "0"), sprintf(deployment, "2", "1"), true},
	}
	for _, c := range cases {
		e := event.UpdateEvent{ObjectOld: parsed(t, c.old), ObjectNew: parsed(t, c.new)}
		if got := (ownedChange{}).Update(e); got != c.wake {
			t.Errorf("%s: wakes %t, want %t", c.name, got, c.wake)
		}
	}
}
