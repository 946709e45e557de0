package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/platform"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/revision"
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
	f.StringVar(&o.resources, "resources", "", "folder of fetched charts (default: $BOSUN_RESOURCES, else ./resources)")
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
	resources := resourcesDir(o.resources)
	renderer, err := render.New(os.DirFS(resources), render.Cluster{KubeVersion: o.kubeVersion})
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
	p := &planner{catalog: cat, renderer: renderer, resources: resources, platform: plat, inputs: objs}
	results, err := p.plan()
	if err != nil {
		return err
	}
	return printResults(out, results, o.crds)
}

// resourcesDir is where fetched charts are: the flag, else $BOSUN_RESOURCES, else ./resources.
func resourcesDir(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("BOSUN_RESOURCES"); env != "" {
		return env
	}
	return "resources"
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
	// generated are the sailoperator.io objects bosun creates (an Istio's IstioRevision).
	generated []*unstructured.Unstructured
	results   []render.Result
}

// planner turns sailoperator.io resources into what bosun would apply.
type planner struct {
	catalog   *catalog.Catalog
	renderer  *render.Renderer
	resources string
	platform  values.Platform
	inputs    []*unstructured.Unstructured

	// revisions are the IstioRevisions of the input, given or computed from an Istio, by name; and
	// activeRevision maps an Istio's name to its revision, for targetRefs.
	revisions      map[string]*v1.IstioRevision
	activeRevision map[string]string
}

func (p *planner) plan() ([]planned, error) {
	p.revisions = map[string]*v1.IstioRevision{}
	p.activeRevision = map[string]string{}
	var out []planned
	// Control planes first: tags and ZTunnels refer to them.
	for _, kind := range []string{"Istio", "IstioRevision", "IstioRevisionTag", "IstioCNI", "ZTunnel"} {
		for _, obj := range p.inputs {
			if obj.GetKind() != kind {
				continue
			}
			if !strings.HasPrefix(obj.GetAPIVersion(), "sailoperator.io/") {
				return nil, fmt.Errorf("%s %s: apiVersion %s is not sailoperator.io", kind, obj.GetName(), obj.GetAPIVersion())
			}
			pl, err := p.planOne(obj)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
			}
			out = append(out, pl)
		}
	}
	for _, obj := range p.inputs {
		switch obj.GetKind() {
		case "Istio", "IstioRevision", "IstioRevisionTag", "IstioCNI", "ZTunnel":
		default:
			return nil, fmt.Errorf("%s %s: render takes Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests", obj.GetKind(), obj.GetName())
		}
	}
	return out, nil
}

func (p *planner) planOne(obj *unstructured.Unstructured) (planned, error) {
	pl := planned{source: obj.GetKind() + " " + obj.GetName()}
	switch obj.GetKind() {
	case "Istio":
		istio := &v1.Istio{}
		if err := fromUnstructured(obj, istio); err != nil {
			return pl, err
		}
		rev, err := p.istioRevision(istio)
		if err != nil {
			return pl, err
		}
		revObj, err := toUnstructured(rev)
		if err != nil {
			return pl, err
		}
		pl.generated = append(pl.generated, revObj)
		pl.results, err = p.renderRevision(rev)
		return pl, err
	case "IstioRevision":
		rev := &v1.IstioRevision{}
		if err := fromUnstructured(obj, rev); err != nil {
			return pl, err
		}
		p.revisions[rev.Name] = rev
		var err error
		pl.results, err = p.renderRevision(rev)
		return pl, err
	case "IstioRevisionTag":
		tag := &v1.IstioRevisionTag{}
		if err := fromUnstructured(obj, tag); err != nil {
			return pl, err
		}
		var err error
		pl.results, err = p.renderTag(tag)
		return pl, err
	case "IstioCNI":
		cni := &v1.IstioCNI{}
		if err := fromUnstructured(obj, cni); err != nil {
			return pl, err
		}
		var err error
		pl.results, err = p.renderCNI(cni)
		return pl, err
	default:
		zt := &v1.ZTunnel{}
		if err := fromUnstructured(obj, zt); err != nil {
			return pl, err
		}
		var err error
		pl.results, err = p.renderZTunnel(zt)
		return pl, err
	}
}

// resolve turns spec.version into a catalog version and the profiles it ships.
func (p *planner) resolve(name string) (catalog.Version, values.Profiles, error) {
	if name == "" {
		name = p.catalog.Default()
	}
	v, err := p.catalog.Resolve(name)
	if err != nil {
		return v, values.Profiles{}, err
	}
	return v, values.Profiles{FS: os.DirFS(filepath.Join(p.resources, v.Name)), Version: v.Name}, nil
}

// istioRevision is the IstioRevision bosun writes for an Istio: the concrete version and the complete
// values.
func (p *planner) istioRevision(istio *v1.Istio) (*v1.IstioRevision, error) {
	version, profiles, err := p.resolve(string(istio.Spec.Version))
	if err != nil {
		return nil, err
	}
	user, err := userValues(istio.Spec.Values)
	if err != nil {
		return nil, err
	}
	name := revision.Name(istio)
	namespace := istio.Spec.Namespace
	if namespace == "" {
		namespace = "istio-system"
	}
	computed, err := values.ControlPlane(values.ControlPlaneInput{
		Profiles: profiles, Profile: istio.Spec.Profile, Platform: p.platform,
		User: user, Revision: name, Namespace: namespace,
	})
	if err != nil {
		return nil, err
	}
	rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version.Name), Namespace: namespace}}
	rev.APIVersion, rev.Kind = v1.GroupVersion.String(), "IstioRevision"
	rev.Name = name
	rev.Spec.Values = &v1.Values{}
	if err := remarshal(computed, rev.Spec.Values); err != nil {
		return nil, fmt.Errorf("the computed values do not fit IstioRevision.spec.values: %w", err)
	}
	p.revisions[name] = rev
	p.activeRevision[istio.Name] = name
	return rev, nil
}

