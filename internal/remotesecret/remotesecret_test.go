package remotesecret

import (
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// TestSecret: the Secret is the one istiod's multicluster controller reads, named and keyed as Istio
// expects for each type, and its kubeconfig reaches the server with the CA and token given.
func TestSecret(t *testing.T) {
	for _, tc := range []struct {
		typ       Type
		name, key string
	}{
		{Remote, "istio-remote-secret-cluster2", "cluster2"},
		{Config, "istio-kubeconfig", "config"},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			s, err := Secret(Options{Cluster: "cluster2", Type: tc.typ, Namespace: "istio-system"}, "https://10.0.0.2:6443", []byte("CA"), []byte("TOKEN"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != tc.name || s.Namespace != "istio-system" || s.Labels[LabelMultiCluster] != "true" || s.Annotations[AnnotationCluster] != "cluster2" {
				t.Errorf("Secret %s/%s labels %v annotations %v", s.Namespace, s.Name, s.Labels, s.Annotations)
			}
			cfg, err := clientcmd.Load(s.Data[tc.key])
			if err != nil {
				t.Fatalf("key %s: %v (data keys %v)", tc.key, err, keys(s.Data))
			}
			rest, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			if rest.Host != "https://10.0.0.2:6443" || string(rest.CAData) != "CA" || rest.BearerToken != "TOKEN" {
				t.Errorf("kubeconfig reaches %s with CA %q and token %q", rest.Host, rest.CAData, rest.BearerToken)
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestOptionsAreChecked: a name istiod cannot use, or an unknown type, is refused with what to change.
func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Cluster: "", Type: Remote, Namespace: "istio-system"}, "--name"},
		{Options{Cluster: "Cluster_2", Type: Remote, Namespace: "istio-system"}, "DNS-1123 label"},
		{Options{Cluster: "c2", Type: "reader", Namespace: "istio-system"}, "use remote"},
		{Options{Cluster: "c2", Type: Remote, Namespace: "Istio"}, "--namespace"},
		{Options{Cluster: "c2", Type: Remote, Namespace: "istio-system", TargetNamespace: "Istio_2"}, "--target-namespace"},
	} {
		if _, err := Secret(tc.o, "https://x", nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one saying %q", tc.o, err, tc.want)
		}
	}
}

// TestAccess: bosun creates the reader account only when it is missing, never a role, and its token
// Secret always, all labelled as the command's own.
func TestAccess(t *testing.T) {
	o := Options{Cluster: "c2", Type: Remote, Namespace: "istio-system"}
	missing := access(o, false)
	if len(missing.Objects()) != 2 || missing.ServiceAccount.Name != ReaderServiceAccount || missing.Token.Annotations["kubernetes.io/service-account.name"] != ReaderServiceAccount {
		t.Errorf("for a missing account: %+v", missing)
	}
	if existing := access(o, true); len(existing.Objects()) != 1 || existing.ServiceAccount != nil {
		t.Errorf("an existing ServiceAccount gets %d objects, want only its token Secret", len(existing.Objects()))
	}
	for _, obj := range missing.Objects() {
		if obj.GetLabels()["app.kubernetes.io/managed-by"] != ManagedBy {
			t.Errorf("%s is labelled %v, want managed-by %s, apart from the operator's objects", obj.GetName(), obj.GetLabels(), ManagedBy)
		}
	}
}

// TestSecretGoesToTheTargetNamespace: the Secret goes to --target-namespace when it is given, else to
// the source's namespace.
func TestSecretGoesToTheTargetNamespace(t *testing.T) {
	for target, want := range map[string]string{"": "istio-system1", "istio-system": "istio-system"} {
		s, err := Secret(Options{Cluster: "c1", Type: Remote, Namespace: "istio-system1", TargetNamespace: target}, "https://x", nil, nil)
		if err != nil || s.Namespace != want {
			t.Errorf("target %q: Secret in %q (%v), want %q", target, s.Namespace, err, want)
		}
	}
}
