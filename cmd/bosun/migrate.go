package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/meshview"
	"github.com/bosun-mesh/bosun/internal/migrate"
	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

// migrateOptions are the flags the migrate commands share.
type migrateOptions struct {
	files               []string
	kubeconfig, context string
	controlPlane        string
	convert             migrate.Options
	resources           string
	versionsFile        string
}

func newMigrateCommand() *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a mesh from OpenShift Service Mesh 2.6 (ServiceMeshControlPlane) to bosun",
		Long: `migrate moves a mesh from an OpenShift Service Mesh 2.6 ServiceMeshControlPlane to an Istio that bosun
manages, as docs/migrate-from-ossm2.md describes: check runs the pre-migration checklist against a
cluster, convert prints the Istio, IstioCNI and gateways that replace the control plane with what
has no 3.x equivalent, plan moves the namespaces one at a time.`,
	}
	f := cmd.PersistentFlags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "ServiceMeshControlPlane, ServiceMeshMemberRoll or ServiceMeshMember manifests (repeatable; - for standard input); without it, they are read from the cluster")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "context in that kubeconfig (default: its current context)")
	f.StringVar(&o.controlPlane, "smcp", "", "the ServiceMeshControlPlane to migrate, as namespace/name or name (needed when there are several)")
	f.StringVar(&o.convert.Name, "name", migrate.DefaultName, "name of the new Istio, and so of its revision (istio.io/rev)")
	f.StringVar(&o.convert.Version, "version", "", "spec.version of the new Istio and IstioCNI (default: the catalog's default)")
	f.StringVar(&o.convert.CNINamespace, "cni-namespace", "istio-cni", "namespace of the IstioCNI")
	f.StringVar(&o.resources, "resources-dir", "", "folder of fetched charts, for the checks' view of the mesh as bosun status has it")
	f.StringVar(&o.versionsFile, "versions-file", "", "version catalog to use instead of the built-in one")
	cmd.AddCommand(newMigrateConvertCommand(o), newMigrateCheckCommand(o), newMigratePlanCommand(o), newMigrateVerifyCommand(o))
	return cmd
}

