package testcluster

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestWriteKubeconfigEmbedsCredentials checks that a kubeconfig written by
// writeKubeconfig works on its own (kubectl --kubeconfig=...): its current
// context names the server, the CA and the client certificate or token,
// embedded rather than as paths, and nothing else.
func TestWriteKubeconfigEmbedsCredentials(t *testing.T) {
	p := testPKI(t)
	tests := []struct {
		name string
		cfg  *rest.Config
	}{
		{name: "admin certificate", cfg: adminConfig("https://127.0.0.1:6443", p)},
		{name: "ServiceAccount token", cfg: &rest.Config{
			Host: "https://127.0.0.1:6443", BearerToken: "a.b.c",
			TLSClientConfig: rest.TLSClientConfig{CAData: p.caCert},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := writeKubeconfig(path, tt.cfg); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, field := range []string{"certificate-authority:", "client-certificate:", "client-key:", "tokenFile:"} {
				if strings.Contains(string(raw), field) {
					t.Errorf("the kubeconfig names a file (%s), so it does not work on its own:\n%s", field, raw)
				}
			}
			got, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != tt.cfg.Host {
				t.Errorf("host %q, want %q", got.Host, tt.cfg.Host)
			}
			if !bytes.Equal(got.CAData, tt.cfg.CAData) {
				t.Error("the CA is not the cluster's")
			}
			if !bytes.Equal(got.CertData, tt.cfg.CertData) || !bytes.Equal(got.KeyData, tt.cfg.KeyData) {
				t.Error("the client certificate and key are not the ones given")
			}
			if got.BearerToken != tt.cfg.BearerToken {
				t.Errorf("token %q, want %q", got.BearerToken, tt.cfg.BearerToken)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("the kubeconfig holds credentials and has mode %o; want it readable by its owner only", perm)
			}
		})
	}
}

// TestWriteKubeconfigReplacesAnOldFile checks that writing a kubeconfig over
// an existing one (a played operator started again in the same directory)
// leaves only the new credentials.
func TestWriteKubeconfigReplacesAnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	for _, token := range []string{"old-token", "new-token"} {
		if err := writeKubeconfig(path, &rest.Config{Host: "https://127.0.0.1:1", BearerToken: token}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if got.BearerToken != "new-token" {
		t.Errorf("token %q after the second write, want new-token", got.BearerToken)
	}
}

// TestAdminConfigRaisesRateLimits checks that the admin's client is not
// throttled to client-go's default 5 requests a second, which would make
// tests that create many objects slow for no reason.
func TestAdminConfigRaisesRateLimits(t *testing.T) {
	cfg := adminConfig("https://127.0.0.1:6443", testPKI(t))
	if cfg.QPS < 100 || cfg.Burst < int(cfg.QPS) {
		t.Errorf("QPS %v, burst %d; want well above client-go's defaults", cfg.QPS, cfg.Burst)
	}
	if cfg.Host != "https://127.0.0.1:6443" {
		t.Errorf("host %q", cfg.Host)
	}
}

// TestAdminKubeconfigAuthenticatesToTheServingCertificate checks the PKI and
// the kubeconfig together as the API server and kubectl use them: a TLS
// server with the serving certificate, trusting the cluster's CA for client
// certificates, accepts a client built from the admin kubeconfig and sees it
// as system:masters; a client of another cluster is refused at the
// handshake, and does not trust this server either.
func TestAdminKubeconfigAuthenticatesToTheServingCertificate(t *testing.T) {
	p := testPKI(t)
	serving, err := tls.X509KeyPair(p.servingCert, p.servingKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := r.TLS.PeerCertificates[0]
		_, _ = io.WriteString(w, peer.Subject.CommonName+" in "+strings.Join(peer.Subject.Organization, ","))
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(t, p.caCert),
	}
	// The refused handshakes below are what the test expects, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	get := func(t *testing.T, cfg *rest.Config) (string, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := writeKubeconfig(path, cfg); err != nil {
			t.Fatal(err)
		}
		loaded, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		client, err := rest.HTTPClientFor(loaded)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}

	// httptest listens on 127.0.0.1, which the serving certificate names.
	got, err := get(t, adminConfig(srv.URL, p))
	if err != nil {
		t.Fatalf("the admin kubeconfig against the cluster's serving certificate: %v", err)
	}
	if want := "bosun-testcluster-admin in " + adminGroup; got != want {
		t.Errorf("the server saw %q, want %q", got, want)
	}

	other := testPKI(t)
	if _, err := get(t, adminConfig(srv.URL, other)); err == nil {
		t.Error("another cluster's admin kubeconfig was accepted")
	}
	mixed := adminConfig(srv.URL, p)
	mixed.CAData = other.caCert
	if _, err := get(t, mixed); err == nil {
		t.Error("a client trusting another cluster's CA accepted this cluster's server")
	}
}
