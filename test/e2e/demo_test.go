//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/samples"
)

// TestDemo runs `make demo`'s steps (internal/demo) on the suite's cluster and checks what they print,
// as a newcomer reads it: bosun installed from chart/crds and deploy/bosun.yaml with kubectl, its
// operator running in its pod as its ServiceAccount (the box plays the pod with a bosun process, and
// the leader's Lease is in bosun-system), the Istio
// Healthy with one revision in use, the IstioCNI Ready, and each of bookinfo's six Deployments with a
// running pod that Istio's injector gave an istio-proxy container.
func TestDemo(t *testing.T) {
	c := newClient(t)
	root, version := demoInputs(t)
	kubectl := filepath.Join(box.BinDir(), "kubectl")
	t.Cleanup(func() { undoDemo(t, c, kubectl, root) })

	var out bytes.Buffer
	err := demo.Run(t.Context(), demo.Config{
		Kubectl: kubectl, Kubeconfig: box.KubeconfigPath(), Root: root, Version: version, Out: &out,
		LogDir: box.Dir(), Wait: waitTimeout,
	})
	shown := out.String()
	t.Logf("the demo printed:\n%s", shown)
	if err != nil {
		t.Fatal(err)
	}

	if pod, pid := operatorProcess(t, c); pid == 0 {
		t.Errorf("the operator's pod %s is not played by a bosun process", pod)
	}
	lease := &coordinationv1.Lease{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: demo.OperatorNamespace, Name: operator.LeaderElectionID}, lease); err != nil {
		t.Errorf("no leader Lease in %s, so the operator did not run from deploy/bosun.yaml: %v", demo.OperatorNamespace, err)
	}

	mesh := section(t, shown, "$ kubectl get istio,istiorevision,istiocni")
	wantRows := map[string][]string{
		// NAME REVISIONS READY IN USE ACTIVE REVISION STATUS VERSION (AGE)
		"istio.sailoperator.io/default": {"1", "1", "1", "default", v1.StateHealthy, version.Name},
		// NAME TYPE READY STATUS IN USE VERSION (AGE)
		"istiorevision.sailoperator.io/default": {"Local", "True", v1.StateHealthy, "True", version.Resolved},
		// NAME READY STATUS VERSION (AGE)
		"istiocni.sailoperator.io/default": {"True", v1.StateHealthy, version.Name},
	}
	for name, want := range wantRows {
		got := printedRow(mesh, name)
		if len(got) < len(want)+1 || !slices.Equal(got[1:len(want)+1], want) {
			t.Errorf("kubectl get prints %s as %v, want %v followed by its age", name, got, want)
		}
	}

	pods := section(t, shown, "$ kubectl get pods -n "+demo.AppNamespace)
	for _, d := range samples.BookinfoDeployments {
		row := podRow(pods, d)
		// NAME STATUS INIT CONTAINERS REVISION
		if len(row) != 5 {
			t.Errorf("no pod of %s printed as NAME STATUS INIT CONTAINERS REVISION: %v", d, row)
			continue
		}
		if row[1] != string(corev1.PodRunning) || !slices.Contains(strings.Split(row[3], ","), "istio-proxy") || row[4] != "default" {
			t.Errorf("pod %s is printed as %v, want Running with an istio-proxy container injected by revision default", row[0], row)
		}
	}
}

// section returns the lines a demo step printed after the command that starts with prefix.
func section(t *testing.T, out, prefix string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		var body []string
		for _, l := range lines[i+1:] {
			if strings.HasPrefix(l, "==> ") || strings.HasPrefix(l, "demo: ") {
				break
			}
			body = append(body, l)
		}
		return body
	}
	t.Fatalf("the demo printed no %q", prefix)
	return nil
}

// printedRow returns the fields of the printed line whose first field is name.
func printedRow(lines []string, name string) []string {
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// podRow returns the fields of the printed pod of a Deployment (its name, a hash and a suffix).
func podRow(lines []string, deployment string) []string {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasPrefix(f[0], deployment+"-") && strings.Count(strings.TrimPrefix(f[0], deployment+"-"), "-") == 1 {
			return f
		}
	}
	return nil
}

// undoDemo removes what the demo installed, operator last (its finalizers clean up the mesh), and
// waits until the namespaces it deletes are gone, so that the next test can create them afresh. The
// CRDs, and the namespaces istio-system and istio-cni, which other tests share, stay.
// demoInputs are what the demos run with: bosun's repository and the Istio version they choose.
func demoInputs(t *testing.T) (root string, version demo.Version) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	istiodDir, err := testcluster.IstiodBinDir(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if version, err = demo.ChooseVersion(catalog.Embedded(), istiodDir, nil); err != nil {
		t.Fatal(err)
	}
	return root, version
}

func undoDemo(t *testing.T, c client.Client, kubectl, root string) {
	t.Helper()
	deleteNamespace(t, c, demo.AppNamespace)
	deleteIstio(t, c, demo.MeshName)
	deleteNodeAgent(t, c, &v1.IstioCNI{})
	cmd := exec.Command(kubectl, "--kubeconfig", box.KubeconfigPath(), "delete", "--ignore-not-found", "-f", "deploy/bosun.yaml")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kubectl delete -f deploy/bosun.yaml: %v\n%s", err, out)
	}
	deleteNamespace(t, c, demo.OperatorNamespace)
	waitFor(t, "the operator's processes to stop", func(context.Context) error {
		for key := range box.PlayedProcesses() {
			if strings.HasPrefix(key, demo.OperatorNamespace+"/") {
				return fmt.Errorf("%s still runs", key)
			}
		}
		return nil
	})
}

// deleteNamespace deletes a namespace and waits until it is gone.
func deleteNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := c.Delete(context.Background(), ns); client.IgnoreNotFound(err) != nil {
		t.Errorf("deleting namespace %s: %v", name, err)
		return
	}
	waitFor(t, "namespace "+name+" to be gone", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%s): %v", ns.Status.Phase, err)
		}
		return nil
	})
}
