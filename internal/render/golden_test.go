package render

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
	"github.com/bosun-mesh/bosun/internal/values"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCase is a profile as a user selects it: the Istio's spec.profile and the cluster's platform;
// and, for pinned, image pins as a catalog entry may give them.
type goldenCase struct {
	name     string
	profile  string
	platform values.Platform
	pinned   bool
}

var goldenCases = []goldenCase{
	{name: "default", platform: values.Kubernetes},
	{name: "ambient", profile: "ambient", platform: values.Kubernetes},
	{name: "openshift", platform: values.OpenShift},
	{name: "openshift-ambient", profile: "openshift-ambient", platform: values.OpenShift},
	{name: "remote", profile: "remote", platform: values.Kubernetes},
	{name: "pinned", platform: values.Kubernetes, pinned: true},
}

// testPins are image pins of every component for a version, under a registry that says they are a
// test's.
func testPins(v catalog.Version) catalog.Images {
	tag := ":" + strings.TrimPrefix(v.Name, "v")
	return catalog.Images{
		Istiod:  "registry.example.com/istio/pilot" + tag,
		Proxy:   "registry.example.com/istio/proxyv2" + tag,
		CNI:     "registry.example.com/istio/install-cni" + tag,
		ZTunnel: "registry.example.com/istio/ztunnel" + tag,
	}
}

// TestGolden renders istiod, base, cni and ztunnel for every catalog version and profile and compares
// them with testdata/golden. `go test ./internal/render -update` rewrites the files; review the diff
// like any other change: it is what bosun would apply.
func TestGolden(t *testing.T) {
	r := newTestRenderer(t)
	for _, v := range catalog.Embedded().Versions() {
		profiles := values.Profiles{FS: os.DirFS(filepath.Join(resourcesDir(t), v.Name)), Version: v.Name}
		for _, gc := range goldenCases {
			t.Run(v.Name+"/"+gc.name, func(t *testing.T) {
				images := v.Images
				if gc.pinned {
					images = testPins(v)
				}
				cp, err := values.ControlPlane(values.ControlPlaneInput{
					Profiles: profiles, Images: images, Profile: gc.profile, Platform: gc.platform,
					Revision: "default", Namespace: "istio-system",
				})
				if err != nil {
					t.Fatal(err)
				}
				cni, err := values.CNI(values.CNIInput{Profiles: profiles, Images: images, Profile: gc.profile, Platform: gc.platform})
				if err != nil {
					t.Fatal(err)
				}
				zt, err := values.ZTunnel(values.ZTunnelInput{Profiles: profiles, Images: images, Platform: gc.platform, Revision: cp})
				if err != nil {
					t.Fatal(err)
				}
				requests := []Request{
					{Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "default-istiod", Values: cp, Owner: Owner{"IstioRevision", "default"}},
					{Chart: ChartBase, Namespace: "istio-system", ReleaseName: "default-base", Values: cp, Owner: Owner{"IstioRevision", "default"}},
					{Chart: ChartCNI, Namespace: "istio-cni", ReleaseName: "istio-cni", Values: cni, Owner: Owner{"IstioCNI", "default"}},
					{Chart: ChartZTunnel, Namespace: "ztunnel", ReleaseName: "ztunnel", Values: zt, Owner: Owner{"ZTunnel", "default"}},
				}
				for _, req := range requests {
					req.Version = v.Name
					res, err := r.Render(req)
					if err != nil {
						t.Fatal(err)
					}
					checkGolden(t, filepath.Join("testdata", "golden", v.Name, gc.name, req.Chart+".yaml"), goldenText(res))
				}
			})
		}
	}
}

// goldenText writes a result as YAML documents. CRDs are listed by name only: their full text is
// Istio's, large, and the same for every profile.
func goldenText(res Result) []byte {
	var b strings.Builder
	if len(res.CRDs) > 0 {
		b.WriteString("# CustomResourceDefinitions:\n")
		for _, c := range res.CRDs {
			fmt.Fprintf(&b, "#   %s\n", c.GetName())
		}
	}
	for _, o := range res.Objects {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			panic(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return []byte(b.String())
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to write it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from what the chart renders now (go test ./internal/render -update rewrites it):\n%s",
			path, firstDifference(string(want), string(got)))
	}
}

