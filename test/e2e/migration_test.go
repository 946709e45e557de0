//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/meshview"
	"github.com/bosun-mesh/bosun/samples"
)

// planets are the five workload namespaces of the migration document, in the order it migrates them.
var planets = []string{"mercury", "venus", "earth", "mars", "jupiter"}

// TestCanaryMigrationOneNamespaceAtATime follows "Upgrade from OpenShift Service Mesh 2.6 to 3.0 with
// Kiali" (ossm-docs/01): a canary migration of five namespaces, mercury … jupiter, each running
// Bookinfo, from one control plane to another, one namespace at a time.
//
// The box has no OpenShift Service Mesh 2.6, so its ServiceMeshControlPlane basic is played by what
// a 2.6 cluster-wide mesh amounts to for a workload: an istiod named istiod-basic in istio-system
// that injects the namespaces labelled istio-injection=enabled (here an Istio basic on v1.24.3 with
// the IstioRevisionTag default pointing at it). The new control plane is the document's own Istio
// ossm3 (InPlace, no version: the catalog's default, v1.24-latest, which is v1.24.4 here), in the
// same namespace as the document requires. maistra.io/ignore-namespace, which only 2.6's injector
// reads, is set as the document sets it and must change nothing for bosun.
//
// Before the first step and after each (kubectl label namespace <ns> maistra.io/ignore-namespace=true
// istio-injection- istio.io/rev=ossm3 --overwrite; kubectl rollout restart deployment -n <ns>), what
// Kiali's mesh page shows is checked where a user of bosun reads it: `kubectl get istio` (IN USE),
// `kubectl get istiorevision` (IN USE), `kubectl get istiorevisiontag`, each revision's InUse
// condition naming the namespaces and counting the pods it serves, and each pod's sidecar: the
// migrated namespaces' pods carry ossm3's 1.24.4 proxy, the others still basic's 1.24.3 proxy, in the
// same pods as before. Once every namespace is migrated the old control plane's tag is no longer in
// use; deleting the old control plane (kubectl delete smcp basic) leaves the workloads and ossm3 as
// they are.
func TestCanaryMigrationOneNamespaceAtATime(t *testing.T) {
	c := newClient(t)
	in := installBosun(t, c)
	ensureNamespace(t, c, "istio-system")

	// The 2.6 control plane basic, which manages the five namespaces.
	applyYAML(t, c, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: basic
spec:
  namespace: istio-system
  version: v1.24.3`)
	t.Cleanup(func() { deleteIstio(t, c, "basic") })
	applyTag(t, c, "default", v1.KindIstio, "basic")
	// The 3.0 control plane ossm3.
	applyExample(t, c, "01-migrating-istio-ossm3.yaml")
	t.Cleanup(func() { deleteIstio(t, c, "ossm3") })
	istioHealthy(t, c, "basic")
	istioHealthy(t, c, "ossm3")
	tagReconciled(t, c, "default", "basic")
	istiodPods(t, c, "istio-system", "basic", "ossm3")

	appNamespaces(t, c, map[string]string{"istio-injection": "enabled"}, planets...)
	pods := map[string][]corev1.Pod{}
	for _, ns := range planets {
		pods[ns] = deployBookinfo(t, c, ns)
		assertSidecars(t, pods[ns], "basic", "proxyv2:1.24.3")
	}
	migrationStep(t, c, in, pods, 0)

	for i, ns := range planets {
		// kubectl label namespace mercury maistra.io/ignore-namespace="true" istio-injection-
		// istio.io/rev=ossm3 --overwrite=true
		mergePatch(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			`{"metadata":{"labels":{"maistra.io/ignore-namespace":"true","istio-injection":null,"istio.io/rev":"ossm3"}}}`)
		if i == 0 {
			restartsDue(t, in, ns)
		}
		// kubectl rollout restart deployment -n mercury && kubectl rollout status deployment -n mercury
		pods[ns] = rolloutRestart(t, c, ns)
		migrationStep(t, c, in, pods, i+1)
	}

	// Clean up: kubectl delete smcp basic. The workloads and the new control plane stay as they are.
	deleteTag(t, c, "default")
	deleteIstio(t, c, "basic")
	rows(t, "istios", []string{"ossm3", "1", "1", "1", "ossm3", "Healthy", "*"})
	rows(t, "istiorevisions", []string{"ossm3", "Local", "True", "Healthy", "True", "v1.24.4"})
	istiodPods(t, c, "istio-system", "ossm3")
	waitSaying(t, "ossm3 to count every namespace and pod", func(ctx context.Context) error {
		return inUseIs(ctx, c, "ossm3", "Referenced by 5 namespaces (earth, jupiter, mars, mercury, venus) and 30 pods")
	})
	for _, ns := range planets {
		assertSidecars(t, assertSamePods(t, c, ns, pods[ns]), "ossm3", "proxyv2:1.24.4")
	}
}

// countsWithin bounds the wait for each step's InUse counts: the pods are in place already, so the
// counts come with the next evaluation (at most a second apart) and the next refresh (inUseRefresh).
const countsWithin = 15 * time.Second

// migrationStep checks the mesh once the first migrated of the planets have been moved to ossm3 and
// the rest are still on basic (see TestCanaryMigrationOneNamespaceAtATime).
func migrationStep(t *testing.T, c client.Client, in *installed, pods map[string][]corev1.Pod, migrated int) {
	t.Helper()
	moved, staying := planets[:migrated], planets[migrated:]
	t.Logf("migrated: %v; on the old control plane: %v", moved, staying)
	perNamespace := len(samples.BookinfoDeployments)

	// kubectl get istio: basic stays in use (by its tag, at least) until it is deleted; ossm3 is in
	// use from the first migrated namespace on.
	ossm3InUse, ossm3Used := "0", "False"
	if migrated > 0 {
		ossm3InUse, ossm3Used = "1", "True"
	}
	// ossm3's manifest names no version: the API server wrote the catalog's default into it (bosun's
	// version policy, in force before the operator's pod is Ready); the revision's row shows the
	// version that alias stands for.
	rows(t, "istios",
		[]string{"basic", "1", "1", "1", "basic", "Healthy", "v1.24.3"},
		[]string{"ossm3", "1", "1", ossm3InUse, "ossm3", "Healthy", "v1.24-latest"})
	rows(t, "istiorevisions",
		[]string{"basic", "Local", "True", "Healthy", "True", "v1.24.3"},
		[]string{"ossm3", "Local", "True", "Healthy", ossm3Used, "v1.24.4"})

	// Which namespaces and how many pods each revision serves: the data plane nodes of Kiali's mesh
	// page. bosun rewrites these counts at most every --in-use-refresh-interval (installBosun's
	// inUseRefresh, where the default is 30 s): each step's counts must be there within countsWithin,
	// which they would often miss at the default.
	wantOld := "Referenced by IstioRevisionTag default"
	if len(staying) > 0 {
		wantOld = fmt.Sprintf("Referenced by %s (%s), %d pods and IstioRevisionTag default", namespaces(len(staying)), strings.Join(slices.Sorted(slices.Values(staying)), ", "), len(staying)*perNamespace)
	}
	wantNew := "Not referenced by any namespace, pod or tag"
	if len(moved) > 0 {
		wantNew = fmt.Sprintf("Referenced by %s (%s) and %d pods", namespaces(len(moved)), strings.Join(slices.Sorted(slices.Values(moved)), ", "), len(moved)*perNamespace)
	}
	if err := within(countsWithin, func(ctx context.Context) error {
		if err := inUseIs(ctx, c, "basic", wantOld); err != nil {
			return err
		}
		return inUseIs(ctx, c, "ossm3", wantNew)
	}); err != nil {
		t.Fatalf("each revision's counts of its namespaces and pods: %v", err)
	}
	// bosun status: the same counts, and every workload on the revision its namespace selects.
	st, text := meshStatus(t, 0)
	for _, rev := range st.Revisions {
		want := map[string][]string{"basic": staying, "ossm3": moved}[rev.Name]
		var got []string
		for _, ns := range rev.Namespaces {
			got = append(got, ns.Name)
		}
		if rev.Pods != len(want)*perNamespace || !slices.Equal(got, slices.Sorted(slices.Values(want))) || len(rev.Workloads) != len(want)*perNamespace {
			t.Errorf("bosun status, revision %s: %d pods, namespaces %v, %d workloads; want %d pods in %v\n%s", rev.Name, rev.Pods, got, len(rev.Workloads), len(want)*perNamespace, want, text)
		}
	}
	if len(st.Restarts) != 0 {
		t.Errorf("bosun status: restarts due %+v, want none once each namespace is restarted", st.Restarts)
	}
	if migrated == 2 {
		golden(t, "status-two-namespaces-migrated.txt", text)
	}
	// The operator's gauges say the same: the proxies of each revision by version (the migration
	// curve), and no restart due.
	meshGauges(t, in, map[string]float64{
		"bosun_proxies/basic/v1.24.3": float64(len(staying) * perNamespace), "bosun_proxies/ossm3/v1.24.4": float64(len(moved) * perNamespace),
		"bosun_restarts_due/basic": 0, "bosun_restarts_due/ossm3": 0,
	})

	// kubectl get istiorevisiontag: the old control plane's tag is in use until the last namespace
	// labelled istio-injection=enabled has left it (docs/architecture.md#lesson-default-tag, #lesson-usage-follows-injection), then says so.
	if len(staying) > 0 {
		tagRow(t, "default", "Healthy", "True", "basic")
	} else {
		tagRow(t, "default", v1.ReasonNotReferencedByAnything, "False", "basic")
	}

	// The pods' sidecars: the migrated namespaces' restarted pods carry ossm3's proxy, the others are
	// the same pods as before, with basic's.
	for _, ns := range moved {
		assertSidecars(t, pods[ns], "ossm3", "proxyv2:1.24.4")
	}
	for _, ns := range staying {
		assertSidecars(t, assertSamePods(t, c, ns, pods[ns]), "basic", "proxyv2:1.24.3")
	}
}

// namespaces is "1 namespace" or "N namespaces".
func namespaces(n int) string {
	if n == 1 {
		return "1 namespace"
	}
	return fmt.Sprintf("%d namespaces", n)
}

// inUseIs checks that a revision's InUse message is exactly want.
func inUseIs(ctx context.Context, c client.Client, rev, want string) error {
	r := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: rev}, r); err != nil {
		return err
	}
	cond, err := condition(r.Status.Conditions, v1.ConditionInUse)
	if err != nil {
		return err
	}
	if cond.Message != want {
		return fmt.Errorf("IstioRevision %s: InUse message %q, want %q", rev, cond.Message, want)
	}
	return nil
}

// meshStatus runs bosun status as a user does, -o json and as text, and checks its exit code.
func meshStatus(t *testing.T, wantCode int, args ...string) (meshview.Status, string) {
	t.Helper()
	run := func(more ...string) string {
		cmd := exec.Command(bosunBinary, append(append([]string{"status", "--kubeconfig", box.KubeconfigPath()}, args...), more...)...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != wantCode {
			t.Fatalf("bosun status %v: exit %d (%v), want %d\n%s%s", args, code, err, wantCode, out.String(), errOut.String())
		}
		return out.String()
	}
	var st meshview.Status
	if err := json.Unmarshal([]byte(run("-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return st, run()
}

// restartsDue checks that bosun status lists every Deployment of a relabelled namespace as due for a
// restart onto ossm3, with the command that does it.
func restartsDue(t *testing.T, in *installed, ns string) {
	t.Helper()
	meshGauges(t, in, map[string]float64{"bosun_restarts_due/basic": float64(len(samples.BookinfoDeployments))})
	st, text := meshStatus(t, 0, "-n", ns)
	var got []string
	for _, r := range st.Restarts {
		if r.RunsOn != "basic" || r.Wants != "ossm3" || r.Command != "kubectl rollout restart deployment/"+r.Name+" -n "+ns {
			t.Errorf("restart %+v", r)
		}
		got = append(got, r.Name)
	}
	if want := slices.Sorted(slices.Values(samples.BookinfoDeployments)); !slices.Equal(got, want) {
		t.Errorf("bosun status -n %s: restarts due %v, want %v\n%s", ns, got, want, text)
	}
}

// meshGauges waits until the operator's mesh gauges, read through its metrics Service as Prometheus
// reads them, have the values wanted, keyed name/revision or name/revision/version.
func meshGauges(t *testing.T, in *installed, want map[string]float64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the operator's gauges %v", want), func(ctx context.Context) error {
		text, err := in.metrics(ctx)
		if err != nil {
			return err
		}
		families, err := parseMetrics(text)
		if err != nil {
			return err
		}
		for key, value := range want {
			parts := strings.Split(key, "/")
			labels := map[string]string{"revision": parts[1]}
			if len(parts) == 3 {
				labels["version"] = parts[2]
			}
			if got := familySum(families, parts[0], labels); got != value {
				return fmt.Errorf("%s = %v, want %v", key, got, value)
			}
		}
		return nil
	})
}

// golden compares text with testdata/<name>; BOSUN_UPDATE_GOLDEN=1 rewrites the file instead.
func golden(t *testing.T, name, text string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("BOSUN_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (BOSUN_UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(want) != text {
		t.Errorf("bosun status differs from %s:\n--- got\n%s--- want\n%s", path, text, want)
	}
}
