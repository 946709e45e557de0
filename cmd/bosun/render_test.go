package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
)

const docExamples = "../../config/crd/testdata/ossm-docs"

func TestRenderRefusesWhatItCannotRender(t *testing.T) {
	cases := []struct{ name, manifest, want string }{
		{
			name:     "a tag whose Istio is not in the input",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default\n",
			want:     "IstioRevisionTag default: the targetRef names Istio default, which does not exist: create it, or point the targetRef at an existing Istio or IstioRevision; render reads it from the input: add its manifest with -f",
		},
		{
			name:     "an unknown version",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: v1.99.0\n",
			want:     `Istio "default" is invalid: spec.version "v1.99.0" is not a version bosun knows; set it to one of: latest, v1.31-latest, v1.27-latest, v1.25-latest, v1.31.0-snapshot.eed52ebb`,
		},
		{
			name:     "a version of no version's shape",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: stable\n",
			want:     `Istio "default" is invalid: spec.version: Invalid value: "stable": spec.version must be a version such as v1.27.3 or an alias such as v1.27-latest or latest`,
		},
		{
			name:     "a ZTunnel of a version without ambient mode",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: v1.23.2\n",
			want:     `spec.version must be Istio 1.24 or newer: ztunnel needs ambient mode`,
		},
		{
			name:     "a revision the API server would refuse",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevision\nmetadata:\n  name: prod\nspec:\n  version: v1.27.0-snapshot.b9159ca3\n  namespace: istio-system\n  values:\n    global:\n      istioNamespace: istio-system\n",
			want:     "spec.values.revision must equal metadata.name, or be empty when the name is 'default'",
		},
		{
			name:     "an IstioCNI not named default",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: cni\n",
			want:     "an IstioCNI must be named 'default'",
		},
		{
			name:     "an empty input",
			manifest: "",
			want:     "the input has no manifests",
		},
		{
			name:     "a profile the version does not ship",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: v1.27-latest\n  profile: external\n",
			want:     `does not ship the profile "external"; set spec.profile to one of: ambient, default, demo, empty, minimal`,
		},
		{
			name:     "a tag named like a revision",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: v1.27-latest\n---\napiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default\n",
			want:     "IstioRevisionTag default: an IstioRevision named default already exists and is older: a revision and a tag cannot share a name",
		},
		{
			name:     "a values key the API does not have",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  values:\n    pilot:\n      replicas: 2\n",
			want:     `unknown field "spec.values.pilot.replicas"`,
		},
		{
			name:     "something that is not a mesh resource",
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			want:     "ConfigMap x: render takes sailoperator.io Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderText(t, tc.manifest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestRenderRefusesNamesTheAPIServerWould runs `bosun render` as a user does on manifests whose names
// make Kubernetes names longer than the API server allows: render must exit non-zero, print nothing
// and say what to shorten. An Istio's name is checked when its revision is decided; an IstioRevision
// or a tag given directly is caught by the check of every rendered object.
func TestRenderRefusesNamesTheAPIServerWould(t *testing.T) {
	istioName := strings.Repeat("m", 60)
	revisionName := strings.Repeat("r", 57)
	tagName := strings.Repeat("t", 51)
	cases := []struct{ name, manifest, want string }{
		{
			name:     "a 60-character InPlace Istio",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: " + istioName + "\nspec:\n  version: v1.27-latest\n",
			want: "Error: Istio " + istioName + ": the revision name " + istioName + " makes istiod's Service istiod-" + istioName +
				", 67 characters, and Kubernetes allows 63: shorten the Istio's name \"" + istioName + "\" to at most 56 characters",
		},
		{
			name: "a 31-character RevisionBased Istio",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: " + istioName[:31] +
				"\nspec:\n  version: v1.27-latest\n  updateStrategy:\n    type: RevisionBased\n",
			want: "shorten the Istio's name \"" + istioName[:31] + "\" to at most 30 characters",
		},
		{
			name: "a 57-character IstioRevision",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevision\nmetadata:\n  name: " + revisionName +
				"\nspec:\n  version: v1.27.0-snapshot.b9159ca3\n  namespace: istio-system\n  values:\n    revision: " + revisionName +
				"\n    global:\n      istioNamespace: istio-system\n",
			want: "would be refused by the API server: metadata.labels[app.kubernetes.io/instance]: Invalid value: \"" + revisionName +
				"-istiod\": must be no more than 63 bytes",
		},
		{
			name: "a 51-character tag",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: prod\nspec:\n  version: v1.27-latest\n---\n" +
				"apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: " + tagName + "\nspec:\n  targetRef:\n    kind: Istio\n    name: prod\n",
			want: "it is made from the name of IstioRevisionTag " + tagName + " (51 characters): shorten or rename it",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBosun(t, tc.manifest, "render", "-f", "-", "--resources-dir", chartstest.Dir(t))
			if code == 0 {
				t.Fatalf("bosun render exited 0; want an error containing %q", tc.want)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("standard error:\n%s\ndoes not contain %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("bosun render printed objects for input it refuses:\n%s", stdout[:min(len(stdout), 400)])
			}
		})
	}
}

// TestRenderIstioWithTag checks what a reviewer reads for the documents' RevisionBased example: the
// IstioRevision named after the version, istiod for it, and the tag's webhook pointing at it.
func TestRenderIstioWithTag(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(docExamples, "03-revisionbased-istio-with-tag.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderWith(t, withVersion(t, string(text), "v1.27-latest"), false)
	if err != nil {
		t.Fatal(err)
	}
	objs := parseAll(t, out)
	find := func(kind, name string) *unstructured.Unstructured {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
		t.Fatalf("render printed no %s %s", kind, name)
		return nil
	}
	// Named after the concrete version the alias resolved to, never the alias (docs/architecture.md#lesson-alias-names-a-revision).
	rev := find("IstioRevision", "default-v1-27-0-snapshot-b9159ca3")
	if v, _, _ := unstructured.NestedString(rev.Object, "spec", "version"); v != "v1.27.0-snapshot.b9159ca3" {
		t.Errorf("the revision's version = %q, want the alias resolved", v)
	}
	find("Deployment", "istiod-default-v1-27-0-snapshot-b9159ca3")
	tagHook := find("MutatingWebhookConfiguration", "istio-revision-tag-default")
	if got := tagHook.GetLabels()["bosun.dev/owner"]; got != "IstioRevisionTag.default" {
		t.Errorf("the tag webhook's owner label = %q", got)
	}
	find("ValidatingWebhookConfiguration", "istiod-default-validator")
	if strings.Contains(out, "kind: CustomResourceDefinition") {
		t.Errorf("CRDs are printed whole without --crds")
	}
	if !strings.Contains(out, "# CustomResourceDefinition virtualservices.networking.istio.io (--crds prints it)") {
		t.Errorf("CRDs are not listed by name")
	}
}

// renderText runs `bosun render --crds -f -` on a manifest. CRDs are printed whole so that the API
// server checks them too.
func renderText(t *testing.T, manifest string) (string, error) {
	t.Helper()
	return renderWith(t, manifest, true)
}

func renderWith(t *testing.T, manifest string, crds bool) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runRender(strings.NewReader(manifest), &out, &renderOptions{
		files: []string{"-"}, platform: "kubernetes", kubeVersion: "v1.36.3",
		resources: chartstest.Dir(t), crds: crds,
	})
	return out.String(), err
}

// withVersion sets spec.version of every resource that has one.
func withVersion(t *testing.T, text, version string) string {
	t.Helper()
	var docs []string
	for _, obj := range parseAll(t, text) {
		if obj.GetKind() != "IstioRevisionTag" {
			if err := unstructured.SetNestedField(obj.Object, version, "spec", "version"); err != nil {
				t.Fatal(err)
			}
		}
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	return strings.Join(docs, "---\n")
}

func parseAll(t *testing.T, text string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := readManifests(strings.NewReader(text), "-")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestRenderKeepsAnExplicitEmptyList checks that a user's [] reaches the chart and replaces its default
// instead of disappearing on the way: the CNI chart excludes kube-system unless told otherwise.
func TestRenderKeepsAnExplicitEmptyList(t *testing.T) {
	const cni = "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default\nspec:\n  version: v1.27-latest\n"
	excluded := func(out string) string {
		for _, o := range parseAll(t, out) {
			if o.GetKind() == "ConfigMap" && o.GetName() == "istio-cni-config" {
				v, _, _ := unstructured.NestedString(o.Object, "data", "EXCLUDE_NAMESPACES")
				return v
			}
		}
		t.Fatal("no istio-cni-config ConfigMap rendered")
		return ""
	}
	out, err := renderText(t, cni)
	if err != nil {
		t.Fatal(err)
	}
	if got := excluded(out); !strings.Contains(got, "kube-system") {
		t.Fatalf("the chart default no longer excludes kube-system (%q); this test needs another example", got)
	}
	out, err = renderText(t, cni+"  values:\n    cni:\n      excludeNamespaces: []\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := excluded(out); got != "" {
		t.Errorf("with excludeNamespaces: [] the chart still excludes %q", got)
	}
}

// TestRenderWithAVendorCatalog renders with --versions-file: the vendor's names are accepted and the
// built-in ones it lacks refused with its list, a manifest without a version gets its default, and its
// image pins are what the charts run.
func TestRenderWithAVendorCatalog(t *testing.T) {
	// The vendor's versions use the charts of the release-1.27 snapshot, under their own names.
	resources := t.TempDir()
	charts, err := filepath.Abs(filepath.Join(chartstest.Dir(t), "v1.27.0-snapshot.b9159ca3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.29.6", "v1.28.9"} {
		if err := os.Symlink(charts, filepath.Join(resources, v)); err != nil {
			t.Fatal(err)
		}
	}
	render := func(manifest string) (string, error) {
		var out bytes.Buffer
		err := runRender(strings.NewReader(manifest), &out, &renderOptions{
			files: []string{"-"}, platform: "kubernetes", kubeVersion: "v1.36.3", resources: resources,
			versionsFile: filepath.Join("..", "..", "internal", "versionpolicy", "testdata", "vendor-versions.yaml"),
		})
		return out.String(), err
	}

	_, err = render("apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  version: v1.27-latest\n")
	const refused = `Istio "default" is invalid: spec.version "v1.27-latest" is not a version bosun knows; set it to one of: v1.29-latest, v1.28-latest, v1.29.6, v1.28.9`
	if err == nil || err.Error() != refused {
		t.Errorf("a built-in alias the vendor lacks gave %v, want %q", err, refused)
	}

	out, err := render(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  version: v1.28-latest
---
apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  version: v1.29-latest
  values:
    ztunnel:
      hub: mirror.example.com/istio
      tag: 1.29.6
`)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{}
	for _, o := range parseAll(t, out) {
		switch {
		case o.GetKind() == "IstioRevision":
			if v, _, _ := unstructured.NestedString(o.Object, "spec", "version"); v != "v1.29.6" {
				t.Errorf("an Istio without a version becomes revision version %q, want the vendor default's v1.29.6", v)
			}
		case o.GetKind() == "Deployment" || o.GetKind() == "DaemonSet":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			images[o.GetName()] = containers[0].(map[string]any)["image"].(string)
		}
	}
	want := map[string]string{
		"istiod":         "registry.example.com/vendor/pilot:1.29.6",
		"istio-cni-node": "gcr.io/istio-testing/install-cni:latest", // v1.28.9 pins nothing
		// The user's hub and tag beat the pin; the chart's ambient preset adds its variant to them.
		"ztunnel": "mirror.example.com/istio/ztunnel:1.29.6-distroless",
	}
	for name, image := range want {
		if images[name] != image {
			t.Errorf("%s runs %q, want %q", name, images[name], image)
		}
	}
	// istiod injects sidecars, their init container and gateways from the values in this ConfigMap.
	injected := map[string]any{}
	for _, o := range parseAll(t, out) {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "istio-sidecar-injector") {
			text, _, _ := unstructured.NestedString(o.Object, "data", "values")
			if err := json.Unmarshal([]byte(text), &injected); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, field := range []string{"proxy", "proxy_init"} {
		if got, _, _ := unstructured.NestedString(injected, "global", field, "image"); got != "registry.example.com/vendor/proxyv2:1.29.6" {
			t.Errorf("the injector's global.%s.image = %q, want the pinned proxy", field, got)
		}
	}
}

func TestRenderWithoutChartsSaysHowToGetThem(t *testing.T) {
	var out bytes.Buffer
	err := runRender(strings.NewReader(""), &out, &renderOptions{files: []string{"-"}, platform: "kubernetes", resources: t.TempDir() + "/none"})
	if err == nil || !strings.Contains(err.Error(), "run make charts, or point --resources") {
		t.Fatalf("error = %v", err)
	}
}

// TestRenderCRDsComeFromTheNewestVersion renders two control planes of different versions, neither
// named default: Istio's CRDs are printed once, from the newer one's base chart.
func TestRenderCRDsComeFromTheNewestVersion(t *testing.T) {
	out, err := renderWith(t, `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: blue
spec:
  version: v1.25-latest
  updateStrategy:
    type: RevisionBased
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: green
spec:
  version: v1.27-latest
  namespace: istio-green
`, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "# Istio's CRDs, from the base chart of v1.27.0-snapshot.b9159ca3, the newest version in use") {
		t.Errorf("no CRD group from the newest version in:\n%s", out[:min(len(out), 600)])
	}
	if n := strings.Count(out, "# CustomResourceDefinition virtualservices.networking.istio.io"); n != 1 {
		t.Errorf("the VirtualService CRD is listed %d times, want once", n)
	}
}

// TestRenderPlanChecksTheVersionChange: `bosun render --plan --current running.yaml` refuses an
// Istio's change to 1.27 while the input's IstioCNI runs 1.25, saying what to set and printing nothing;
// --current without --plan says to add it.
func TestRenderPlanChecksTheVersionChange(t *testing.T) {
	dir := t.TempDir()
	running := dir + "/running.yaml"
	if err := os.WriteFile(running, []byte(`apiVersion: v1
kind: List
items:
- apiVersion: sailoperator.io/v1
  kind: IstioRevision
  metadata:
    name: default-v1-25-0-snapshot-be4b14ad
    ownerReferences: [{apiVersion: sailoperator.io/v1, kind: Istio, name: default, uid: "1", controller: true}]
  spec: {version: v1.25.0-snapshot.be4b14ad, namespace: istio-system}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	const input = `apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  version: v1.27.0-snapshot.b9159ca3
  namespace: istio-system
  updateStrategy: {type: RevisionBased}
  values: {pilot: {cni: {enabled: true}}}
---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata: {name: default}
spec: {version: v1.25.0-snapshot.be4b14ad, namespace: istio-cni}
`
	o := &renderOptions{files: []string{"-"}, platform: "kubernetes", kubeVersion: "v1.36.3", resources: chartstest.Dir(t), plan: true, current: []string{running}}
	var out bytes.Buffer
	err := runRender(strings.NewReader(input), &out, o)
	if err == nil || !strings.Contains(err.Error(), "Istio default: the change from v1.25.0-snapshot.be4b14ad to v1.27.0-snapshot.b9159ca3 is refused until its pre-flight checks pass") ||
		!strings.Contains(err.Error(), "IstioCNI default runs Istio 1.25") || out.Len() > 0 {
		t.Errorf("render --plan: %v, printed %d bytes; want the refusal and nothing printed", err, out.Len())
	}
	o.plan = false
	if err := runRender(strings.NewReader(input), &out, o); err == nil || err.Error() != "--current is read by --plan only: add --plan" {
		t.Errorf("--current without --plan: %v", err)
	}
	o.plan, o.current = true, []string{dir + "/istio.yaml"}
	if err := os.WriteFile(o.current[0], []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runRender(strings.NewReader(input), &out, o); err == nil || !strings.HasPrefix(err.Error(), "--current: Istio default: it takes the running sailoperator.io IstioRevisions") || out.Len() > 0 {
		t.Errorf("--current given an Istio: %v, printed %d bytes; want an error that says what it takes", err, out.Len())
	}
}
