// Package remotesecret makes the Secret through which an istiod reads another cluster: a kubeconfig for
// a ServiceAccount of that cluster (the source), in a Secret with the label and annotation istiod's
// multicluster controller watches for, to be applied in the istiod's namespace of the cluster where it
// runs (the target). `bosun create-remote-secret` is its command.
//
// Two types, as Istio names them:
//   - remote: istiod discovers the source cluster's services and endpoints through it (multi-primary,
//     primary-remote). The Secret is istio-remote-secret-<cluster>, its key the cluster's name. The
//     ServiceAccount is istio-reader-service-account, which Istio's charts create with a reader role
//     wherever an Istio is installed; where it does not exist, bosun creates it with a ClusterRole that
//     only reads what service discovery reads (ReaderRules) and may review tokens and access, which
//     istiod needs to authenticate the source cluster's workloads.
//   - config: an external istiod reads its configuration from the source cluster (external control
//     plane). The Secret is istio-kubeconfig, key config, for the ServiceAccount istiod that the remote
//     profile with global.configCluster creates; bosun never creates that one.
//
// The token is a long-lived ServiceAccount token Secret (<account>-istio-remote-secret-token), filled
// by the source cluster's token controller: an istiod whose remote token expired would lose the other
// cluster without a word. The token never goes to a log; it is only in the Secret returned.
//
// Chosen: client-go's clientcmd to write the kubeconfig and server-side apply (field manager bosun)
// for everything created, so that running the command again changes nothing.
package remotesecret

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/apply"
)

// Type is the kind of access the Secret gives.
type Type string

const (
	// Remote lets istiod discover the source cluster's services and endpoints.
	Remote Type = "remote"
	// Config lets an external istiod read its configuration from the source cluster.
	Config Type = "config"
)

// What istiod's multicluster controller selects and reads.
const (
	// LabelMultiCluster marks a Secret istiod reads clusters from.
	LabelMultiCluster = "istio/multiCluster"
	// AnnotationCluster names the cluster a Secret gives access to.
	AnnotationCluster = "networking.istio.io/cluster"
	// ReaderServiceAccount is the ServiceAccount of a remote Secret unless told otherwise.
	ReaderServiceAccount = "istio-reader-service-account"
	// ConfigServiceAccount is the ServiceAccount of a config Secret unless told otherwise.
	ConfigServiceAccount = "istiod"
	// ConfigSecretName and ConfigSecretKey are the Secret and key of a config Secret.
	ConfigSecretName = "istio-kubeconfig"
	ConfigSecretKey  = "config"
)

// Options say what to make.
type Options struct {
	// Cluster is the source cluster's name, as the target's istiod will know it
	// (values.global.multiCluster.clusterName of the source's Istio).
	Cluster string
	Type    Type
	// Namespace is the control plane's namespace: where the ServiceAccount is in the source, and where
	// the Secret goes in the target.
	Namespace string
	// ServiceAccount overrides the type's default ServiceAccount.
	ServiceAccount string
	// Server overrides the source's API server address, for when the address in the kubeconfig used
	// here is not the one istiod reaches.
	Server string
	// TokenTimeout bounds the wait for the token controller to fill the token Secret.
	TokenTimeout time.Duration
}

// check refuses options that would make a Secret istiod cannot use, saying what to change.
func (o *Options) check() error {
	if errs := validation.IsDNS1123Label(o.Cluster); o.Cluster == "" || len(errs) > 0 {
		return fmt.Errorf("--name %q: the cluster's name must be a DNS-1123 label (lower-case letters, digits and '-'), as in values.global.multiCluster.clusterName", o.Cluster)
	}
	switch o.Type {
	case Remote, Config:
	default:
		return fmt.Errorf("--type %q: use remote (istiod discovers this cluster's services) or config (an external istiod reads its configuration here)", o.Type)
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace %q: %s", o.Namespace, errs[0])
	}
	return nil
}

// account is the ServiceAccount the Secret gives the credentials of.
func (o *Options) account() string {
	switch {
	case o.ServiceAccount != "":
		return o.ServiceAccount
	case o.Type == Config:
		return ConfigServiceAccount
	}
	return ReaderServiceAccount
}

// SecretName is the name of the Secret made for the options.
func (o *Options) SecretName() string {
	if o.Type == Config {
		return ConfigSecretName
	}
	return "istio-remote-secret-" + o.Cluster
}

// ReaderRules are what a remote Secret's ServiceAccount may do when bosun creates it: read what
// istiod's service discovery reads of a cluster (services, their endpoints, the pods and nodes behind
// them, namespaces, and the workload entries and gateways that join them), and ask the cluster to
// review a token or an access, with which istiod authenticates and authorizes the cluster's
// workloads. Nothing else: no Secret, and no write.
var ReaderRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "pods", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.istio.io"}, Resources: []string{"workloadentries", "serviceentries"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
}

// Access is what the source cluster needs for the Secret: the ServiceAccount with its role (made by
// bosun when the account did not exist; an account someone else made keeps the role it has) and the
// token Secret.
type Access struct {
	ServiceAccount *corev1.ServiceAccount
	// Role and Binding are nil when the ServiceAccount exists: its role is whoever made it's.
	Role    *rbacv1.ClusterRole
	Binding *rbacv1.ClusterRoleBinding
	Token   *corev1.Secret
}

// Objects are what a command run creates, in the order to create them.
func (a Access) Objects() []client.Object {
	var out []client.Object
	if a.Role != nil {
		out = append(out, a.ServiceAccount, a.Role, a.Binding)
	}
	return append(out, a.Token)
}

