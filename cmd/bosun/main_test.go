package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here, and
// kubeconfig is the file that names it, for bosun run as a process.
var (
	cfg        *rest.Config
	kubeconfig string
)

// runMainEnv, set to 1, makes the test binary run bosun's main instead of the tests, so that a test can
// run bosun as a user does and see its exit code and output (see runBosun).
const runMainEnv = "BOSUN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(clustertest.MainWith(m, testcluster.Options{}, func(c *testcluster.Cluster) error {
		cfg, kubeconfig = c.Config(), c.KubeconfigPath()
		// The deprecation warning of v1alpha1 ZTunnel is asserted where it matters, not logged for
		// every call.
		cfg.WarningHandler = rest.NoWarnings{}
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}

// TestBinaryLinksNoTestHelpers guards the split of the cluster in a box: the bosun binary uses
// internal/testcluster, and the test helpers that import the testing package live in
// internal/testcluster/clustertest, which no package of the binary may import.
func TestBinaryLinksNoTestHelpers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, "github.com/bosun-mesh/bosun/") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if imp == "testing" || strings.HasSuffix(imp, "/clustertest") {
				t.Errorf("%s imports %s, so the bosun binary links test code", pkg, imp)
			}
		}
	}
}

// runBosun runs bosun with args and stdin in a process of its own, as a user does, and returns what it
// wrote to standard output and standard error, and its exit code.
func runBosun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running bosun %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}
