package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// TestStepsNameFilesOfTheRepository: every file or folder a step applies or waits on is where the
// command says, from the repository's root, so a user can type the printed commands and a renamed
// file fails here rather than at the end of a demo's build.
func TestStepsNameFilesOfTheRepository(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, s := range steps(Config{Version: Version{Name: "v1.27-latest"}}) {
		for i, arg := range s.args {
			if arg == "-f" && i+1 < len(s.args) && s.args[i+1] != "-" {
				named = append(named, s.args[i+1])
			}
		}
	}
	if want := []string{"chart/crds/", "chart/crds/", "deploy/bosun.yaml", "samples/bookinfo/bookinfo.yaml"}; !slices.Equal(named, want) {
		t.Errorf("the steps name %v, want %v", named, want)
	}
	for _, path := range named {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(path))); err != nil {
			t.Errorf("a step names %s: %v", path, err)
		}
	}
}

// TestMeshManifestIsAccepted: the mesh the demo applies passes bosun's CRDs and the built-in
// catalog's version policies, for the default and for every name ChooseVersion may pick, so the
// demo's apply is never refused.
func TestMeshManifestIsAccepted(t *testing.T) {
	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := schemacheck.New(crds)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Embedded()
	for _, version := range cat.Versions() {
		name := aliasOf(cat, version.Name)
		for _, doc := range strings.Split(MeshManifest(name), "\n---\n") {
			obj := parse(t, doc)
			if obj.GetAPIVersion() != "sailoperator.io/v1" {
				continue
			}
			checked, err := checker.Check(context.Background(), obj)
			if err == nil {
				err = versionpolicy.Admit(cat, checked)
			}
			if err != nil {
				t.Errorf("the demo's %s of %s is refused: %v", obj.GetKind(), name, err)
			}
		}
	}
}

// TestMeshManifestIsTheDocumentsMesh: an InPlace Istio with istiod in istio-system and the CNI agent
// in istio-cni, as the steps then wait for and the hints name.
func TestMeshManifestIsTheDocumentsMesh(t *testing.T) {
	want := map[string]string{
		"IstioCNI/default spec.namespace":        CNINamespace,
		"Istio/default spec.namespace":           IstioNamespace,
		"Istio/default spec.updateStrategy.type": "InPlace",
	}
	got := map[string]string{}
	for _, doc := range strings.Split(MeshManifest("v1.27-latest"), "\n---\n") {
		obj := parse(t, doc)
		for _, path := range []string{"spec.namespace", "spec.updateStrategy.type"} {
			key := obj.GetKind() + "/" + obj.GetName() + " " + path
			if _, ok := want[key]; ok {
				got[key] = nestedString(obj.Object, strings.Split(path, ".")...)
			}
		}
	}
	for key, v := range want {
		if got[key] != v {
			t.Errorf("%s = %q, want %q", key, got[key], v)
		}
	}
}

// TestWaitsUseTheConfiguredTimeout: each of the four waits is bounded by Config.Wait, or three
// minutes by default, as docs/demo.md says.
func TestWaitsUseTheConfiguredTimeout(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want string
	}{{0, "--timeout=3m0s"}, {90 * time.Second, "--timeout=1m30s"}} {
		var timeouts []string
		for _, s := range steps(Config{Wait: tc.wait}) {
			if s.args[0] != "wait" {
				continue
			}
			for _, a := range s.args {
				if strings.HasPrefix(a, "--timeout=") {
					timeouts = append(timeouts, a)
				}
			}
		}
		if want := []string{tc.want, tc.want, tc.want, tc.want}; !slices.Equal(timeouts, want) {
			t.Errorf("with Wait %v, the waits have %v, want %v", tc.wait, timeouts, want)
		}
	}
}

// TestPrintedCommandsCanBePasted: each command the demo prints, given to a shell, runs kubectl with
// exactly the arguments the demo ran, globs, brackets, quotes and spaces included.
func TestPrintedCommandsCanBePasted(t *testing.T) {
	commands := [][]string{
		{"it's", "a b", "*", "[x]", "$HOME", "~", "a\\b", `"q"`, "{a,b}", "x;y", "!", "#c", "plain", "--flag=v"},
	}
	for _, s := range steps(Config{}) {
		commands = append(commands, s.args)
		commands = append(commands, s.diagnose...)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range commands {
		printed := shellJoin(args)
		// As a user's shell reads it: split into words, expanded, globbed in a folder where an
		// unquoted * or [x] would match.
		cmd := exec.Command("sh", "-c", "for a in "+printed+"; do printf '%s\\n' \"$a\"; done")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh could not read %s: %v", printed, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if !slices.Equal(got, args) {
			t.Errorf("printed %s\na shell reads %q\nthe demo ran %q", printed, got, args)
		}
	}
}

// TestRunShowsTheManifestItApplies: the mesh's apply is printed as a here-document holding the whole
// manifest, so a user can paste it, and a demo on the catalog's default says so.
func TestRunShowsTheManifestItApplies(t *testing.T) {
	kubectl, _ := fakeKubectl(t, "never")
	var out bytes.Buffer
	cfg := Config{Kubectl: kubectl, Kubeconfig: "k", Root: t.TempDir(), Out: &out, Version: Version{Name: "v1.27-latest", Resolved: v127}}
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"demo: Istio v1.27-latest (" + v127 + "), the catalog's default.",
		"$ kubectl apply --server-side -f - <<EOF\n" + MeshManifest("v1.27-latest") + "EOF\n",
		"$ kubectl get pods -n bookinfo -o 'custom-columns=NAME:.metadata.name,STATUS:.status.phase,INIT:.spec.initContainers[*].name,CONTAINERS:.spec.containers[*].name,REVISION:.metadata.annotations.istio\\.io/rev'",
		"demo: a mesh with bookinfo in ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not show\n%s\n---\n%s", want, out.String())
		}
	}
}

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.UnmarshalStrict([]byte(doc), &obj.Object); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

func nestedString(obj map[string]any, path ...string) string {
	s, _, _ := unstructured.NestedString(obj, path...)
	return s
}
