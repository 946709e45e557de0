package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/plan"
	"github.com/bosun-mesh/bosun/internal/platform"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/values"
)

// renderOptions are the flags of `bosun render`.
type renderOptions struct {
	files        []string
	platform     string
	kubeVersion  string
	resources    string
	versionsFile string
	crds         bool
	plan         bool
	current      []string
}

func newRenderCommand() *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render -f FILE",
		Short: "Print the manifests bosun would apply for sailoperator.io resources, without a cluster",
		Long: `render reads Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests and prints,
offline, every object bosun would apply for them: for an Istio, the IstioRevision it creates and
the istiod (and, for the revision named default, base) chart's objects. Use it to review a change
in a pull request before it reaches a cluster.

An IstioRevisionTag or a ZTunnel with a targetRef is rendered from the Istio or IstioRevision it
points at, which must be in the same input. Istio's CRDs, which the base chart carries, are listed
by name; --crds prints them whole.

--plan also checks each Istio's version change as the operator does before it makes it: from its
IstioRevisions that run now (--current, as kubectl get prints them) to the version of the input,
against the input's IstioCNI and ZTunnel and the new version's charts. A finding that would make the
operator refuse the change (a node agent the new version does not support, values its charts refuse)
fails the command with what to fix; the others are printed as notes.`,
		Example: `  bosun render -f istio.yaml
  bosun render -f istio.yaml -f istiocni.yaml --platform openshift
  kubectl get istio default -o yaml | bosun render -f -
  kubectl get istiorevisions -o yaml > running.yaml
  bosun render --plan --current running.yaml -f istio.yaml -f istiocni.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(cmd.InOrStdin(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file to render, - for standard input (repeatable)")
	f.StringVar(&o.platform, "platform", string(values.Kubernetes), "platform to render for: kubernetes or openshift")
	f.StringVar(&o.kubeVersion, "kube-version", "v1.36.3", "Kubernetes version the charts see")
	f.StringVar(&o.resources, "resources-dir", "", "folder of fetched charts (default: $"+catalog.EnvResources+", else ./resources)")
	f.StringVar(&o.resources, "resources", "", "")
	_ = f.MarkDeprecated("resources", "use --resources-dir, as bosun-operator does")
	f.StringVar(&o.versionsFile, "versions-file", "", "version catalog to use instead of the built-in one (also $"+catalog.EnvFile+")")
	f.BoolVar(&o.crds, "crds", false, "print Istio's CRDs whole instead of listing their names")
	f.BoolVar(&o.plan, "plan", false, "check each Istio's version change before it is made, as the operator does (pre-flight)")
	f.StringArrayVar(&o.current, "current", nil, "with --plan: the IstioRevisions that run now, as kubectl get prints them, - for standard input (repeatable)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func runRender(stdin io.Reader, out io.Writer, o *renderOptions) error {
	plat, auto, err := platform.Parse(o.platform)
	if err != nil {
		return err
	}
	if auto {
		return errors.New("render works without a cluster: set --platform to kubernetes or openshift")
	}
	cat, err := catalog.Load(o.versionsFile)
	if err != nil {
		return err
	}
	charts, err := catalog.Charts(o.resources)
	if err != nil {
		return err
	}
	renderer, err := render.New(charts, render.Cluster{KubeVersion: o.kubeVersion})
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, name := range o.files {
		read, err := readManifests(stdin, name)
		if err != nil {
			return err
		}
		objs = append(objs, read...)
	}
	checker, err := newSchemaChecker()
	if err != nil {
		return err
	}
	p := &plan.Planner{Env: desired.Env{Catalog: cat, Resources: charts, Platform: plat}, Renderer: renderer, Checker: checker, Preflight: o.plan}
	if len(o.current) > 0 && !o.plan {
		return errors.New("--current is read by --plan only: add --plan")
	}
	var current []*unstructured.Unstructured
	for _, name := range o.current {
		read, err := readManifests(stdin, name)
		if err != nil {
			return err
		}
		current = append(current, read...)
	}
	if err := p.DecodeCurrent(current); err != nil {
		return err
	}
	results, err := p.Plan(objs)
	if err != nil {
		return err
	}
	return printResults(out, results, o.crds)
}

// newSchemaChecker checks manifests against bosun's CRDs as the API server would, offline: for bosun
// render and for what bosun migrate convert prints.
func newSchemaChecker() (*schemacheck.Checker, error) {
	crds, err := crd.CRDs()
	if err != nil {
		return nil, err
	}
	return schemacheck.New(crds)
}

// readManifests reads every YAML document of a file (or standard input for "-").
func readManifests(stdin io.Reader, name string) ([]*unstructured.Unstructured, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// printResults writes the planned objects as YAML documents, each group under a comment naming the
// input it comes from.
func printResults(out io.Writer, all []plan.Planned, withCRDs bool) error {
	write := func(obj map[string]any) error {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "---\n%s", data)
		return err
	}
	for _, pl := range all {
		fmt.Fprintf(out, "# %s\n", pl.Source)
		for _, n := range pl.Notes {
			fmt.Fprintf(out, "# Note: %s\n", n)
		}
		for _, g := range pl.Generated {
			if err := write(g.Object); err != nil {
				return err
			}
		}
		for _, res := range pl.Results {
			for _, crd := range res.CRDs {
				if withCRDs {
					if err := write(crd.Object); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(out, "# CustomResourceDefinition %s (--crds prints it)\n", crd.GetName())
				}
			}
			for _, obj := range res.Objects {
				if render.HasCreateOnlyFields(obj) {
					fmt.Fprintf(out, "# Note: bosun sends webhooks[].failurePolicy of %s %s only until istiod takes it over (istiod flips it to Fail once it serves)\n", obj.GetKind(), obj.GetName())
				}
				if err := write(obj.Object); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
