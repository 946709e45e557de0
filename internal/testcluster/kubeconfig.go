package testcluster

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// adminConfig is the admin's client configuration for the API server at
// host. The rate limits are raised well above client-go's defaults (5 QPS),
// which would otherwise make tests that create many objects slow for no
// reason on a cluster that has no other clients.
func adminConfig(host string, p *pki) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   p.caCert,
			CertData: p.adminCert,
			KeyData:  p.adminKey,
		},
		QPS:   200,
		Burst: 400,
	}
}

// writeKubeconfig writes cfg as a kubeconfig file with the credentials (a
// client certificate or a token) embedded, so the file works on its own (kubectl --kubeconfig=...).
func writeKubeconfig(path string, cfg *rest.Config) error {
	const name = "bosun-testcluster"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return clientcmd.WriteToFile(*kc, path)
}