func newMigrateConvertCommand(o *migrateOptions) *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "convert [-f smcp.yaml [-f smmr.yaml]]",
		Short: "Print the Istio, IstioCNI and gateways that replace a ServiceMeshControlPlane, and what has no 3.x equivalent",
		Long: `convert turns a ServiceMeshControlPlane (maistra.io/v2) and its member roll into the sailoperator.io
resources that replace it: an Istio whose revision does not clash with the 2.6 control plane, an
IstioCNI, and, for each gateway 2.6 installed, an injected gateway to deploy next to it. Each
setting carried over is listed with its 3.x field; each setting without a 3.x equivalent, or whose
meaning changes, is a finding with its severity, what it did and what to do now. The output is a
YAML stream whose comments hold the findings. --only sail prints the Istio and IstioCNI alone, which
bosun render takes; --only gateways the gateways alone.`,
		Example: `  bosun migrate convert -f smcp.yaml -f smmr.yaml > ossm3.yaml
  kubectl get smcp,smmr -n istio-system -o yaml | bosun migrate convert -f -
  bosun migrate convert --smcp istio-system/basic --only sail | bosun render -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := o.converted(cmd.Context(), cmd.InOrStdin())
			if err != nil {
				return err
			}
			if err := checkConverted(cmd.Context(), res); err != nil {
				return err
			}
			return printConverted(cmd.OutOrStdout(), res, only)
		},
	}
	cmd.Flags().StringVar(&only, "only", "", "print only the sailoperator.io resources (sail) or only the gateways (gateways)")
	return cmd
}

// inputs reads the 2.6 objects from the files, or from the cluster when there are none.
func (o *migrateOptions) inputs(ctx context.Context, stdin io.Reader) (*maistra.Inputs, error) {
	if len(o.files) == 0 {
		c, _, err := o.client()
		if err != nil {
			return nil, fmt.Errorf("without -f, bosun migrate reads the cluster: %w", err)
		}
		return maistra.Read(ctx, c, "")
	}
	var objs []*unstructured.Unstructured
	for _, name := range o.files {
		read, err := readManifests(stdin, name)
		if err != nil {
			return nil, err
		}
		for _, obj := range read {
			if obj.IsList() {
				if err := obj.EachListItem(func(item runtime.Object) error {
					objs = append(objs, item.(*unstructured.Unstructured))
					return nil
				}); err != nil {
					return nil, err
				}
				continue
			}
			objs = append(objs, obj)
		}
	}
	return maistra.Decode(objs)
}

// clusterOnly refuses -f for a command that reads only the cluster, rather than ignore the files.
func (o *migrateOptions) clusterOnly(command string) error {
	if len(o.files) > 0 {
		return fmt.Errorf("bosun migrate %s reads the cluster, not files: drop -f (convert and plan take files)", command)
	}
	return nil
}

// controlPlaneOf picks the control plane --smcp names, or the only one.
func (o *migrateOptions) controlPlaneOf(in *maistra.Inputs) (*maistra.ControlPlane, error) {
	var names []string
	for _, cp := range in.ControlPlanes {
		full := cp.Namespace + "/" + cp.Name
		if o.controlPlane == full || o.controlPlane == cp.Name {
			return cp, nil
		}
		names = append(names, full)
	}
	switch {
	case len(names) == 0:
		return nil, errors.New("the input has no ServiceMeshControlPlane (maistra.io/v2)")
	case o.controlPlane != "":
		return nil, fmt.Errorf("no ServiceMeshControlPlane %s: the input has %s", o.controlPlane, strings.Join(names, ", "))
	case len(names) > 1:
		return nil, fmt.Errorf("the input has %d ServiceMeshControlPlanes (%s): choose one with --smcp", len(names), strings.Join(names, ", "))
	}
	return in.ControlPlanes[0], nil
}

// converted reads the inputs and converts the chosen control plane.
func (o *migrateOptions) converted(ctx context.Context, stdin io.Reader) (*migrate.Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if v := o.convert.Version; v != "" {
		// The catalog decides which versions bosun installs, for bosun render as for the operator.
		cat, err := catalog.Load(o.versionsFile)
		if err != nil {
			return nil, err
		}
		if _, err := cat.Resolve(v); err != nil {
			return nil, fmt.Errorf("--version: %w", err)
		}
	}
	in, err := o.inputs(ctx, stdin)
	if err != nil {
		return nil, err
	}
	cp, err := o.controlPlaneOf(in)
	if err != nil {
		return nil, err
	}
	return migrate.Convert(cp, migrate.RollFor(cp, in.MemberRolls), in.Members, in.Unknown, o.convert)
}

// client reaches the cluster of --kubeconfig and --context with bosun's kinds and Kubernetes' own.
func (o *migrateOptions) client() (client.Client, *rest.Config, error) {
	_, cfg, err := clusterClient(o.kubeconfig, o.context)
	if err != nil {
		return nil, nil, err
	}
	// --apply reads the view of the mesh every --interval: client-go's default of 5 requests a
	// second would throttle it.
	cfg.QPS, cfg.Burst = 50, 100
	scheme := runtime.NewScheme()
	if err := errors.Join(v1.AddToScheme(scheme), appsv1.AddToScheme(scheme), corev1.AddToScheme(scheme)); err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return c, cfg, err
}

// checkConverted checks the Istio and IstioCNI against bosun's CRDs as the API server would: a value
// carried from the ServiceMeshControlPlane that Istio's schema refuses is reported here, not at
// apply time.
func checkConverted(ctx context.Context, res *migrate.Result) error {
	if ctx == nil {
		ctx = context.Background()
	}
	checker, err := newSchemaChecker()
	if err != nil {
		return err
	}
	for _, obj := range []*unstructured.Unstructured{res.Istio, res.CNI} {
		if _, err := checker.Check(ctx, obj.DeepCopy()); err != nil {
			return fmt.Errorf("the converted %s would be refused: %w; the value comes from the ServiceMeshControlPlane: correct it there or edit the output", obj.GetKind(), err)
		}
	}
	return nil
}

// printConverted writes the findings and mappings as comments, then the manifests.
func printConverted(out io.Writer, res *migrate.Result, only string) error {
	objs := append([]*unstructured.Unstructured{res.Istio, res.CNI}, res.Gateways...)
	switch only {
	case "":
	case "sail":
		objs = objs[:2]
	case "gateways":
		objs = res.Gateways
	default:
		return fmt.Errorf("--only %q: use sail or gateways", only)
	}
	mode := "ClusterWide"
	if res.MultiTenant {
		mode = fmt.Sprintf("MultiTenant, %d members", len(res.Members))
	}
	fmt.Fprintf(out, "# bosun migrate convert: ServiceMeshControlPlane %s/%s (%s) -> Istio %s, revision %s\n", res.Namespace, res.Old, mode, res.Istio.GetName(), res.Revision)
	counts := map[migrate.Severity]int{}
	for _, f := range res.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(out, "#\n# Findings: %d blocking, %s, %d info\n", counts[migrate.Blocking], plural(counts[migrate.Warning], "warning"), counts[migrate.Info])
	for _, f := range res.Findings {
		fmt.Fprintf(out, "#   [%s] %s\n#     2.6: %s\n#     now: %s\n", f.Severity, f.Field, f.Did, f.Now)
	}
	if len(res.Mapped) > 0 {
		fmt.Fprintf(out, "#\n# Carried over:\n")
		for _, m := range res.Mapped {
			fmt.Fprintf(out, "#   %s -> %s\n", m.From, m.To)
		}
	}
	for _, obj := range objs {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

func newMigrateCheckCommand(o *migrateOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run the pre-migration checklist against a cluster: pass, warn or fail for each item",
		Long: `check reads the cluster's ServiceMeshControlPlanes, member rolls, members and federation objects and
