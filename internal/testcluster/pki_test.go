package testcluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// parseCert decodes one PEM certificate.
func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", data)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("more than one PEM block: %q", rest)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// testPKI generates a PKI for the given Service IP, failing the test on error.
func testPKI(t *testing.T) *pki {
	t.Helper()
	p, err := newPKI(kubernetesServiceIP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pool is a certificate pool holding only the PEM CA certificate.
func pool(t *testing.T, caPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificate in %q", caPEM)
	}
	return pool
}

// TestServingCertificateNamesWhatClientsDial checks that the API server's
// certificate verifies, as a server certificate chained to the cluster's CA,
// for every address and name a client of the box dials: loopback for the
// test process and kubectl, the kubernetes Service's cluster IP and DNS names
// for in-cluster clients such as a played istiod or operator; and for no
// other name.
func TestServingCertificateNamesWhatClientsDial(t *testing.T) {
	p := testPKI(t)
	cert := parseCert(t, p.servingCert)
	roots := pool(t, p.caCert)
	for _, name := range []string{
		"127.0.0.1", "::1", "10.96.0.1", "localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cert.Verify(x509.VerifyOptions{
				DNSName:   name,
				Roots:     roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				t.Errorf("the serving certificate does not verify for %s: %v", name, err)
			}
		})
	}
	for _, name := range []string{"10.96.0.2", "kubernetes.default.svc.cluster.other", "example.com", "10.244.0.1"} {
		t.Run("not "+name, func(t *testing.T) {
			if err := cert.VerifyHostname(name); err == nil {
				t.Errorf("the serving certificate is valid for %s, which no component of the box serves", name)
			}
		})
	}
}

// TestServingCertificateFollowsTheServiceIP checks that the serving
// certificate names the cluster IP it is generated for, so a change of
// serviceCIDR that moves the kubernetes Service keeps in-cluster clients
// working.
func TestServingCertificateFollowsTheServiceIP(t *testing.T) {
	ip := net.IPv4(10, 100, 0, 1)
	p, err := newPKI(ip)
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, p.servingCert)
	if err := cert.VerifyHostname("10.100.0.1"); err != nil {
		t.Errorf("newPKI(%s): the serving certificate does not name it: %v", ip, err)
	}
	if err := cert.VerifyHostname("10.96.0.1"); err == nil {
		t.Errorf("newPKI(%s): the serving certificate still names 10.96.0.1", ip)
	}
}

// TestKubernetesServiceIPIsTheFirstOfServiceCIDR checks that the address the
// serving certificate names is the one the API server gives the kubernetes
// Service: the first host address of --service-cluster-ip-range.
func TestKubernetesServiceIPIsTheFirstOfServiceCIDR(t *testing.T) {
	_, cidr, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(cidr.IP.To4())
	first[3]++
	if !first.Equal(kubernetesServiceIP) {
		t.Errorf("kubernetesServiceIP = %s, want %s, the first address of %s", kubernetesServiceIP, first, serviceCIDR)
	}
	_, pods, err := net.ParseCIDR(podCIDR)
	if err != nil {
		t.Fatal(err)
	}
	if pods.Contains(cidr.IP) || cidr.Contains(pods.IP) {
		t.Errorf("pod CIDR %s and service CIDR %s overlap", podCIDR, serviceCIDR)
	}
	if pods.IP.IsLoopback() {
		t.Errorf("pod CIDR %s is loopback, which EndpointSlice validation refuses", podCIDR)
	}
}

// TestCertificateRoles checks what each certificate may be used for: the CA
// signs and is self-signed, the serving certificate authenticates a server
// and not a client, and the admin's authenticates a client in
// system:masters (which the API server lets do anything) and cannot pose as
// the API server.
func TestCertificateRoles(t *testing.T) {
	p := testPKI(t)
	ca := parseCert(t, p.caCert)
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, basic constraints %v, key usage %b; want a CA that signs certificates", ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("the CA is not self-signed: %v", err)
	}
	roots := pool(t, p.caCert)

	serving := parseCert(t, p.servingCert)
	admin := parseCert(t, p.adminCert)
	for _, c := range []struct {
		name      string
		cert      *x509.Certificate
		usage     x509.ExtKeyUsage
		wantValid bool
	}{
		{"serving as server", serving, x509.ExtKeyUsageServerAuth, true},
		{"serving as client", serving, x509.ExtKeyUsageClientAuth, false},
		{"admin as client", admin, x509.ExtKeyUsageClientAuth, true},
		{"admin as server", admin, x509.ExtKeyUsageServerAuth, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{c.usage}})
			if (err == nil) != c.wantValid {
				t.Errorf("verify: %v; want valid = %v", err, c.wantValid)
			}
			if c.cert.IsCA {
				t.Error("a leaf certificate is a CA")
			}
			if c.cert.KeyUsage&x509.KeyUsageCertSign != 0 {
				t.Error("a leaf certificate may sign certificates")
			}
			if c.cert.Issuer.CommonName != ca.Subject.CommonName {
				t.Errorf("issuer %q, want the CA %q", c.cert.Issuer.CommonName, ca.Subject.CommonName)
			}
		})
	}
	if len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != adminGroup {
		t.Errorf("admin certificate organizations %v, want [%s]: the API server reads them as groups", admin.Subject.Organization, adminGroup)
	}
	if admin.Subject.CommonName == "" {
		t.Error("admin certificate has no common name, which the API server reads as the user name")
	}
}

