// Command bundle writes bosun's OLM bundle, as `make bundle` runs it from the repository root:
//
//	go run ./hack/bundle [-out bin/bundle] [-version 0.1.0]
//
// The bundle is built from what the other install paths use, so the three cannot drift apart: the
// Deployment, ServiceAccount and RBAC rules of deploy/bosun.yaml (the chart, rendered by make
// manifests), bosun's CRDs from chart/crds, and Istio's CRDs from the base chart of the newest catalog
// version, as the operator itself applies them (listed as internal objects, so that a console does not
// offer them as things to create). The examples are the OpenShift Service Mesh 3 documents' manifests
// of config/crd/testdata/ossm-docs. Channels follow those documents (§1.2 of "Updating OpenShift
// Service Mesh 3"): stable, and stable-<major>.<minor> for patch updates only.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// The package name and the documents' examples that become alm-examples.
const (
	packageName = "bosun"
	examples    = "config/crd/testdata/ossm-docs"
)

// icon is bosun's mark: a ship's wheel.
const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><g fill="none" stroke="#1d4e89" stroke-width="4">` +
	`<circle cx="32" cy="32" r="18"/><circle cx="32" cy="32" r="5"/>` +
	`<path d="M32 4v56M4 32h56M12 12l40 40M52 12L12 52"/></g></svg>`

var exampleFiles = []string{"03-revisionbased-istio-with-tag.yaml", "03-istiocni.yaml", "03-ztunnel-termination-grace-period.yaml"}

func main() {
	out := flag.String("out", "bin/bundle", "the bundle directory to write (replaced)")
	version := flag.String("version", "", "bosun's version, such as 0.1.0 (default: chart/Chart.yaml's appVersion)")
	resources := flag.String("resources", "resources", "the fetched charts (make charts)")
	flag.Parse()
	if err := run(*out, *version, *resources); err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func run(out, version, resources string) error {
	if version == "" {
		v, err := chartAppVersion()
		if err != nil {
			return err
		}
		version = v
	}
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return fmt.Errorf("version %q: %w", version, err)
	}
	install, err := readManifests("deploy/bosun.yaml")
	if err != nil {
		return err
	}
	ours, err := crd.CRDs()
	if err != nil {
		return err
	}
	istioCRDs, istioVersion, err := renderIstioCRDs(resources)
	if err != nil {
		return err
	}
	alm, err := almExamples(resources)
	if err != nil {
		return err
	}
	csv, err := clusterServiceVersion(v, install, ours, istioCRDs, istioVersion, alm)
	if err != nil {
		return err
	}

	if err := os.RemoveAll(out); err != nil {
		return err
	}
	manifests := filepath.Join(out, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "metadata"), 0o755); err != nil {
		return err
	}
	if err := writeYAML(filepath.Join(manifests, packageName+".clusterserviceversion.yaml"), csv); err != nil {
		return err
	}
	for _, c := range ours {
		c.APIVersion, c.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		if err := writeYAML(filepath.Join(manifests, c.Name+".yaml"), c); err != nil {
			return err
		}
	}
	for _, c := range istioCRDs {
		if err := writeYAML(filepath.Join(manifests, c.GetName()+".yaml"), c.Object); err != nil {
			return err
		}
	}
	channel := fmt.Sprintf("stable-%d.%d", v.Major(), v.Minor())
	annotations := map[string]any{"annotations": map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         packageName,
		"operators.operatorframework.io.bundle.channels.v1":        "stable," + channel,
		"operators.operatorframework.io.bundle.channel.default.v1": "stable",
	}}
	if err := writeYAML(filepath.Join(out, "metadata", "annotations.yaml"), annotations); err != nil {
		return err
	}
	fmt.Printf("bundle: %s %s (channels stable, %s) in %s: %d of bosun's CRDs, %d of Istio's (%s)\n",
		packageName, v, channel, out, len(ours), len(istioCRDs), istioVersion)
	return nil
}

// chartAppVersion reads the chart's appVersion, bosun's version.
func chartAppVersion() (string, error) {
	data, err := os.ReadFile("chart/Chart.yaml")
	if err != nil {
		return "", err
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		return "", err
	}
	return chart.AppVersion, nil
}

// readManifests reads the objects of a multi-document YAML file by kind.
func readManifests(path string) (map[string]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run make manifests)", err)
	}
	out := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj.Object) > 0 {
			out[obj.GetKind()] = obj
		}
	}
	for _, kind := range []string{"Deployment", "ServiceAccount", "ClusterRole", "Role"} {
		if out[kind] == nil {
			return nil, fmt.Errorf("%s has no %s", path, kind)
		}
	}
	return out, nil
}

// renderIstioCRDs renders Istio's CRDs from the base chart of the newest catalog version, as the
// operator applies them.
func renderIstioCRDs(resources string) ([]*unstructured.Unstructured, string, error) {
	cat := catalog.Embedded()
	// The facts of a cluster that runs every version of the catalog.
	facts := &desired.Facts{Revisions: map[string]*v1.IstioRevision{}}
	for _, v := range cat.Versions() {
		facts.Revisions[v.Name] = &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(v.Name)}}
	}
	env := desired.Env{Catalog: cat, Resources: os.DirFS(resources)}
	req, ok := env.ForCRDs(facts)
	if !ok {
		return nil, "", errors.New("the catalog has no version")
	}
	r, err := render.New(env.Resources, render.Cluster{})
	if err != nil {
		return nil, "", err
	}
	res, err := r.Render(req)
	if err != nil {
		return nil, "", fmt.Errorf("%w (run make charts)", err)
	}
	return res.CRDs, req.Version, nil
}

// almExamples are the documents' manifests, as a console shows them when creating each kind, and the
// IstioRevision the first Istio among them becomes (users seldom write one; the Istio controller does).
func almExamples(resources string) (string, error) {
	var objs []map[string]any
	for _, name := range exampleFiles {
		data, err := os.ReadFile(filepath.Join(examples, name))
		if err != nil {
			return "", err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", name, err)
			}
			if len(obj) > 0 {
				// The documents name versions that may have left the catalog; without one, the
				// operator's catalog default applies.
				unstructured.RemoveNestedField(obj, "spec", "version")
				objs = append(objs, obj)
			}
		}
	}
	for _, obj := range objs {
		if obj["kind"] != v1.KindIstio {
			continue
		}
		istio := &v1.Istio{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, istio); err != nil {
			return "", err
		}
		rev, refusal := desired.Env{Catalog: catalog.Embedded(), Resources: os.DirFS(resources), Platform: values.Kubernetes}.RevisionOf(istio)
		if refusal != nil {
			return "", refusal
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rev)
		if err != nil {
			return "", err
		}
		delete(m, "status")
		unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
		objs = append(objs, m)
		break
	}
	data, err := json.MarshalIndent(objs, "", "  ")
	return string(data), err
}

// clusterServiceVersion describes the operator to OLM.
func clusterServiceVersion(v *semver.Version, install map[string]*unstructured.Unstructured, ours []*apiextensionsv1.CustomResourceDefinition,
	istioCRDs []*unstructured.Unstructured, istioVersion, alm string) (map[string]any, error) {
	deploy := install["Deployment"]
	spec, _, _ := unstructured.NestedMap(deploy.Object, "spec")
	// OLM sets the operator's namespace; the rendered Deployment names the chart's default one.
	containers, _, _ := unstructured.NestedSlice(spec, "template", "spec", "containers")
	for _, c := range containers {
		c := c.(map[string]any)
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		for i, a := range args {
			if strings.HasPrefix(a, "--leader-election-namespace=") {
				args = append(args[:i], args[i+1:]...)
				break
			}
		}
		if err := unstructured.SetNestedStringSlice(c, args, "args"); err != nil {
			return nil, err
		}
	}
	if err := unstructured.SetNestedSlice(spec, containers, "template", "spec", "containers"); err != nil {
		return nil, err
	}
	account := install["ServiceAccount"].GetName()
	clusterRules, _, _ := unstructured.NestedSlice(install["ClusterRole"].Object, "rules")
	rules, _, _ := unstructured.NestedSlice(install["Role"].Object, "rules")
	image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")

	var owned []map[string]any
	for _, c := range ours {
		for _, ver := range c.Spec.Versions {
			if ver.Deprecated || !ver.Served {
				// A console offers the current version of a kind (ZTunnel v1, not v1alpha1).
				continue
			}
			description := c.Spec.Names.Kind
			if ver.Schema != nil && ver.Schema.OpenAPIV3Schema != nil && ver.Schema.OpenAPIV3Schema.Description != "" {
				description = firstSentence(ver.Schema.OpenAPIV3Schema.Description)
			}
			owned = append(owned, map[string]any{
				"name": c.Name, "version": ver.Name, "kind": c.Spec.Names.Kind,
				"displayName": c.Spec.Names.Kind, "description": description,
			})
		}
	}
	var internal []string
	for _, u := range istioCRDs {
		c := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
			return nil, err
		}
		internal = append(internal, c.Name)
		for _, ver := range c.Spec.Versions {
			if !ver.Served {
				continue
			}
			owned = append(owned, map[string]any{
				"name": c.Name, "version": ver.Name, "kind": c.Spec.Names.Kind, "displayName": c.Spec.Names.Kind,
				"description": fmt.Sprintf("Istio's %s (from the base chart of Istio %s; bosun keeps it at the newest version in use)", c.Spec.Names.Kind, istioVersion),
			})
		}
	}
	sort.Strings(internal)
	internalJSON, err := json.Marshal(internal)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1",
		"kind":       "ClusterServiceVersion",
		"metadata": map[string]any{
			"name": fmt.Sprintf("%s.v%s", packageName, v),
			"annotations": map[string]string{
				"alm-examples":   alm,
				"capabilities":   "Seamless Upgrades",
				"categories":     "Networking",
				"containerImage": image,
				"description":    "Installs, upgrades and retires Istio service meshes with the sailoperator.io/v1 API.",
				"operators.operatorframework.io/internal-objects": string(internalJSON),
				"repository": "https://github.com/bosun-mesh/bosun",
			},
		},
		"spec": map[string]any{
			"displayName": "bosun",
			"icon":        []any{map[string]any{"base64data": base64.StdEncoding.EncodeToString([]byte(icon)), "mediatype": "image/svg+xml"}},
			"description": "bosun installs, upgrades and retires Istio service meshes from Istio's own Helm charts. " +
				"It serves the sailoperator.io/v1 API of OpenShift Service Mesh 3 (Istio, IstioRevision, IstioRevisionTag, IstioCNI, ZTunnel), " +
				"so existing manifests and runbooks apply unchanged.",
			"version":        v.String(),
			"minKubeVersion": "1.30.0",
			"maturity":       "alpha",
			"provider":       map[string]any{"name": "bosun"},
			"maintainers":    []any{map[string]any{"name": "bosun", "email": "maintainers@bosun.dev"}},
			"links":          []any{map[string]any{"name": "Source", "url": "https://github.com/bosun-mesh/bosun"}},
			"keywords":       []any{"istio", "service mesh", "sail"},
			"installModes": []any{
				map[string]any{"type": "OwnNamespace", "supported": false},
				map[string]any{"type": "SingleNamespace", "supported": false},
				map[string]any{"type": "MultiNamespace", "supported": false},
				map[string]any{"type": "AllNamespaces", "supported": true},
			},
			"customresourcedefinitions": map[string]any{"owned": owned},
			"install": map[string]any{
				"strategy": "deployment",
				"spec": map[string]any{
					"clusterPermissions": []any{map[string]any{"serviceAccountName": account, "rules": clusterRules}},
					"permissions":        []any{map[string]any{"serviceAccountName": account, "rules": rules}},
					"deployments":        []any{map[string]any{"name": deploy.GetName(), "label": deploy.GetLabels(), "spec": spec}},
				},
			},
		},
	}, nil
}

// firstSentence is a description's first sentence, for a console's list of kinds.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

// writeYAML writes one object as a YAML document ending in a document separator: operator-framework's
// bundle loader decodes each file twice with one decoder, rewinding the file in between, and its YAML
// reader finds the object the second time only after a separator.
func writeYAML(path string, obj any) error {
	data, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, "---\n"...), 0o644)
}
