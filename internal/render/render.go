// Package render turns one of Istio's charts and a set of values into the Kubernetes objects bosun
// applies. It is the only package that imports Helm.
//
// bosun uses Helm v4's chart loader and template engine, and nothing else of Helm: no releases, no
// client-side apply, no hooks (internal/apply applies with server-side apply). Helm v4 is the
// maintained major version; v3 receives only fixes. The two render Istio's charts alike.
//
// Charts are parsed once per version and chart and kept; values are copied afresh for every render,
// because Istio's zzz_profile.yaml template rewrites .Values while rendering.
//
// Every rendered object's name, namespace and labels are checked with the API server's own rules
// (apimachinery's validators) before Render returns it, so that no object the API server would refuse
// reaches an apply.
package render

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/values"
)

// Chart names, as folders under resources/<version>/charts.
const (
	ChartBase    = "base"
	ChartIstiod  = "istiod"
	ChartCNI     = "cni"
	ChartZTunnel = "ztunnel"
)

// Labels bosun puts on every object it renders.
const (
	// LabelManagedBy marks objects bosun manages.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "bosun"
	// LabelOwner names the resource an object belongs to, as <Kind>.<name>.
	LabelOwner = "bosun.dev/owner"
	// AnnotationHash holds a hash of the object as rendered. internal/apply compares it with the live
	// object's to tell a changed object from an unchanged one without comparing fields that the API
	// server normalises or defaults.
	AnnotationHash = "bosun.dev/hash"
	// AnnotationIstioVersion on a CRD names the Istio version whose chart rendered it, so that bosun
	// can tell a newer CRD from an older one and never downgrade it.
	AnnotationIstioVersion = "bosun.dev/istio-version"
)

// Cluster describes the cluster charts are rendered for; charts read it as .Capabilities.
type Cluster struct {
	// KubeVersion is the API server's version, such as v1.36.3.
	KubeVersion string
	// APIVersions are the group/versions (and group/version/Kind) the API server serves. Empty means
	// Helm's list of built-in Kubernetes API versions.
	APIVersions []string
}

// Owner is the bosun resource rendered objects belong to.
type Owner struct {
	Kind, Name string
}

// Request is one chart to render.
type Request struct {
	// Version is the catalog name of the Istio version; Chart one of the Chart* names.
	Version, Chart string
	// Namespace is the release namespace: where namespaced objects go unless the chart says otherwise.
	Namespace string
	// ReleaseName is what the chart sees as .Release.Name.
	ReleaseName string
	Values      values.Map
	Owner       Owner
	// Templates, when set, keeps only the objects of these template files (base names, such as
	// revision-tags.yaml): a revision tag is the istiod chart's tag templates and nothing else.
	Templates []string
}

// Result is a rendered chart.
type Result struct {
	// CRDs are the CustomResourceDefinitions the chart renders, apart so that they can be applied first
	// and never deleted.
	CRDs []*unstructured.Unstructured
	// Objects are the other objects, in the order they should be applied.
	Objects []*unstructured.Unstructured
}

// Renderer renders charts from a resources folder: <version>/charts/<chart>. It keeps no chart
// between renders: reading and parsing the istiod chart again costs a few milliseconds, and a render
// happens only when a resource's inputs change (Cache), while a parsed chart, its files held in
// memory, would stay in the operator's heap for as long as it runs (docs/performance.md).
type Renderer struct {
	resources fs.FS
	caps      *common.Capabilities
}