// TestCertificatesAreValidNowAndForAYear checks the validity window of every
// certificate: backdated by an hour for a skewed clock, and valid for a year
// so that a `bosun-dev cluster` left running does not stop working.
func TestCertificatesAreValidNowAndForAYear(t *testing.T) {
	before := time.Now()
	p := testPKI(t)
	after := time.Now()
	for name, data := range map[string][]byte{"CA": p.caCert, "serving": p.servingCert, "admin": p.adminCert} {
		cert := parseCert(t, data)
		// Certificates carry whole seconds.
		if cert.NotBefore.After(before.Add(-time.Hour)) || cert.NotBefore.Before(after.Add(-time.Hour-2*time.Second)) {
			t.Errorf("%s: NotBefore %s, want an hour before now (%s)", name, cert.NotBefore, before)
		}
		if got := cert.NotAfter.Sub(cert.NotBefore); got < certValidity || got > certValidity+time.Hour+2*time.Second {
			t.Errorf("%s: valid for %s, want %s from now", name, got, certValidity)
		}
		if cert.NotAfter.Before(before.Add(364 * 24 * time.Hour)) {
			t.Errorf("%s: expires %s, within a year", name, cert.NotAfter)
		}
	}
}

// TestKeysMatchTheirCertificates checks that each private key pairs with its
// certificate, as the API server and every client load them, and that the
// service-account key pair's public half is the private key's, so tokens the
// API server signs verify.
func TestKeysMatchTheirCertificates(t *testing.T) {
	p := testPKI(t)
	for name, pair := range map[string][2][]byte{
		"CA":      {p.caCert, p.caKey},
		"serving": {p.servingCert, p.servingKey},
		"admin":   {p.adminCert, p.adminKey},
	} {
		if _, err := tls.X509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("%s: certificate and key do not pair: %v", name, err)
		}
	}

	keyBlock, _ := pem.Decode(p.serviceAccountKey)
	if keyBlock == nil || keyBlock.Type != "PRIVATE KEY" {
		t.Fatalf("service-account key is not a PKCS#8 PEM block: %q", p.serviceAccountKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pubBlock, _ := pem.Decode(p.serviceAccountPub)
	if pubBlock == nil || pubBlock.Type != "PUBLIC KEY" {
		t.Fatalf("service-account public key is not a PEM PUBLIC KEY: %q", p.serviceAccountPub)
	}
	pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("service-account key is a %T, want ECDSA", key)
	}
	if !ecKey.PublicKey.Equal(pub) {
		t.Error("the service-account public key is not the private key's")
	}
	if ecKey.Curve != elliptic.P256() {
		t.Errorf("service-account key on %s, want P-256, which the API server accepts for tokens", ecKey.Curve.Params().Name)
	}
}

// TestEveryClusterHasItsOwnCredentials checks that two clusters never trust
// each other: a certificate of one does not verify against the other's CA,
// and no key or serial number is shared.
func TestEveryClusterHasItsOwnCredentials(t *testing.T) {
	a, b := testPKI(t), testPKI(t)
	if bytes.Equal(a.caKey, b.caKey) || bytes.Equal(a.serviceAccountKey, b.serviceAccountKey) || bytes.Equal(a.adminKey, b.adminKey) {
		t.Fatal("two PKIs share a key")
	}
	if _, err := parseCert(t, a.servingCert).Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool(t, b.caCert)}); err == nil {
		t.Error("one cluster's serving certificate verifies against another cluster's CA")
	}
	if _, err := parseCert(t, a.adminCert).Verify(x509.VerifyOptions{Roots: pool(t, b.caCert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("one cluster's admin certificate verifies against another cluster's CA")
	}
	serials := map[string]bool{}
	for _, data := range [][]byte{a.caCert, a.servingCert, a.adminCert, b.caCert, b.servingCert, b.adminCert} {
		c := parseCert(t, data)
		if c.SerialNumber.Sign() <= 0 {
			t.Errorf("%s: serial %s, want a positive one", c.Subject.CommonName, c.SerialNumber)
		}
		if serials[c.SerialNumber.String()] {
			t.Errorf("%s: serial %s used twice", c.Subject.CommonName, c.SerialNumber)
		}
		serials[c.SerialNumber.String()] = true
	}
}

// TestWriteFilesWritesWhatComponentsRead checks that writeFiles puts each
// credential the components read at the path it returns, readable by this
// user only, and leaves the admin's credentials out: they live only in
// kubeconfig files.
func TestWriteFilesWritesWhatComponentsRead(t *testing.T) {
	p := testPKI(t)
	dir := filepath.Join(t.TempDir(), "pki")
	files, err := p.writeFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{
		files.caCert:            p.caCert,
		files.caKey:             p.caKey,
		files.servingCert:       p.servingCert,
		files.servingKey:        p.servingKey,
		files.serviceAccountKey: p.serviceAccountKey,
		files.serviceAccountPub: p.serviceAccountPub,
	} {
		if filepath.Dir(path) != dir {
			t.Errorf("%s is not in %s", path, dir)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("reading %s: %v", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s holds other bytes than the credential", path)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", path, perm)
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("%s has mode %o, want 700", dir, perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(data, p.adminKey) || bytes.Equal(data, p.adminCert) {
			t.Errorf("%s holds the admin's credentials", e.Name())
		}
	}
	if len(entries) != 6 {
		t.Errorf("%d files in %s, want the 6 the components read", len(entries), dir)
	}
}