// access decides the objects for the options; exists says whether the ServiceAccount is already there.
func access(o Options, exists bool) Access {
	account := o.account()
	a := Access{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: o.Namespace, Labels: labels()}},
		Token: &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: account + "-istio-remote-secret-token", Namespace: o.Namespace, Labels: labels(),
				Annotations: map[string]string{corev1.ServiceAccountNameKey: account}},
			Type: corev1.SecretTypeServiceAccountToken},
	}
	if exists {
		return a
	}
	role := "bosun-remote-reader-" + o.Namespace
	a.Role = &rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels()}, Rules: ReaderRules}
	a.Binding = &rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels()},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: o.Namespace}}}
	return a
}

func labels() map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "bosun", "app.kubernetes.io/component": "remote-secret"}
}

// madeByBosun reports whether an object carries the labels of what this package creates.
func madeByBosun(obj metav1.Object) bool {
	for k, v := range labels() {
		if obj.GetLabels()[k] != v {
			return false
		}
	}
	return true
}

// Plan reads the source cluster and says what Create would create there, without creating anything:
// --dry-run. It fails as Create would when the ServiceAccount of a config Secret does not exist.
func Plan(ctx context.Context, source client.Client, o Options) (Access, error) {
	if err := o.check(); err != nil {
		return Access{}, err
	}
	if err := source.Get(ctx, client.ObjectKey{Name: o.Namespace}, &corev1.Namespace{}); err != nil {
		if apierrors.IsNotFound(err) {
			return Access{}, fmt.Errorf("namespace %s does not exist in the source cluster: install the cluster's Istio there first, or name its control plane's namespace with --namespace", o.Namespace)
		}
		return Access{}, err
	}
	sa := &corev1.ServiceAccount{}
	err := source.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.account()}, sa)
	switch {
	case err == nil:
		// One bosun made keeps its role: running again applies the same objects, which changes nothing.
		return access(o, !madeByBosun(sa)), nil
	case !apierrors.IsNotFound(err):
		return Access{}, err
	case o.Type == Config || o.ServiceAccount != "":
		return Access{}, fmt.Errorf("ServiceAccount %s/%s does not exist in the source cluster: %s", o.Namespace, o.account(), missingAccountHint(o))
	}
	return access(o, false), nil
}

func missingAccountHint(o Options) string {
	if o.Type == Config {
		return "install the source cluster's Istio first (profile remote with values.global.configCluster: true creates it)"
	}
	return "create it, or leave out --service-account to let bosun create " + ReaderServiceAccount + " with a reader role"
}

// Create makes the access in the source cluster (Plan's objects, applied server-side), waits for its
// token, and returns the Secret for the target cluster: a kubeconfig that reaches the source at server
// (the address istiod reaches it at), trusting the CA the token Secret carries.
func Create(ctx context.Context, source client.Client, server string, o Options) (*corev1.Secret, Access, error) {
	a, err := Plan(ctx, source, o)
	if err != nil {
		return nil, a, err
	}
	for _, obj := range a.Objects() {
		if err := applyObject(ctx, source, obj); err != nil {
			return nil, a, fmt.Errorf("creating %s %s in the source cluster: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	token, ca, err := waitForToken(ctx, source, a.Token, o.TokenTimeout)
	if err != nil {
		return nil, a, err
	}
	secret, err := Secret(o, server, ca, token)
	return secret, a, err
}

// applyObject applies a typed object server-side, as bosun's field manager.
func applyObject(ctx context.Context, c client.Client, obj client.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), client.FieldOwner(apply.FieldManager), client.ForceOwnership)
}

// waitForToken waits until the token controller has filled the token Secret, and returns its token and
// the cluster's CA.
func waitForToken(ctx context.Context, c client.Client, tokenSecret *corev1.Secret, timeout time.Duration) (token, ca []byte, err error) {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(tokenSecret), s); err != nil {
			return false, err
		}
		token, ca = s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey]
		return len(token) > 0 && len(ca) > 0, nil
	})
	if wait.Interrupted(err) {
		return nil, nil, fmt.Errorf("the source cluster did not fill the token Secret %s/%s within %s: is its kube-controller-manager running the token controller?", tokenSecret.Namespace, tokenSecret.Name, timeout)
	}
	return token, ca, err
}

// Secret is the Secret for the target cluster: a kubeconfig that reaches server, trusting ca, with the
// token, in the Secret istiod's multicluster controller reads.
func Secret(o Options, server string, ca, token []byte) (*corev1.Secret, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[o.Cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[o.Cluster] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts[o.Cluster] = &clientcmdapi.Context{Cluster: o.Cluster, AuthInfo: o.Cluster}
	cfg.CurrentContext = o.Cluster
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, err
	}
	key := o.Cluster
	if o.Type == Config {
		key = ConfigSecretKey
	}
	return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: o.SecretName(), Namespace: o.Namespace,
			Labels:      map[string]string{LabelMultiCluster: "true", "app.kubernetes.io/managed-by": "bosun"},
			Annotations: map[string]string{AnnotationCluster: o.Cluster}},
		Data: map[string][]byte{key: data}}, nil
}

// Apply writes the Secret into the target cluster, server-side. The namespace must exist there: it is
// the istiod's, which the target's Istio creates.
func Apply(ctx context.Context, target client.Client, secret *corev1.Secret) error {
	ns := &corev1.Namespace{}
	if err := target.Get(ctx, client.ObjectKey{Name: secret.Namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s does not exist in the target cluster: the Secret goes where the target's istiod runs; create its Istio first, or name that namespace with --namespace", secret.Namespace)
		}
		return err
	}
	return applyObject(ctx, target, secret)
}