runs the OpenShift Service Mesh 3.0 pre-migration checklist: version 2.6 or newer, features that block
the migration, cluster-wide or multitenant mode, gateways and add-ons found, settings to review, and
whether bosun's API is installed. It exits with 1 when an item fails.`,
		Example: `  bosun migrate check
  bosun migrate check -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.clusterOnly("check"); err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, _, err := o.client()
			if err != nil {
				return err
			}
			in, err := maistra.Read(ctx, c, "")
			if err != nil {
				return err
			}
			facts, err := clusterFacts(ctx, c)
			if err != nil {
				return err
			}
			rows := migrate.Check(in, facts, o.convert)
			if err := printChecks(cmd.OutOrStdout(), rows, output); err != nil {
				return err
			}
			if n := migrate.Failed(rows); n > 0 {
				return fmt.Errorf("%s failed: resolve them before migrating", plural(n, "check"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// clusterFacts counts the federation objects and looks for bosun's API.
func clusterFacts(ctx context.Context, c client.Client) (migrate.ClusterFacts, error) {
	var facts migrate.ClusterFacts
	for _, kind := range []string{"ServiceMeshPeer", "ExportedServiceSet", "ImportedServiceSet"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "federation.maistra.io", Version: "v1", Kind: kind + "List"})
		if err := c.List(ctx, list); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return facts, fmt.Errorf("listing %s: %w", kind, err)
		}
		facts.Federation += len(list.Items)
	}
	err := c.List(ctx, &v1.IstioList{}, client.Limit(1))
	switch {
	case err == nil:
		facts.SailAPI = true
	case !meta.IsNoMatchError(err):
		return facts, fmt.Errorf("listing Istios: %w", err)
	}
	return facts, nil
}

func printChecks(out io.Writer, rows []migrate.CheckRow, output string) error {
	switch output {
	case "json":
		data, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	case "text":
	default:
		return fmt.Errorf("--output %q: use text or json", output)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tDETAIL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(string(r.Outcome)), r.Check, r.Detail)
	}
	return tw.Flush()
}

// planOptions are the flags of `bosun migrate plan`.
type planOptions struct {
	namespaces []string
	format     string
	apply      bool
	timeout    time.Duration
	interval   time.Duration
}

func newMigratePlanCommand(o *migrateOptions) *cobra.Command {
	po := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "List, namespace by namespace, the labels, restarts, checks and way back of the migration; --apply runs it",
		Long: `plan reads the cluster's namespaces and workloads and lists, for each namespace of the 2.6 mesh in a