// New returns a Renderer over a resources folder for a cluster.
func New(resources fs.FS, cluster Cluster) (*Renderer, error) {
	caps := common.DefaultCapabilities.Copy()
	if cluster.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(cluster.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("cluster version %q: %w", cluster.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	if len(cluster.APIVersions) > 0 {
		caps.APIVersions = common.VersionSet(cluster.APIVersions)
	}
	return &Renderer{resources: resources, caps: caps}, nil
}

// ErrChartNotFound means the resources folder has no such chart for the version: the version's charts
// were not fetched (make charts) or the chart does not exist.
var ErrChartNotFound = errors.New("chart not found")

// Render renders one chart.
func (r *Renderer) Render(req Request) (Result, error) { return r.render(req, true) }

// RenderObjects renders one chart as Render does, but without its CRDs: a document that declares one
// is not even parsed. It is for what installs a chart's objects and leaves Istio's CRDs to the
// controller that applies them once for every control plane: the base chart carries 800 KB of them,
// whose parsing was most of a revision's render.
func (r *Renderer) RenderObjects(req Request) (Result, error) { return r.render(req, false) }

func (r *Renderer) render(req Request, withCRDs bool) (Result, error) {
	ch, err := r.chart(req.Version, req.Chart)
	if err != nil {
		return Result{}, err
	}
	vals, err := chartutil.ToRenderValues(ch, values.DeepCopy(req.Values), common.ReleaseOptions{
		Name:      req.ReleaseName,
		Namespace: req.Namespace,
		IsInstall: true,
		Revision:  1,
	}, r.caps)
	if err != nil {
		return Result{}, fmt.Errorf("%s chart of Istio %s: %w", req.Chart, req.Version, err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return Result{}, fmt.Errorf("rendering the %s chart of Istio %s: %w", req.Chart, req.Version, err)
	}
	objs, err := decode(files, req.Templates, withCRDs)
	if err != nil {
		return Result{}, fmt.Errorf("%s chart of Istio %s: %w", req.Chart, req.Version, err)
	}
	var res Result
	for _, d := range objs {
		o := d.obj
		if o.GetKind() == "CustomResourceDefinition" {
			annotations := o.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[AnnotationIstioVersion] = req.Version
			o.SetAnnotations(annotations)
		}
		Prepare(o, req.Owner)
		if errs := checkMetadata(o); len(errs) > 0 {
			return Result{}, fmt.Errorf("%s chart of Istio %s: %w", req.Chart, req.Version, &InvalidObjectError{
				Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(), Template: d.template,
				Errors: errs, Advice: advice(errs, req),
			})
		}
		if o.GetKind() == "CustomResourceDefinition" {
			res.CRDs = append(res.CRDs, o)
		} else {
			res.Objects = append(res.Objects, o)
		}
	}
	Sort(res.CRDs)
	Sort(res.Objects)
	return res, nil
}

// chart reads and parses a chart of the resources folder.
func (r *Renderer) chart(version, name string) (*chart.Chart, error) {
	dir := path.Join(version, "charts", name)
	var files []*archive.BufferedFile
	err := fs.WalkDir(r.resources, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(r.resources, p)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: strings.TrimPrefix(p, dir+"/"), Data: data})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s chart for Istio %s (run make charts)", ErrChartNotFound, name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the %s chart of Istio %s: %w", name, version, err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading the %s chart of Istio %s: %w", name, version, err)
	}
	return ch, nil
}

// crdDocument matches a YAML document whose top-level kind is CustomResourceDefinition: a line
// "kind: CustomResourceDefinition" without indentation.
var crdDocument = regexp.MustCompile(`(?m)^kind:[ \t]*["']?CustomResourceDefinition["']?[ \t]*$`)

// decoded is a rendered object and the template file it comes from.
type decoded struct {
	template string
	obj      *unstructured.Unstructured
}

// decode parses rendered templates into objects, in a stable order of file names. Empty documents and
// non-manifest files (NOTES.txt) are skipped, and so are templates not in only, when only is set, and
// without withCRDs the documents whose top-level kind is CustomResourceDefinition, before they are
// parsed.
func decode(files map[string]string, only []string, withCRDs bool) ([]decoded, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
			continue
		}
		if len(only) > 0 && !slices.Contains(only, path.Base(name)) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var objs []decoded
	for _, name := range names {
		docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(files[name])))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
			if !withCRDs && crdDocument.Match(doc) {
				continue
			}
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
			if len(m) == 0 {
				continue
			}
			obj := &unstructured.Unstructured{Object: m}
			if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
				return nil, fmt.Errorf("template %s renders an object without kind or apiVersion", name)
			}
			objs = append(objs, decoded{template: name, obj: obj})
		}
	}
	return objs, nil
}

// Prepare makes an object what bosun sends: labelled as bosun's and its owner's, without the fields
// istiod owns, each environment variable of a container once (dedupeEnv), and with the hash
// internal/apply compares. Render prepares every object it renders;
// objects bosun builds itself go through Prepare too.
func Prepare(obj *unstructured.Unstructured, owner Owner) {
	label(obj, owner)
	dropIstiodFields(obj)
	dedupeEnv(obj)
	SetHash(obj)
}

// label marks an object as bosun's and names its owner. A label value may hold 63 characters; a longer
// <Kind>.<name> is cut and ends with a hash of the whole, so it stays unique.
func label(obj *unstructured.Unstructured, owner Owner) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelOwner] = OwnerLabelValue(owner)
	obj.SetLabels(labels)
}

// OwnerLabelValue is the bosun.dev/owner label value of an owner's objects.
func OwnerLabelValue(owner Owner) string {
	v := owner.Kind + "." + owner.Name
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return v[:52] + "-" + hex.EncodeToString(sum[:])[:10]
}