// firstDifference shows the first differing line, with a little context.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return ""
}

func resourcesDir(t testing.TB) string {
	t.Helper()
	return chartstest.Dir(t)
}

func newTestRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(os.DirFS(resourcesDir(t)), Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// TestPinnedImagesAreRunAsWritten renders every catalog version's charts with image pins and checks
// that each workload, and istiod's injector for sidecars, init containers and gateways, uses the pin
// exactly as written; without pins, the charts' own hub/image:tag.
func TestPinnedImagesAreRunAsWritten(t *testing.T) {
	r := newTestRenderer(t)
	for _, v := range catalog.Embedded().Versions() {
		profiles := values.Profiles{FS: os.DirFS(filepath.Join(resourcesDir(t), v.Name)), Version: v.Name}
		for _, images := range []catalog.Images{testPins(v), {}} {
			cp, err := values.ControlPlane(values.ControlPlaneInput{Profiles: profiles, Images: images, Platform: values.Kubernetes, Revision: "default", Namespace: "istio-system"})
			if err != nil {
				t.Fatal(err)
			}
			cni, err := values.CNI(values.CNIInput{Profiles: profiles, Images: images, Platform: values.Kubernetes})
			if err != nil {
				t.Fatal(err)
			}
			zt, err := values.ZTunnel(values.ZTunnelInput{Profiles: profiles, Images: images, Platform: values.Kubernetes, Revision: cp})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, req := range []Request{
				{Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: "default-istiod", Values: cp, Owner: Owner{"IstioRevision", "default"}},
				{Chart: ChartCNI, Namespace: "istio-cni", ReleaseName: "istio-cni", Values: cni, Owner: Owner{"IstioCNI", "default"}},
				{Chart: ChartZTunnel, Namespace: "ztunnel", ReleaseName: "ztunnel", Values: zt, Owner: Owner{"ZTunnel", "default"}},
			} {
				req.Version = v.Name
				res, err := r.Render(req)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range res.Objects {
					switch {
					case o.GetKind() == "Deployment" || o.GetKind() == "DaemonSet":
						containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
						got[o.GetName()], _, _ = unstructured.NestedString(containers[0].(map[string]any), "image")
					case o.GetKind() == "ConfigMap" && o.GetName() == "istio-sidecar-injector":
						text, _, _ := unstructured.NestedString(o.Object, "data", "values")
						var injector map[string]any
						if err := json.Unmarshal([]byte(text), &injector); err != nil {
							t.Fatal(err)
						}
						got["sidecar"], _, _ = unstructured.NestedString(injector, "global", "proxy", "image")
						got["init"], _, _ = unstructured.NestedString(injector, "global", "proxy_init", "image")
					}
				}
			}
			want := map[string]string{
				"istiod": images.Istiod, "istio-cni-node": images.CNI, "ztunnel": images.ZTunnel,
				"sidecar": images.Proxy, "init": images.Proxy,
			}
			if images == (catalog.Images{}) {
				// The charts' own: hub/image:tag of their values (ztunnel's with the ambient preset's
				// -distroless), and for the injector the bare image names that istiod joins with
				// global.hub and global.tag.
				want = map[string]string{"sidecar": "proxyv2", "init": "proxyv2"}
				for name, image := range map[string]string{"istiod": "pilot", "istio-cni-node": "install-cni", "ztunnel": "ztunnel"} {
					want[name] = "/" + image + ":latest"
				}
			}
			for name, w := range want {
				if g := got[name]; g != w && !(strings.HasPrefix(w, "/") && strings.Contains(g, w)) {
					t.Errorf("%s, pins %v: %s runs %q, want %q", v.Name, images != (catalog.Images{}), name, g, w)
				}
			}
		}
	}
}