stable order (the members, or in cluster-wide mode the namespaces labelled for the 2.6 injector,
sorted; or those -n names, in that order): the labels to set and remove, the workloads to restart,
the check that follows (bosun migrate verify, which reads what bosun status shows) and how to go
back. --format sh prints it as a script that stops at the first failed check.

With --apply, bosun runs the plan one namespace at a time and waits for each check before the next.
A namespace whose labels are set and whose pods all run the new revision is skipped, so an
interrupted --apply is resumed by running it again.`,
		Example: `  bosun migrate plan --smcp istio-system/basic
  bosun migrate plan -n mercury,venus,earth,mars,jupiter --format sh > migrate.sh
  bosun migrate plan --apply`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := po.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			res, err := o.converted(ctx, cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, cfg, err := o.client()
			if err != nil {
				return err
			}
			states, err := namespaceStates(ctx, c)
			if err != nil {
				return err
			}
			p, err := migrate.NewPlan(res, states, po.namespaces)
			if err != nil {
				return err
			}
			switch {
			case po.apply:
				return applyPlan(ctx, cmd.OutOrStdout(), c, cfg, o, po, p)
			case po.format == "sh":
				return p.Shell(cmd.OutOrStdout())
			}
			return p.Text(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&po.namespaces, "namespace", "n", nil, "move only these namespaces, in this order (repeat, or separate with commas)")
	f.StringVar(&po.format, "format", "text", "text or sh")
	f.BoolVar(&po.apply, "apply", false, "run the plan, one namespace at a time")
	f.DurationVar(&po.timeout, "timeout", 10*time.Minute, "with --apply: how long each namespace may take to pass its check")
	f.DurationVar(&po.interval, "interval", 2*time.Second, "with --apply: how often to read the cluster while waiting for a check")
	return cmd
}

// check refuses flags that cannot work before anything is read or changed.
func (po *planOptions) check() error {
	switch {
	case po.format != "text" && po.format != "sh":
		return fmt.Errorf("--format %q: use text or sh", po.format)
	case po.apply && po.interval <= 0:
		return fmt.Errorf("--interval %s: use a positive duration, such as 2s", po.interval)
	case po.apply && po.timeout <= 0:
		return fmt.Errorf("--timeout %s: use a positive duration, such as 10m", po.timeout)
	}
	return nil
}

// workloadKinds are the kinds a step restarts, as kubectl names them.
var workloadKinds = []struct {
	kubectl string
	gvk     schema.GroupVersionKind
}{
	{"daemonset", appsv1.SchemeGroupVersion.WithKind("DaemonSetList")},
	{"deployment", appsv1.SchemeGroupVersion.WithKind("DeploymentList")},
	{"statefulset", appsv1.SchemeGroupVersion.WithKind("StatefulSetList")},
}

// namespaceStates reads every namespace's labels and its workloads, metadata only.
func namespaceStates(ctx context.Context, c client.Client) ([]migrate.NamespaceState, error) {
	nsList := &metav1.PartialObjectMetadataList{}
	nsList.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := c.List(ctx, nsList); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	byName := map[string]*migrate.NamespaceState{}
	var out []migrate.NamespaceState
	for _, ns := range nsList.Items {
		out = append(out, migrate.NamespaceState{Name: ns.Name, Labels: ns.Labels})
	}
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	for _, k := range workloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(k.gvk)
		if err := c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", k.kubectl, err)
		}
		for _, w := range list.Items {
			if ns := byName[w.Namespace]; ns != nil {
				ns.Workloads = append(ns.Workloads, migrate.Workload{Kind: k.kubectl, Name: w.Name})
			}
		}
	}
	return out, nil
}

// verifyNamespace reads bosun status for the namespace and runs the step's check.
func verifyNamespace(ctx context.Context, c client.Client, mc metadata.Interface, o *migrateOptions, namespace, revision string) (meshview.Status, error) {
	env, err := statusEnv(&statusOptions{resources: o.resources, versionsFile: o.versionsFile}, io.Discard)
	if err != nil {
		return meshview.Status{}, err
	}
	snap, err := meshview.Read(ctx, c, mc)
	if err != nil {
		return meshview.Status{}, err
	}
	st := meshview.Build(env, snap, namespace)
	return st, migrate.Verify(st, namespace, revision)
}

// applyPlan runs the plan one namespace at a time: label, restart, wait for the check. A namespace
// already labelled whose check passes is skipped, which makes a second run resume the first.
func applyPlan(ctx context.Context, out io.Writer, c client.Client, cfg *rest.Config, o *migrateOptions, po *planOptions, p *migrate.Plan) error {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	a := &applier{c: c, mc: mc, o: o, po: po, revision: p.Revision}
	for i, step := range p.Steps {
		prefix := fmt.Sprintf("[%d/%d] namespace %s", i+1, len(p.Steps), step.Namespace)
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: step.Namespace}, ns); err != nil {
			return err
		}
		if st, done := a.done(ctx, step, ns); done {
			fmt.Fprintf(out, "%s: already on %s\n", prefix, a.onRevision(st, step))
			continue
		}
		if err := a.label(ctx, step, ns); err != nil {
			return fmt.Errorf("%s: labelling: %w", prefix, err)
		}
		fmt.Fprintf(out, "%s: %s\n", prefix, migrate.LabelCommand(step.Namespace, step.Set, step.Remove))
		if err := a.restart(ctx, step); err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		fmt.Fprintf(out, "%s: restarted %s; waiting for its check\n", prefix, plural(len(step.Restart), "workload"))
		st, err := a.waitForCheck(ctx, step)
		if err != nil {
			return fmt.Errorf("%s: %w; to go back: %s, then restart its workloads", prefix, err, migrate.LabelCommand(step.Namespace, step.BackSet, step.BackRemove))
		}
		fmt.Fprintf(out, "%s: on %s\n", prefix, a.onRevision(st, step))
	}
	fmt.Fprintf(out, "every namespace of %s is on %s\n", p.ControlPlane, p.Revision)
	return nil
}

// applier runs the steps of a plan against the cluster.
type applier struct {
	c        client.Client
	mc       metadata.Interface
	o        *migrateOptions
	po       *planOptions
	revision string
}

// done reports whether the step is done already: the namespace has the step's labels and passes its
// check. It reads the namespace's view of the mesh only when the labels are there.
func (a *applier) done(ctx context.Context, step migrate.Step, ns *corev1.Namespace) (meshview.Status, bool) {
	if !step.Labelled(ns.Labels) {
		return meshview.Status{}, false
	}
	st, err := verifyNamespace(ctx, a.c, a.mc, a.o, step.Namespace, a.revision)
	return st, err == nil
}

// label sets and removes the step's namespace labels in one merge patch.
func (a *applier) label(ctx context.Context, step migrate.Step, ns *corev1.Namespace) error {
	labels := map[string]any{}
	for k, v := range step.Set {
		labels[k] = v
	}
	for _, k := range step.Remove {
		labels[k] = nil
	}
	return mergePatch(ctx, a.c, ns, map[string]any{"metadata": map[string]any{"labels": labels}})
}

// restart restarts the step's workloads as kubectl rollout restart does: a new restartedAt
// annotation on each pod template.
func (a *applier) restart(ctx context.Context, step migrate.Step) error {
	restartedAt := time.Now().UTC().Format(time.RFC3339)
	for _, wl := range step.Restart {
		obj, err := workloadObject(wl, step.Namespace)
		if err != nil {
			return err
		}
		body := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{"kubectl.kubernetes.io/restartedAt": restartedAt}}}}}
		if err := mergePatch(ctx, a.c, obj, body); err != nil {
			return fmt.Errorf("restarting %s/%s: %w", wl.Kind, wl.Name, err)
		}
	}
	return nil
}

// waitForCheck reads the cluster every --interval until the step's Deployments have rolled out and
// the namespace passes its check, and returns the view that passed; after --timeout it returns what
// was still wrong.
func (a *applier) waitForCheck(ctx context.Context, step migrate.Step) (meshview.Status, error) {
	var last error
	var st meshview.Status
	err := wait.PollUntilContextTimeout(ctx, a.po.interval, a.po.timeout, true, func(ctx context.Context) (bool, error) {
		if last = rolledOut(ctx, a.c, step); last != nil {
			return false, nil
		}
		st, last = verifyNamespace(ctx, a.c, a.mc, a.o, step.Namespace, a.revision)
		return last == nil, nil
	})
	switch {
	case err != nil && last == nil:
		// Stopped (Ctrl-C) before the first check.
		return st, err
	case err != nil && ctx.Err() != nil:
		return st, fmt.Errorf("stopped before the check passed (%w): %v", ctx.Err(), last)
	case err != nil:
		return st, fmt.Errorf("the check did not pass within %s: %v", a.po.timeout, last)
	}
	return st, nil
}

// onRevision says how many of the namespace's workloads and pods run the revision.
func (a *applier) onRevision(st meshview.Status, step migrate.Step) string {
	w, pods := migrate.OnRevision(st, step.Namespace, a.revision)
	return fmt.Sprintf("%s (%s, %s)", a.revision, plural(w, "workload"), plural(pods, "pod"))
}

// mergePatch patches the object as kubectl patch --type=merge does.
func mergePatch(ctx context.Context, c client.Client, obj client.Object, body map[string]any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data))
}

// workloadObject is the Deployment, StatefulSet or DaemonSet a step restarts.
func workloadObject(wl migrate.Workload, namespace string) (client.Object, error) {
	meta := metav1.ObjectMeta{Name: wl.Name, Namespace: namespace}
	var obj client.Object
	switch wl.Kind {
	case "deployment":
		obj = &appsv1.Deployment{ObjectMeta: meta}
	case "statefulset":
		obj = &appsv1.StatefulSet{ObjectMeta: meta}
	case "daemonset":
		obj = &appsv1.DaemonSet{ObjectMeta: meta}
	default:
		return nil, fmt.Errorf("unknown workload kind %q", wl.Kind)
	}
	return obj, nil
}

// rolledOut returns nil once every workload the step restarted has rolled out, as bosun decides
// istiod's readiness (kstatus): the controller saw the new template, and every replica is updated
// and ready. It covers the StatefulSets and DaemonSets the step restarts too, as the script's
// kubectl rollout status does.
func rolledOut(ctx context.Context, c client.Client, step migrate.Step) error {
	for _, wl := range step.Restart {
		obj, err := workloadObject(wl, step.Namespace)
		if err != nil {
			return err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		// kstatus tells the kinds apart by the object's apiVersion and kind, which a typed Get leaves
		// empty.
		gvk, err := c.GroupVersionKindFor(obj)
		if err != nil {
			return err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("reading the rollout of %s/%s: %w", wl.Kind, wl.Name, err)
		}
		if res.Status != status.CurrentStatus {
			return fmt.Errorf("%s %s/%s is rolling out: %s", wl.Kind, step.Namespace, wl.Name, res.Message)
		}
	}
	return nil
}

func newMigrateVerifyCommand(o *migrateOptions) *cobra.Command {
	var revision string
	cmd := &cobra.Command{
		Use:   "verify NAMESPACE --revision REVISION",
		Short: "Check a namespace after its step: it selects the revision, which is Ready, and every injected pod runs it",
		Long: `verify is the check after each step of bosun migrate plan. It reads what bosun status shows for the
namespace and passes when the revision is Ready, the namespace selects it, and no workload of the
namespace is due for a restart; otherwise it says what is wrong and exits with 1.`,
		Example: `  bosun migrate verify mercury --revision ossm3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.clusterOnly("verify"); err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, cfg, err := o.client()
			if err != nil {
				return err
			}
			mc, err := metadata.NewForConfig(cfg)
			if err != nil {
				return err
			}
			st, err := verifyNamespace(ctx, c, mc, o, args[0], revision)
			if err != nil {
				return err
			}
			w, pods := migrate.OnRevision(st, args[0], revision)
			fmt.Fprintf(cmd.OutOrStdout(), "namespace %s is on %s: %s, %s\n", args[0], revision, plural(w, "workload"), plural(pods, "pod"))
			return nil
		},
	}
	cmd.Flags().StringVar(&revision, "revision", migrate.DefaultName, "the revision the namespace moved to")
	return cmd
}

// plural is "1 warning" or "N warnings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