// renderRevision renders an IstioRevision's istiod chart and, for the revision named default, the base
// chart with Istio's CRDs and the default validator.
func (p *planner) renderRevision(rev *v1.IstioRevision) ([]render.Result, error) {
	version, _, err := p.resolve(string(rev.Spec.Version))
	if err != nil {
		return nil, err
	}
	vals, err := userValues(rev.Spec.Values)
	if err != nil {
		return nil, err
	}
	owner := render.Owner{Kind: "IstioRevision", Name: rev.Name}
	charts := []string{render.ChartIstiod}
	if rev.Name == "default" {
		charts = append(charts, render.ChartBase)
	}
	var results []render.Result
	for _, chart := range charts {
		res, err := p.renderer.Render(render.Request{
			Version: version.Name, Chart: chart, Namespace: rev.Spec.Namespace,
			ReleaseName: rev.Name + "-" + chart, Values: vals, Owner: owner,
		})
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	return results, nil
}

// targetRevision finds the IstioRevision a targetRef points at among the input.
func (p *planner) targetRevision(ref v1.TargetReference) (*v1.IstioRevision, error) {
	name := ref.Name
	if ref.Kind == v1.KindIstio {
		active, ok := p.activeRevision[ref.Name]
		if !ok {
			return nil, fmt.Errorf("targetRef names Istio %s, which is not in the input; add its manifest with -f", ref.Name)
		}
		name = active
	}
	rev, ok := p.revisions[name]
	if !ok {
		return nil, fmt.Errorf("targetRef names IstioRevision %s, which is not in the input; add its manifest with -f", name)
	}
	return rev, nil
}

// renderTag renders a tag: the istiod chart's revision-tag webhook for the target revision and, for
// the tag named default, the base chart with the default validator pointing at that revision.
func (p *planner) renderTag(tag *v1.IstioRevisionTag) ([]render.Result, error) {
	rev, err := p.targetRevision(tag.Spec.TargetRef)
	if err != nil {
		return nil, err
	}
	version, _, err := p.resolve(string(rev.Spec.Version))
	if err != nil {
		return nil, err
	}
	vals, err := userValues(rev.Spec.Values)
	if err != nil {
		return nil, err
	}
	owner := render.Owner{Kind: "IstioRevisionTag", Name: tag.Name}
	vals["revisionTags"] = []any{tag.Name}
	res, err := p.renderer.Render(render.Request{
		Version: version.Name, Chart: render.ChartIstiod, Namespace: rev.Spec.Namespace,
		ReleaseName: tag.Name + "-revisiontags", Values: vals, Owner: owner,
		Templates: []string{"revision-tags.yaml", "revision-tags-mwc.yaml", "revision-tags-svc.yaml"},
	})
	if err != nil {
		return nil, err
	}
	results := []render.Result{res}
	if tag.Name == "default" {
		base := values.Merge(vals, values.Map{"defaultRevision": rev.Name})
		delete(base, "revisionTags")
		res, err := p.renderer.Render(render.Request{
			Version: version.Name, Chart: render.ChartBase, Namespace: rev.Spec.Namespace,
			ReleaseName: "default-base", Values: base, Owner: owner,
		})
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	return results, nil
}

func (p *planner) renderCNI(cni *v1.IstioCNI) ([]render.Result, error) {
	version, profiles, err := p.resolve(string(cni.Spec.Version))
	if err != nil {
		return nil, err
	}
	user, err := userValues(cni.Spec.Values)
	if err != nil {
		return nil, err
	}
	vals, err := values.CNI(values.CNIInput{Profiles: profiles, Profile: cni.Spec.Profile, Platform: p.platform, User: user})
	if err != nil {
		return nil, err
	}
	res, err := p.renderer.Render(render.Request{
		Version: version.Name, Chart: render.ChartCNI, Namespace: orDefault(cni.Spec.Namespace, "istio-cni"),
		ReleaseName: "istio-cni", Values: vals, Owner: render.Owner{Kind: "IstioCNI", Name: cni.Name},
	})
	return []render.Result{res}, err
}

func (p *planner) renderZTunnel(zt *v1.ZTunnel) ([]render.Result, error) {
	version, profiles, err := p.resolve(string(zt.Spec.Version))
	if err != nil {
		return nil, err
	}
	user, err := userValues(zt.Spec.Values)
	if err != nil {
		return nil, err
	}
	var revValues values.Map
	if zt.Spec.TargetRef != nil {
		rev, err := p.targetRevision(*zt.Spec.TargetRef)
		if err != nil {
			return nil, err
		}
		if revValues, err = userValues(rev.Spec.Values); err != nil {
			return nil, err
		}
	}
	vals, err := values.ZTunnel(values.ZTunnelInput{Profiles: profiles, Platform: p.platform, Revision: revValues, User: user})
	if err != nil {
		return nil, err
	}
	res, err := p.renderer.Render(render.Request{
		Version: version.Name, Chart: render.ChartZTunnel, Namespace: orDefault(zt.Spec.Namespace, "ztunnel"),
		ReleaseName: "ztunnel", Values: vals, Owner: render.Owner{Kind: "ZTunnel", Name: zt.Name},
	})
	return []render.Result{res}, err
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

// userValues turns a spec.values (nil or a typed values struct) into a Map.
func userValues(v any) (values.Map, error) {
	m, err := values.FromObject(v)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = values.Map{}
	}
	return m, nil
}

// remarshal decodes a Map into a typed struct through JSON, refusing keys the struct does not have.
func remarshal(m values.Map, into any) error {
	data, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(data, into)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
