// Package demo is bosun's demo (`make demo`, `bosun-dev demo`): on a running cluster it
// installs bosun from its plain-YAML manifests as docs/install.md tells a user to, then a mesh as the
// OpenShift Service Mesh 3 documents do (an IstioCNI and an InPlace Istio), then the bookinfo sample in
// a namespace labelled istio-injection=enabled, and shows what came of it.
//
// Every step is a kubectl command, printed before its output, run with the cluster's own kubectl from
// the repository root so that the paths it names (chart/crds/, deploy/bosun.yaml,
// samples/bookinfo/bookinfo.yaml) are the ones a user types. The demo does nothing a user could not
// do by copying those commands; the end-to-end test TestDemo (test/e2e) runs the same steps.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Config is what the demo runs against.
type Config struct {
	// Kubectl is the kubectl program.
	Kubectl string
	// Kubeconfig is the cluster admin's kubeconfig file.
	Kubeconfig string
	// Root is bosun's repository: commands run there, so that chart/crds/, deploy/bosun.yaml and
	// samples/bookinfo/bookinfo.yaml are found where the commands say.
	Root string
	// Version is the Istio version of the mesh (ChooseVersion).
	Version Version
	// LogDir, when set, is the cluster in a box's directory: a failed step also shows the end of the
	// operator's log there (operator/<namespace>_<pod>.log), since kubectl logs cannot reach a pod in
	// the box.
	LogDir string
	// Wait bounds each wait for the cluster; zero means DefaultWait.
	Wait time.Duration
	// Out receives each step, its command and the command's output.
	Out io.Writer
}

// DefaultWait bounds each of the demo's waits. On two busy cores the operator's pod is available in
// seconds and the mesh is Ready in well under a minute; the margin is for a machine still busy
// building.
const DefaultWait = 3 * time.Minute

// Names of what the demo creates, for tests and for the hints printed at the end.
const (
	// OperatorNamespace and OperatorDeployment are where deploy/bosun.yaml runs the operator.
	OperatorNamespace  = "bosun-system"
	OperatorDeployment = "bosun-operator"
	// MeshName names the demo's Istio and IstioCNI ("default", the one IstioCNI a cluster may have).
	MeshName = "default"
	// IstioNamespace and CNINamespace are the namespaces of istiod and the CNI agent, as in the
	// OpenShift Service Mesh 3 documents.
	IstioNamespace = "istio-system"
	CNINamespace   = "istio-cni"
	// AppNamespace holds bookinfo, labelled istio-injection=enabled.
	AppNamespace = "bookinfo"
)

// step is one command of the demo.
type step struct {
	// title says what the step does, for the user.
	title string
	// args are kubectl's arguments.
	args []string
	// stdin, when set, is fed to kubectl and shown before the command runs.
	stdin string
	// diagnose, on failure, are kubectl commands whose output explains it.
	diagnose [][]string
}

// steps returns the demo's commands in order.
func steps(cfg Config) []step {
	wait := fmt.Sprintf("--timeout=%s", cfg.wait())
	operatorState := operatorState()
	meshState := [][]string{
		{"get", "istio,istiorevision,istiocni", "-o", "yaml"},
		{"get", "pods", "-n", IstioNamespace},
		{"get", "pods", "-n", CNINamespace},
	}
	appState := [][]string{
		{"get", "deployments,pods", "-n", AppNamespace},
		{"get", "events", "-n", AppNamespace, "--field-selector=type=Warning"},
	}
	return append(installSteps(cfg), []step{
		{title: "Install a mesh: the Istio CNI agent and an InPlace control plane, Istio " + cfg.Version.Name,
			args: []string{"apply", "--server-side", "-f", "-"}, stdin: MeshManifest(cfg.Version.Name)},
		{title: "Wait until bosun reports them Ready (istiod is a real pilot-discovery process)",
			args:     []string{"wait", "--for=condition=Ready", wait, "istiocni/" + MeshName, "istio/" + MeshName},
			diagnose: append(meshState, operatorState...)},
		{title: "Create the application's namespace",
			args: []string{"create", "namespace", AppNamespace}},
		{title: "Label it for sidecar injection",
			args: []string{"label", "namespace", AppNamespace, "istio-injection=enabled"}},
		{title: "Deploy bookinfo (samples/bookinfo): four Services, six Deployments",
			args: []string{"apply", "-n", AppNamespace, "-f", "samples/bookinfo/bookinfo.yaml"}},
		{title: "Wait for its pods; istiod's webhook injects each one",
			args:     []string{"wait", "--for=condition=Available", wait, "-n", AppNamespace, "deployment", "--all"},
			diagnose: appState},
		{title: "The mesh, as bosun reports it",
			args: []string{"get", "istio,istiorevision,istiocni"}},
		{title: "bookinfo's pods, with the istio-proxy sidecar Istio's injector added",
			args: podsArgs()},
	}...)
}

