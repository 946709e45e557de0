package testcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the set of credentials of one cluster, generated afresh for every
// cluster so that nothing secret is checked in and clusters never trust each
// other. ECDSA P-256 keys are used throughout: they take microseconds to
// generate, and the API server accepts them for service-account tokens too.
type pki struct {
	caCert, caKey           []byte
	servingCert, servingKey []byte
	adminCert, adminKey     []byte
	// serviceAccountKey signs service-account tokens (API server) and
	// legacy token secrets (controller manager).
	serviceAccountKey, serviceAccountPub []byte
}

// pkiFiles are the paths where writeFiles put the credentials.
type pkiFiles struct {
	caCert, caKey                        string
	servingCert, servingKey              string
	serviceAccountKey, serviceAccountPub string
}

// adminGroup is the group of the admin client certificate. The API server
// grants it every permission without consulting RBAC, so the admin works
// before the RBAC bootstrap policy is in place.
const adminGroup = "system:masters"

// certValidity is long enough for a `bosun-dev cluster` left running, and
// the one-hour backdating tolerates a skewed clock.
const certValidity = 365 * 24 * time.Hour

// newPKI creates a CA, a serving certificate for the API server valid for
// loopback and the in-cluster names of the kubernetes Service (whose cluster
// IP is serviceIP), an admin client certificate and a service-account key.
func newPKI(serviceIP net.IP) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "bosun-testcluster-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, caCert, err := sign(caTemplate, &caKey.PublicKey, nil, caKey)
	if err != nil {
		return nil, err
	}
	p := &pki{caCert: pemBlock("CERTIFICATE", caDER)}
	if p.caKey, err = keyPEM(caKey); err != nil {
		return nil, err
	}

	p.servingCert, p.servingKey, err = leaf(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, serviceIP},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
	})
	if err != nil {
		return nil, err
	}
	p.adminCert, p.adminKey, err = leaf(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "bosun-testcluster-admin", Organization: []string{adminGroup}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.serviceAccountKey, err = keyPEM(saKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	p.serviceAccountPub = pemBlock("PUBLIC KEY", pubDER)
	return p, nil
}

// leaf issues a certificate from the CA for a new key and returns both as PEM.
func leaf(caCert *x509.Certificate, caKey *ecdsa.PrivateKey, template *x509.Certificate) (certPEM, privatePEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template.KeyUsage = x509.KeyUsageDigitalSignature
	der, _, err := sign(template, &key.PublicKey, caCert, caKey)
	if err != nil {
		return nil, nil, err
	}
	privatePEM, err = keyPEM(key)
	return pemBlock("CERTIFICATE", der), privatePEM, err
}

// sign fills in serial number and validity and signs template with the
// parent's key; a nil parent makes the certificate self-signed.
func sign(template *x509.Certificate, pub *ecdsa.PublicKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	template.SerialNumber = serial
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(certValidity)
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// writeFiles writes the credentials the components read from disk into dir.
// The admin credentials only go into kubeconfig files.
func (p *pki) writeFiles(dir string) (pkiFiles, error) {
	f := pkiFiles{
		caCert:            filepath.Join(dir, "ca.crt"),
		caKey:             filepath.Join(dir, "ca.key"),
		servingCert:       filepath.Join(dir, "apiserver.crt"),
		servingKey:        filepath.Join(dir, "apiserver.key"),
		serviceAccountKey: filepath.Join(dir, "sa.key"),
		serviceAccountPub: filepath.Join(dir, "sa.pub"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	for path, data := range map[string][]byte{
		f.caCert:            p.caCert,
		f.caKey:             p.caKey,
		f.servingCert:       p.servingCert,
		f.servingKey:        p.servingKey,
		f.serviceAccountKey: p.serviceAccountKey,
		f.serviceAccountPub: p.serviceAccountPub,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}
