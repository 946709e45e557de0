//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestOperatorBinary runs bosun-operator as a cluster runs it, against the box: with leader election,
// it answers /healthz and /readyz, serves its metrics, installs a control plane, and exits 0 soon
// after SIGTERM, releasing its lease.
func TestOperatorBinary(t *testing.T) {
	c := newClient(t)
	dir := t.TempDir()
	kubeconfig := writeKubeconfig(t, dir)
	catalogFile := filepath.Join(dir, "versions.yaml")
	if err := os.WriteFile(catalogFile, []byte(catalogYAML(v1244)), 0o644); err != nil {
		t.Fatal(err)
	}
	health, metricsAddr := freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(operatorBinary, "--kubeconfig", kubeconfig, "--versions-file", catalogFile,
		"--resources-dir", resources, "--platform", "kubernetes", "--leader-election-namespace", "kube-system",
		"--health-probe-bind-address", health, "--metrics-bind-address", metricsAddr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("bosun-operator's output:\n%s", logs.String())
		}
	})

	for _, path := range []string{"/healthz", "/readyz"} {
		waitFor(t, "bosun-operator to answer "+path, func(ctx context.Context) error { return httpOK(ctx, "http://"+health+path) })
	}
	installIstio(t, c, "binary", "istio-binary", v1243)
	deleteIstio(t, c, "binary")
	var body string
	waitFor(t, "the metrics endpoint", func(ctx context.Context) error {
		var err error
		body, err = httpGet(ctx, "http://"+metricsAddr+"/metrics")
		return err
	})
	for _, metric := range []string{"bosun_api_writes_total", "bosun_renders_total", "bosun_applied_objects_total", "controller_runtime_reconcile_total"} {
		if !strings.Contains(body, metric) {
			t.Errorf("the metrics endpoint does not serve %s", metric)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("bosun-operator exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bosun-operator did not exit within 30 s of SIGTERM")
	}
}

func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return b.String(), nil
}

func httpOK(ctx context.Context, url string) error {
	_, err := httpGet(ctx, url)
	return err
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeKubeconfig writes the admin's client configuration as a kubeconfig file.
func writeKubeconfig(t *testing.T, dir string) string {
	t.Helper()
	conf := clientcmdapi.NewConfig()
	conf.Clusters["box"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	conf.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	conf.Contexts["box"] = &clientcmdapi.Context{Cluster: "box", AuthInfo: "admin"}
	conf.CurrentContext = "box"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*conf, path); err != nil {
		t.Fatal(err)
	}
	return path
}