// installSteps install bosun as docs/install.md tells a user to: the CRDs, then the operator from
// deploy/bosun.yaml, waiting for each.
func installSteps(cfg Config) []step {
	wait := fmt.Sprintf("--timeout=%s", cfg.wait())
	return []step{
		{title: "Install bosun's CRDs (docs/install.md, plain YAML; server-side, they are large)",
			args: []string{"apply", "--server-side", "-f", "chart/crds/"}},
		{title: "Wait until the API server serves them",
			args: []string{"wait", "--for=condition=Established", wait, "-f", "chart/crds/"}},
		{title: "Install the operator: namespace, ServiceAccount, RBAC, metrics Service, Deployment",
			args: []string{"apply", "--server-side", "-f", "deploy/bosun.yaml"}},
		{title: "Wait for the operator's Deployment; its pod runs bosun as the ServiceAccount bosun-operator, with only the chart's RBAC",
			args:     []string{"wait", "--for=condition=Available", wait, "-n", OperatorNamespace, "deployment/" + OperatorDeployment},
			diagnose: operatorState()},
	}
}

// operatorState are the commands that show why the operator is not running.
func operatorState() [][]string {
	return [][]string{
		{"get", "deployment,pods", "-n", OperatorNamespace, "-o", "wide"},
		{"get", "events", "-n", OperatorNamespace, "--sort-by=.lastTimestamp"},
	}
}

// podsArgs lists bookinfo's pods with their containers and the revision that injected them.
func podsArgs() []string {
	return []string{"get", "pods", "-n", AppNamespace, "-o",
		`custom-columns=NAME:.metadata.name,STATUS:.status.phase,INIT:.spec.initContainers[*].name,CONTAINERS:.spec.containers[*].name,REVISION:.metadata.annotations.istio\.io/rev`}
}

// MeshManifest is the mesh the demo installs: the namespaces, an IstioCNI and an InPlace Istio, as
// the OpenShift Service Mesh 3 documents write them.
func MeshManifest(version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[2]s
---
apiVersion: v1
kind: Namespace
metadata:
  name: %[3]s
---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: %[4]s
spec:
  namespace: %[2]s
  version: %[1]s
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %[4]s
spec:
  namespace: %[3]s
  version: %[1]s
  updateStrategy:
    type: InPlace
`, version, CNINamespace, IstioNamespace, MeshName)
}

// Run runs the demo's steps in order and stops at the first that fails, after printing what
// explains the failure. It returns once bookinfo's pods are shown.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	start := time.Now()
	if cfg.Version.Note != "" {
		fmt.Fprintf(cfg.Out, "demo: Istio %s (%s): %s.\n", cfg.Version.Name, cfg.Version.Resolved, cfg.Version.Note)
	} else {
		fmt.Fprintf(cfg.Out, "demo: Istio %s (%s), the catalog's default.\n", cfg.Version.Name, cfg.Version.Resolved)
	}
	all := steps(cfg)
	for i, s := range all {
		if err := cfg.runStep(ctx, s, fmt.Sprintf("%d/%d, %s", i+1, len(all), time.Since(start).Round(time.Second))); err != nil {
			return fmt.Errorf("demo step %d (%s): %w", i+1, s.title, err)
		}
	}
	fmt.Fprintf(cfg.Out, "\ndemo: a mesh with bookinfo in %s.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// runStep prints a step's title (after where, which says how far the demo is) and command, and runs
// it; when it fails, it prints what explains the failure.
func (cfg Config) runStep(ctx context.Context, s step, where string) error {
	fmt.Fprintf(cfg.Out, "\n==> [%s] %s\n", where, s.title)
	if s.stdin != "" {
		fmt.Fprintf(cfg.Out, "$ kubectl %s <<EOF\n%sEOF\n", strings.Join(s.args, " "), s.stdin)
	} else {
		fmt.Fprintf(cfg.Out, "$ kubectl %s\n", shellJoin(s.args))
	}
	err := cfg.kubectl(ctx, s.args, s.stdin, cfg.Out)
	if err == nil {
		return nil
	}
	for _, d := range s.diagnose {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(cfg.Out, "\n--- to see why:\n$ kubectl %s\n", shellJoin(d))
		_ = cfg.kubectl(ctx, d, "", cfg.Out)
	}
	if ctx.Err() == nil {
		cfg.showOperatorLog()
	}
	return err
}

// kubectl runs kubectl with args in the repository against the cluster, writing its output to out.
func (cfg Config) kubectl(ctx context.Context, args []string, stdin string, out io.Writer) error {
	cmd := exec.CommandContext(ctx, cfg.Kubectl, append([]string{"--kubeconfig", cfg.Kubeconfig}, args...)...)
	cmd.Dir = cfg.Root
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stdout = out
	cmd.Stderr = io.MultiWriter(out, &stderr)
	// A cancelled demo must not wait for a kubectl wait's own timeout.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return fmt.Errorf("kubectl %s: %w: %s", args[0], err, lastLine(msg))
	}
	return fmt.Errorf("kubectl %s: %w", args[0], err)
}

// operatorLogLines is how much of the operator's log a failed step shows.
const operatorLogLines = 10

// showOperatorLog prints the end of each played operator pod's log in LogDir.
func (cfg Config) showOperatorLog() {
	if cfg.LogDir == "" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(cfg.LogDir, "operator", "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(cfg.Out, "\n--- the operator's log, last %d lines of %s:\n%s\n", operatorLogLines, path,
			strings.Join(lines[max(0, len(lines)-operatorLogLines):], "\n"))
	}
}

func (cfg Config) wait() time.Duration {
	if cfg.Wait > 0 {
		return cfg.Wait
	}
	return DefaultWait
}

// shellJoin quotes the arguments a shell would split or expand.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " *\\$'\"[]{}|&;<>()?!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	return lines[len(lines)-1]
}
