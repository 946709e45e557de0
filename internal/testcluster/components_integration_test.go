//go:build integration

package testcluster

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFullClusterComponentFlags starts a full cluster whose controller
// manager is a script that records its flags and exits, so that no more
// than etcd and a real kube-apiserver (wrapped to record its flags) run, and
// checks what a full cluster gives them: the API server sends webhooks to
// pod IPs through the box's network (aggregator routing and an egress
// configuration naming the cluster's socket), and the controller manager
// runs alone with the admin kubeconfig and the keys that sign tokens and
// publish the root CA. The start fails naming the controller manager, and
// leaves no cluster directory behind.
func TestFullClusterComponentFlags(t *testing.T) {
	real, err := binDir(Options{})
	if err != nil {
		t.Fatal(err)
	}
	bin, out := t.TempDir(), t.TempDir()
	if err := os.Symlink(filepath.Join(real, etcdBin), filepath.Join(bin, etcdBin)); err != nil {
		t.Fatal(err)
	}
	writeScript := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeScript(apiServerBin, `printf '%s\n' "$@" > `+out+`/kube-apiserver.args
for a; do
  case "$a" in --egress-selector-config-file=*) cp "${a#*=}" `+out+`/egress.yaml;; esac
done
exec `+filepath.Join(real, apiServerBin)+` "$@"
`)
	writeScript(controllerManagerBin, `printf '%s\n' "$@" > `+out+`/kube-controller-manager.args
echo "kube-controller-manager: recorded its flags" >&2
exit 7
`)
	for _, name := range []string{schedulerBin, kwokBin} {
		writeScript(name, "exit 1\n")
	}
	if err := os.Mkdir(filepath.Join(bin, kwokStagesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	_, err = Start(t.Context(), Options{Full: true, BinDir: bin, IstiodBinDir: t.TempDir()})
	if err == nil {
		t.Fatal("Start with a controller manager that exits: no error")
	}
	for _, want := range []string{"kube-controller-manager exited: exit status 7", "kube-controller-manager: recorded its flags"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error does not contain %q:\n%v", want, err)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), dirPrefix) {
			t.Errorf("a failed Start left %s behind", e.Name())
		}
	}

	apiServer := readLines(t, filepath.Join(out, "kube-apiserver.args"))
	var egress string
	for _, a := range apiServer {
		if v, ok := strings.CutPrefix(a, "--egress-selector-config-file="); ok {
			egress = v
			dir = filepath.Dir(v)
		}
	}
	if egress == "" {
		t.Fatalf("a full cluster's kube-apiserver has no egress configuration: %q", apiServer)
	}
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), dirPrefix) {
		t.Errorf("the egress configuration is in %s, not in the cluster's directory", dir)
	}
	for _, want := range []string{
		"--enable-aggregator-routing=true",
		"--disable-admission-plugins=TaintNodesByCondition,ServiceAccount",
		"--authorization-mode=Node,RBAC",
	} {
		if !slices.Contains(apiServer, want) {
			t.Errorf("a full cluster's kube-apiserver runs without %s: %q", want, apiServer)
		}
	}
	config, err := os.ReadFile(filepath.Join(out, "egress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "udsName: " + filepath.Join(dir, egressSocketName) + "\n"; !strings.Contains(string(config), want) {
		t.Errorf("the egress configuration does not name the cluster's socket (%s):\n%s", want, config)
	}

	kcm := readLines(t, filepath.Join(out, "kube-controller-manager.args"))
	for _, want := range []string{
		"--kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--service-account-private-key-file=" + filepath.Join(dir, "pki", "sa.key"),
		"--root-ca-file=" + filepath.Join(dir, "pki", "ca.crt"),
		"--cluster-signing-cert-file=" + filepath.Join(dir, "pki", "ca.crt"),
		"--cluster-signing-key-file=" + filepath.Join(dir, "pki", "ca.key"),
	} {
		if !slices.Contains(kcm, want) {
			t.Errorf("kube-controller-manager runs without %s: %q", want, kcm)
		}
	}
}

// readLines reads a file of one value per line.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s was not written: the component did not run", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}
