package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/repo"
)

// testCatalog has a default (1.27) that is not the newest, as the built-in catalog has.
func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Parse([]byte(`default: v1.27-latest
versions:
  - {name: v1.31.0-snapshot.eed52ebb, module: istio.io/istio, moduleVersion: v0.0.0-20260827124520-eed52ebb66ad}
  - {name: v1.27.0-snapshot.b9159ca3, module: istio.io/istio, moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5}
  - {name: v1.26.2, module: istio.io/istio, moduleVersion: v0.0.0-20260403063052-b9159ca3e5d5}
  - {name: v1.25.0-snapshot.be4b14ad, module: istio.io/istio, moduleVersion: v0.0.0-20250322053744-be4b14ad8be8}
aliases:
  - {name: v1.31-latest, ref: v1.31.0-snapshot.eed52ebb}
  - {name: v1.27-latest, ref: v1.27.0-snapshot.b9159ca3}
  - {name: v1.25-latest, ref: v1.25.0-snapshot.be4b14ad}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

const (
	v131 = "v1.31.0-snapshot.eed52ebb"
	v127 = "v1.27.0-snapshot.b9159ca3"
	v126 = "v1.26.2"
	v125 = "v1.25.0-snapshot.be4b14ad"
)

// istiodDir lays out what hack/istiodbins leaves: a pilot-discovery for each built version and a
// pilot-discovery.failed for each failed one.
func istiodDir(t *testing.T, built, failed []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, v := range built {
		writeFile(t, repo.PilotDiscovery(dir, v), "binary")
	}
	for _, v := range failed {
		writeFile(t, repo.PilotDiscovery(dir, v)+".failed", "istio.io/istio x\n---\ngo mod: 403 Forbidden\n")
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestChooseVersion: the demo installs the catalog's default when its istiod exists or builds, else
// the newest version whose istiod does, says why, and tries each build once.
func TestChooseVersion(t *testing.T) {
	tests := []struct {
		name          string
		built, failed []string
		// builds are the versions the builder can build; it records a failure for any other.
		builds   []string
		want     Version
		wantNote string
		// wantTried are the versions the builder was asked for, in order.
		wantTried []string
		wantErr   string
	}{
		{name: "the default is built", built: []string{v127, v131},
			want: Version{Name: "v1.27-latest", Resolved: v127}},
		{name: "the default failed before: the newest built one", built: []string{v131, v125}, failed: []string{v127},
			want: Version{Name: "v1.31-latest", Resolved: v131}, wantNote: "403 Forbidden"},
		{name: "nothing built: the default builds", builds: []string{v127},
			want: Version{Name: "v1.27-latest", Resolved: v127}, wantTried: []string{v127}},
		{name: "nothing built: the default fails, the newest other builds", builds: []string{v131},
			want: Version{Name: "v1.31-latest", Resolved: v131}, wantNote: "its build failed", wantTried: []string{v127, v131}},
		{name: "a failed build is not retried", failed: []string{v127}, builds: []string{v125},
			want: Version{Name: "v1.25-latest", Resolved: v125}, wantNote: "403 Forbidden", wantTried: []string{v131, v126, v125}},
		{name: "a version without an alias keeps its name", failed: []string{v127, v131}, builds: []string{v126},
			want: Version{Name: v126, Resolved: v126}, wantNote: "403 Forbidden", wantTried: []string{v126}},
		{name: "none builds", wantTried: []string{v127, v131, v126, v125}, wantErr: "no catalog version has a pilot-discovery build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := istiodDir(t, tt.built, tt.failed)
			var tried []string
			build := func(v string) error {
				tried = append(tried, v)
				if slices.Contains(tt.builds, v) {
					writeFile(t, repo.PilotDiscovery(dir, v), "binary")
				} else {
					writeFile(t, repo.PilotDiscovery(dir, v)+".failed", "stamp\n---\nits build failed here\n")
				}
				return nil
			}
			got, err := ChooseVersion(testCatalog(t), dir, build)
			if !slices.Equal(tried, tt.wantTried) {
				t.Errorf("builds tried %v, want %v", tried, tt.wantTried)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			note := got.Note
			got.Note = ""
			if got != tt.want {
				t.Errorf("chose %+v, want %+v", got, tt.want)
			}
			if (tt.wantNote == "") != (note == "") || !strings.Contains(note, tt.wantNote) {
				t.Errorf("note %q, want one containing %q", note, tt.wantNote)
			}
			if tt.wantNote != "" && !strings.Contains(note, "v1.27-latest") {
				t.Errorf("note %q does not name the catalog's default", note)
			}
		})
	}
}

// TestUpdateTarget: the suggested update is one an InPlace Istio accepts if any, else one whose
// istiod is built, preferring newer versions, and it says when bosun will refuse it.
func TestUpdateTarget(t *testing.T) {
	all := func(string) bool { return true }
	tests := []struct {
		name      string
		current   string
		hasIstiod func(string) bool
		want      Update
	}{
		{name: "one minor up is accepted", current: v125, hasIstiod: all,
			want: Update{Version: v126, Istiod: true}},
		{name: "from 1.27 one minor down is accepted", current: v127, hasIstiod: all,
			want: Update{Version: v126, Istiod: true}},
		{name: "accepted beats built", current: v127, hasIstiod: func(v string) bool { return v != v126 },
			want: Update{Version: v126}},
		{name: "from the newest, every change skips minors: the nearest built one, refused", current: v131,
			hasIstiod: func(v string) bool { return v == v125 },
			want:      Update{Version: "v1.25-latest", Refused: true, Istiod: true}},
		{name: "not a version", current: "latest", hasIstiod: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpdateTarget(testCatalog(t), tt.current, tt.hasIstiod); got != tt.want {
				t.Errorf("UpdateTarget(%s) = %+v, want %+v", tt.current, got, tt.want)
			}
		})
	}
}

// TestMeshManifest: the mesh is the documents' IstioCNI and InPlace Istio, with their namespaces,
// at the chosen version.
func TestMeshManifest(t *testing.T) {
	var kinds []string
	for _, doc := range strings.Split(MeshManifest("v1.27-latest"), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.UnmarshalStrict([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		kinds = append(kinds, obj.GetKind()+"/"+obj.GetName())
		if obj.GetAPIVersion() != "sailoperator.io/v1" {
			continue
		}
		if v, _, _ := unstructured.NestedString(obj.Object, "spec", "version"); v != "v1.27-latest" {
			t.Errorf("%s version %q, want v1.27-latest", obj.GetKind(), v)
		}
	}
	want := []string{"Namespace/istio-cni", "Namespace/istio-system", "IstioCNI/default", "Istio/default"}
	if !slices.Equal(kinds, want) {
		t.Errorf("objects %v, want %v", kinds, want)
	}
}

// fakeKubectl writes a kubectl that records its arguments and stdin in log, and fails the command
// whose arguments contain failOn, as a timed-out kubectl wait does.
func fakeKubectl(t *testing.T, failOn string) (kubectl, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls")
	kubectl = filepath.Join(dir, "kubectl")
	script := `#!/bin/sh
echo "$*" >> ` + log + `
case "$*" in *"apply --server-side -f -"*) sed 's/^/stdin: /' >> ` + log + `;; esac
case "$*" in *"` + failOn + `"*) echo "timed out waiting for the condition" >&2; exit 1;; esac
echo "ok: $*"
`
	writeFile(t, kubectl, script)
	return kubectl, log
}

// TestRun: the demo's commands, in order, name the files a user applies, run in the repository
// with the cluster's kubeconfig, and a failed wait stops the demo after showing why.
func TestRun(t *testing.T) {
	kubectl, log := fakeKubectl(t, "never")
	var out bytes.Buffer
	cfg := Config{Kubectl: kubectl, Kubeconfig: "/box/kubeconfig", Root: t.TempDir(), Out: &out,
		Version: Version{Name: "v1.31-latest", Resolved: v131, Note: "the default has no istiod"}}
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, line := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		if strings.HasPrefix(line, "stdin: ") {
			continue
		}
		if !strings.HasPrefix(line, "--kubeconfig /box/kubeconfig ") {
			t.Errorf("kubectl ran without the cluster's kubeconfig: %s", line)
		}
		f := strings.Fields(strings.TrimPrefix(line, "--kubeconfig /box/kubeconfig "))
		commands = append(commands, strings.Join(f[:min(2, len(f))], " "))
	}
	want := []string{
		"apply --server-side", "wait --for=condition=Established", "apply --server-side",
		"wait --for=condition=Available", "apply --server-side", "wait --for=condition=Ready",
		"create namespace", "label namespace", "apply -n", "wait --for=condition=Available",
		"get istio,istiorevision,istiocni", "get pods",
	}
	if !slices.Equal(commands, want) {
		t.Errorf("commands\n%v\nwant\n%v", commands, want)
	}
	for _, s := range []string{
		"apply --server-side -f chart/crds/", "apply --server-side -f deploy/bosun.yaml",
		"label namespace bookinfo istio-injection=enabled", "apply -n bookinfo -f samples/bookinfo/bookinfo.yaml",
		"stdin: kind: IstioCNI", "stdin:   version: v1.31-latest",
	} {
		if !strings.Contains(string(calls), s) {
			t.Errorf("no kubectl %q; calls:\n%s", s, calls)
		}
	}
	shown := out.String()
	for _, s := range []string{"$ kubectl apply --server-side -f deploy/bosun.yaml", "ok: --kubeconfig", "the default has no istiod", "[12/12"} {
		if !strings.Contains(shown, s) {
			t.Errorf("the output does not show %q:\n%s", s, shown)
		}
	}
}

// TestRunStopsAtAFailedWait: when the mesh does not become Ready, the demo shows the mesh's objects
// and the operator's pod, and goes no further.
func TestRunStopsAtAFailedWait(t *testing.T) {
	kubectl, log := fakeKubectl(t, "--for=condition=Ready")
	var out bytes.Buffer
	logDir := t.TempDir()
	writeFile(t, filepath.Join(logDir, "operator", "bosun-system_bosun-operator-1.log"), "started\ndeployments.apps is forbidden\n")
	err := Run(context.Background(), Config{Kubectl: kubectl, Kubeconfig: "k", Root: t.TempDir(), Out: &out, LogDir: logDir,
		Version: Version{Name: "v1.27-latest", Resolved: v127}})
	if err == nil || !strings.Contains(err.Error(), "step 6") || !strings.Contains(err.Error(), "timed out waiting") {
		t.Fatalf("error %v, want step 6's timed-out wait", err)
	}
	calls, _ := os.ReadFile(log)
	if strings.Contains(string(calls), "namespace bookinfo") {
		t.Errorf("the demo went on after a failed wait:\n%s", calls)
	}
	for _, s := range []string{"get istio,istiorevision,istiocni -o yaml", "get deployment,pods -n bosun-system"} {
		if !strings.Contains(out.String(), "$ kubectl "+s) {
			t.Errorf("the failure does not show kubectl %s:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "deployments.apps is forbidden") {
		t.Errorf("the failure does not show the operator's log:\n%s", out.String())
	}
}

// TestNext: the hints give the kubeconfig, kubectl's directory and the logs, and an update a user
// can run, with the refusal explained when bosun will refuse it.
func TestNext(t *testing.T) {
	var out bytes.Buffer
	Next{Kubeconfig: "/tmp/box/kubeconfig", BinDir: "/repo/bin/cluster/v1.36.3", LogDir: "/tmp/box",
		Version: Version{Name: "v1.27-latest"}, Update: Update{Version: "v1.31-latest", Refused: true}}.Write(&out)
	for _, s := range []string{
		"export KUBECONFIG=/tmp/box/kubeconfig", "export PATH=/repo/bin/cluster/v1.36.3:$PATH",
		"kubectl get istiorevision", "istio-injection=enabled",
		`kubectl patch istio default --type merge -p '{"spec":{"version":"v1.31-latest"}}'`,
		"bosun.dev/allow-minor-version-skip=true", "no pilot-discovery build", "Logs are in /tmp/box", "Ctrl-C",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the hints do not say %q:\n%s", s, out.String())
		}
	}
}
