package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/platform"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/values"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// renderOptions are the flags of `bosun render`.
type renderOptions struct {
	files        []string
	platform     string
	kubeVersion  string
	resources    string
	versionsFile string
	crds         bool
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
by name; --crds prints them whole.`,
		Example: `  bosun render -f istio.yaml
  bosun render -f istio.yaml -f istiocni.yaml --platform openshift
  kubectl get istio default -o yaml | bosun render -f -`,
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
	crds, err := crd.CRDs()
	if err != nil {
		return err
	}
	checker, err := schemacheck.New(crds)
	if err != nil {
		return err
	}
	p := &planner{
		env:      desired.Env{Catalog: cat, Resources: charts, Platform: plat},
		renderer: renderer,
		checker:  checker,
		inputs:   objs,
	}
	results, err := p.plan()
	if err != nil {
		return err
	}
	return printResults(out, results, o.crds)
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

// planned is what bosun applies for one input resource.
type planned struct {
	// source names the input, for the comment printed above its objects.
	source string
	// notes are printed as comments under source.
	notes []string
	// generated are the sailoperator.io objects bosun creates (an Istio's IstioRevision).
	generated []*unstructured.Unstructured
	results   []render.Result
}

// planner turns sailoperator.io resources into what bosun would apply: the decisions of
// internal/desired, over the input as the cluster it would make (desired.Memory), and the charts
// rendered by internal/render. The operator makes the same decisions over the cluster.
type planner struct {
	env      desired.Env
	renderer *render.Renderer
	// checker checks the input against bosun's CRDs as the API server would.
	checker *schemacheck.Checker
	inputs  []*unstructured.Unstructured
	// memory is the cluster the input makes.
	memory *desired.Memory
}

// kindOrder renders control planes first: tags and ZTunnels refer to them.
var kindOrder = []string{"Istio", "IstioRevision", "IstioRevisionTag", "IstioCNI", "ZTunnel"}

func (p *planner) plan() ([]planned, error) {
	if len(p.inputs) == 0 {
		return nil, errors.New("the input has no manifests")
	}
	// Check every input as the API server would, and go on with what it would store: render must not
	// print objects for a manifest that kubectl apply refuses. The CRDs check the shape of spec.version;
	// the catalog's admission policies, which the operator installs, what it may name.
	var istios []*v1.Istio
	var revisions []*v1.IstioRevision
	for i, obj := range p.inputs {
		if !slices.Contains(kindOrder, obj.GetKind()) || !strings.HasPrefix(obj.GetAPIVersion(), "sailoperator.io/") {
			return nil, fmt.Errorf("%s %s: render takes sailoperator.io Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests", obj.GetKind(), obj.GetName())
		}
		valid, err := p.checker.Check(context.Background(), obj)
		if err != nil {
			return nil, err
		}
		if err := versionpolicy.Admit(p.env.Catalog, valid); err != nil {
			return nil, err
		}
		p.inputs[i] = valid
		switch valid.GetKind() {
		case v1.KindIstio:
			istio := &v1.Istio{}
			if err := fromUnstructured(valid, istio); err != nil {
				return nil, err
			}
			istios = append(istios, istio)
		case v1.KindIstioRevision:
			rev := &v1.IstioRevision{}
			if err := fromUnstructured(valid, rev); err != nil {
				return nil, err
			}
			revisions = append(revisions, rev)
		}
	}
	memory, err := p.env.NewMemory(istios, revisions)
	if err != nil {
		return nil, err
	}
	p.memory = memory
	var out []planned
	for _, kind := range kindOrder {
		for _, obj := range p.inputs {
			if obj.GetKind() != kind {
				continue
			}
			pl, err := p.planOne(obj)
			if errors.Is(err, desired.ErrTargetNotFound) {
				err = fmt.Errorf("%w; render reads it from the input: add its manifest with -f", err)
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
			}
			out = append(out, pl)
		}
	}
	return p.withCRDs(out)
}

// withCRDs moves Istio's CRDs into a group of their own, from the base chart of the newest version
// the input's revisions use: bosun applies them once for all control planes, whichever revision is
// named default.
func (p *planner) withCRDs(plans []planned) ([]planned, error) {
	for i := range plans {
		for j := range plans[i].results {
			plans[i].results[j].CRDs = nil
		}
	}
	req, ok, err := p.env.CRDChartInUse(context.Background(), p.memory)
	if err != nil || !ok {
		return plans, err
	}
	res, err := p.renderer.Render(req)
	if err != nil {
		return nil, err
	}
	crds := planned{source: "Istio's CRDs, from the base chart of " + req.Version + ", the newest version in use",
		results: []render.Result{{CRDs: res.CRDs}}}
	return append([]planned{crds}, plans...), nil
}

func (p *planner) planOne(obj *unstructured.Unstructured) (planned, error) {
	ctx := context.Background()
	pl := planned{source: obj.GetKind() + " " + obj.GetName()}
	var reqs []render.Request
	var err error
	switch obj.GetKind() {
	case "Istio":
		istio := &v1.Istio{}
		if err := fromUnstructured(obj, istio); err != nil {
			return pl, err
		}
		rev, _, err := p.env.ActiveRevision(ctx, p.memory, istio)
		if err != nil {
			return pl, err
		}
		rev.OwnerReferences = nil // set by the cluster, with the Istio's UID
		revObj, err := toUnstructured(rev)
		if err != nil {
			return pl, err
		}
		pl.generated = append(pl.generated, revObj)
		reqs, err = p.env.RevisionCharts(rev)
		if err != nil {
			return pl, err
		}
	case "IstioRevision":
		rev := &v1.IstioRevision{}
		if err := fromUnstructured(obj, rev); err != nil {
			return pl, err
		}
		if reqs, err = p.env.RevisionCharts(rev); err != nil {
			return pl, err
		}
	case "IstioRevisionTag":
		tag := &v1.IstioRevisionTag{}
		if err := fromUnstructured(obj, tag); err != nil {
			return pl, err
		}
		if err := p.env.CheckTagName(ctx, p.memory, tag); err != nil {
			return pl, err
		}
		rev, err := p.env.Target(ctx, p.memory, tag.Spec.TargetRef)
		if err != nil {
			return pl, err
		}
		if reqs, err = p.env.TagCharts(tag, rev); err != nil {
			return pl, err
		}
	case "IstioCNI":
		cni := &v1.IstioCNI{}
		if err := fromUnstructured(obj, cni); err != nil {
			return pl, err
		}
		if reqs, err = p.env.CNICharts(cni); err != nil {
			return pl, err
		}
	default:
		zt, note, err := decodeZTunnel(obj)
		if err != nil {
			return pl, err
		}
		if note != "" {
			pl.notes = append(pl.notes, note)
		}
		var target *v1.IstioRevision
		if zt.Spec.TargetRef != nil {
			if target, err = p.env.Target(ctx, p.memory, *zt.Spec.TargetRef); err != nil {
				return pl, err
			}
		}
		if reqs, err = p.env.ZTunnelCharts(zt, target); err != nil {
			return pl, err
		}
	}
	for _, req := range reqs {
		res, err := p.renderer.Render(req)
		if err != nil {
			return pl, err
		}
		pl.results = append(pl.results, res)
	}
	return pl, nil
}

// decodeZTunnel reads a v1 ZTunnel, or a deprecated v1alpha1 one as the API server serves it as v1:
// without spec.profile, which has no effect. The note says so.
func decodeZTunnel(obj *unstructured.Unstructured) (*v1.ZTunnel, string, error) {
	zt := &v1.ZTunnel{}
	if obj.GetAPIVersion() != "sailoperator.io/v1alpha1" {
		return zt, "", fromUnstructured(obj, zt)
	}
	// The input was checked against the v1alpha1 schema already (schemacheck); as the API server
	// serves it as v1, it only loses spec.profile.
	converted := obj.DeepCopy()
	converted.SetAPIVersion(v1.GroupVersion.String())
	unstructured.RemoveNestedField(converted.Object, "spec", "profile")
	if err := fromUnstructured(converted, zt); err != nil {
		return nil, "", err
	}
	return zt, "sailoperator.io/v1alpha1 ZTunnel is deprecated: use sailoperator.io/v1 and remove spec.profile (ztunnel always uses the ambient profile)", nil
}

// printResults writes the planned objects as YAML documents, each group under a comment naming the
// input it comes from.
func printResults(out io.Writer, all []planned, withCRDs bool) error {
	write := func(obj map[string]any) error {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "---\n%s", data)
		return err
	}
	for _, pl := range all {
		fmt.Fprintf(out, "# %s\n", pl.source)
		for _, n := range pl.notes {
			fmt.Fprintf(out, "# Note: %s\n", n)
		}
		for _, g := range pl.generated {
			if err := write(g.Object); err != nil {
				return err
			}
		}
		for _, res := range pl.results {
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

func fromUnstructured(obj *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, into, true)
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := values.FromObject(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}
