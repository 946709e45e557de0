package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/migrate"
)

// migrateCases are the ServiceMeshControlPlanes (with their member rolls) of testdata/migrate, each
// converted to testdata/migrate/<name>.golden.
func migrateCases(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "migrate", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no inputs in testdata/migrate: %v", err)
	}
	return paths
}

// convertText runs `bosun migrate convert -f <path>` with the flags given.
func convertText(t *testing.T, path, only string) (string, error) {
	t.Helper()
	o := &migrateOptions{files: []string{path}, convert: migrate.Options{Name: migrate.DefaultName, CNINamespace: "istio-cni"}}
	res, err := o.converted(t.Context(), strings.NewReader(""))
	if err != nil {
		return "", err
	}
	if err := checkConverted(t.Context(), res); err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = printConverted(&out, res, only)
	return out.String(), err
}

// TestMigrateConvert converts each ServiceMeshControlPlane of testdata/migrate and compares what a
// user reads (findings, what was carried over, the manifests) with its golden file; then it hands the
// sailoperator.io part to bosun render, which must accept it as it stands.
// BOSUN_UPDATE_GOLDEN=1 rewrites the golden files.
func TestMigrateConvert(t *testing.T) {
	for _, path := range migrateCases(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			out, err := convertText(t, path, "")
			if err != nil {
				t.Fatal(err)
			}
			goldenFile(t, filepath.Join("testdata", "migrate", name+".golden"), out)

			sail, err := convertText(t, path, "sail")
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := renderWith(t, sail, false)
			if err != nil {
				t.Fatalf("bosun render refuses the converted Istio: %v\n%s", err, sail)
			}
			if !strings.Contains(rendered, "kind: IstioRevision\n") || !strings.Contains(rendered, "name: istiod-ossm3\n") {
				t.Errorf("bosun render printed no revision ossm3 and its istiod:\n%.2000s", rendered)
			}
		})
	}
}

// goldenFile compares text with the file; BOSUN_UPDATE_GOLDEN=1 rewrites the file instead.
func goldenFile(t *testing.T, path, text string) {
	t.Helper()
	if os.Getenv("BOSUN_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (BOSUN_UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(want) != text {
		t.Errorf("output differs from %s (BOSUN_UPDATE_GOLDEN=1 rewrites it):\n--- got\n%s--- want\n%s", path, text, want)
	}
}

// TestMigrateConvertRefuses: input bosun cannot convert ends in an error that says what to change.
func TestMigrateConvertRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	two := write("two.yaml", "apiVersion: maistra.io/v2\nkind: ServiceMeshControlPlane\nmetadata: {name: a, namespace: one}\nspec: {version: v2.6}\n---\napiVersion: maistra.io/v2\nkind: ServiceMeshControlPlane\nmetadata: {name: b, namespace: two}\nspec: {version: v2.6}\n")
	named := write("ossm3.yaml", "apiVersion: maistra.io/v2\nkind: ServiceMeshControlPlane\nmetadata: {name: ossm3, namespace: x}\nspec: {version: v2.6}\n")
	badProvider := write("bad.yaml", "apiVersion: maistra.io/v2\nkind: ServiceMeshControlPlane\nmetadata: {name: b, namespace: x}\nspec:\n  version: v2.6\n  meshConfig:\n    extensionProviders:\n    - name: p\n      prometheus: {}\n      colour: red\n")
	for _, tc := range []struct {
		name, stdout, stderr string
		args                 []string
	}{
		{name: "two control planes", args: []string{"migrate", "convert", "-f", two}, stderr: "Error: the input has 2 ServiceMeshControlPlanes (one/a, two/b): choose one with --smcp\n"},
		{name: "no such control plane", args: []string{"migrate", "convert", "-f", two, "--smcp", "z/c"}, stderr: "Error: no ServiceMeshControlPlane z/c: the input has one/a, two/b\n"},
		{name: "name clash", args: []string{"migrate", "convert", "-f", named}, stderr: "Error: the Istio's name \"ossm3\" is the ServiceMeshControlPlane's, which is the 2.6 control plane's revision: choose another with --name\n"},
		{name: "default", args: []string{"migrate", "convert", "-f", two, "--smcp", "a", "--name", "default"}, stderr: "Error: an Istio named default serves the namespaces labelled istio-injection=enabled, which the 2.6 control plane still serves during the migration: choose another name with --name\n"},
		{name: "a version bosun does not install", args: []string{"migrate", "convert", "-f", two, "--smcp", "a", "--version", "v1.99.0"}, stderr: "Error: --version: spec.version \"v1.99.0\" is not a version bosun knows; set it to one of: "},
		{name: "a name no revision can have", args: []string{"migrate", "convert", "-f", two, "--smcp", "a", "--name", "Mesh_3"}, stderr: "Error: --name \"Mesh_3\" cannot name a revision: "},
		{name: "a CNI namespace no namespace can have", args: []string{"migrate", "convert", "-f", two, "--smcp", "a", "--cni-namespace", "istio cni"}, stderr: "Error: --cni-namespace \"istio cni\" is no namespace name: "},
		{name: "a format plan does not print", args: []string{"migrate", "plan", "-f", two, "--format", "json"}, stderr: "Error: --format \"json\": use text or sh\n"},
		{name: "an interval of nothing", args: []string{"migrate", "plan", "-f", two, "--apply", "--interval", "0s"}, stderr: "Error: --interval 0s: use a positive duration, such as 2s\n"},
		{name: "check reads the cluster only", args: []string{"migrate", "check", "-f", two}, stderr: "Error: bosun migrate check reads the cluster, not files: drop -f (convert and plan take files)\n"},
		{name: "verify reads the cluster only", args: []string{"migrate", "verify", "mercury", "-f", two}, stderr: "Error: bosun migrate verify reads the cluster, not files: drop -f (convert and plan take files)\n"},
		{name: "an extension provider Istio does not know", args: []string{"migrate", "convert", "-f", badProvider}, stderr: "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBosun(t, "", tc.args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
}
