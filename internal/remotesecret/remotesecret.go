// Package remotesecret makes the Secret through which an istiod reads another cluster: a kubeconfig for
// a ServiceAccount of that cluster (the source), in a Secret with the label and annotation istiod's
// multicluster controller watches for, to be applied in the istiod's namespace of the cluster where it
// runs (the target). `bosun create-remote-secret` is its command.
//
// Two types, as Istio names them:
//   - remote: istiod discovers the source cluster's services and endpoints through it (multi-primary,
//     primary-remote). The Secret is istio-remote-secret-<cluster>, its key the cluster's name. The
//     ServiceAccount is istio-reader-service-account, to which the istiod chart of every Istio in the
//     namespace binds Istio's reader role (reads what discovery needs, and, for a remote profile, the
//     writes a primary's istiod makes there). bosun creates the account when it is missing, and no role:
//     the chart binds its own to that name whatever bosun would grant, so a narrower role of bosun's
//     would be a promise it cannot keep.
//   - config: an external istiod reads its configuration from the source cluster (external control
//     plane). The Secret is istio-kubeconfig, key config, for the ServiceAccount istiod that the remote
//     profile with global.configCluster creates; bosun never creates that one.
//
// Before it creates anything, Plan asks the source's API server (SubjectAccessReview) whether the
// account may read what istiod's discovery lists, and refuses, changing nothing, when it may not: a
// Secret istiod cannot use would fail silently in the other cluster.
//
// The token is a long-lived ServiceAccount token Secret (<account>-istio-remote-secret-token), filled
// by the source cluster's token controller: an istiod whose remote token expired would lose the other
// cluster without a word. The token never goes to a log; it is only in the Secret returned.
//
// Chosen: client-go's clientcmd to write the kubeconfig and server-side apply, with a field manager and
// labels of this command's own, so that the operator, which also applies Istio's reader account for a
// revision named default, never takes over what the command made. Running the command again changes
// nothing.
package remotesecret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	// FieldManager and ManagedBy mark what the command writes, apart from what the operator applies.
	FieldManager = "bosun-create-remote-secret"
	ManagedBy    = "bosun-create-remote-secret"
)

// Options say what to make.
type Options struct {
	// Cluster is the source cluster's name, as the target's istiod will know it
	// (values.global.multiCluster.clusterName of the source's Istio).
	Cluster string
	Type    Type
	// Namespace is the source's control-plane namespace, where the ServiceAccount is.
	Namespace string
	// TargetNamespace is the target's istiod namespace, where the Secret goes; empty means Namespace.
	TargetNamespace string
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
	if errs := validation.IsDNS1123Label(o.targetNamespace()); len(errs) > 0 {
		return fmt.Errorf("--target-namespace %q: %s", o.TargetNamespace, errs[0])
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

// targetNamespace is where the Secret goes.
func (o *Options) targetNamespace() string {
	if o.TargetNamespace != "" {
		return o.TargetNamespace
	}
	return o.Namespace
}

// SecretName is the name of the Secret made for the options.
func (o *Options) SecretName() string {
	if o.Type == Config {
		return ConfigSecretName
	}
	return "istio-remote-secret-" + o.Cluster
}

// Access is what the source cluster needs for the Secret: the ServiceAccount, when it does not exist
// yet, and its token Secret.
type Access struct {
	// ServiceAccount is nil when the account exists.
	ServiceAccount *corev1.ServiceAccount
	Token          *corev1.Secret
}

// Objects are what a command run creates, in the order to create them.
func (a Access) Objects() []client.Object {
	var out []client.Object
	if a.ServiceAccount != nil {
		out = append(out, a.ServiceAccount)
	}
	return append(out, a.Token)
}

// access decides the objects for the options; exists says whether the ServiceAccount is already there.
func access(o Options, exists bool) Access {
	account := o.account()
	a := Access{Token: &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: account + "-istio-remote-secret-token", Namespace: o.Namespace, Labels: labels(),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: account}},
		Type: corev1.SecretTypeServiceAccountToken}}
	if !exists {
		a.ServiceAccount = &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: o.Namespace, Labels: labels()}}
	}
	return a
}

func labels() map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": ManagedBy}
}

// DiscoveryReads are the reads every istiod makes of a cluster it discovers; the account must be
// allowed all of them, cluster-wide.
var DiscoveryReads = []authorizationv1.ResourceAttributes{
	{Verb: "list", Resource: "services"},
	{Verb: "list", Resource: "pods"},
	{Verb: "list", Resource: "namespaces"},
	{Verb: "list", Resource: "nodes"},
	{Verb: "list", Group: "discovery.k8s.io", Resource: "endpointslices"},
}

// checkReads asks the source's API server whether the account may make every discovery read, and says
// which it may not.
func checkReads(ctx context.Context, source client.Client, o Options) error {
	user := fmt.Sprintf("system:serviceaccount:%s:%s", o.Namespace, o.account())
	var denied []string
	for _, attrs := range DiscoveryReads {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + o.Namespace, "system:authenticated"},
			ResourceAttributes: &attrs}}
		if err := source.Create(ctx, sar); err != nil {
			return fmt.Errorf("asking the source cluster what ServiceAccount %s/%s may read: %w", o.Namespace, o.account(), err)
		}
		if !sar.Status.Allowed {
			what := attrs.Resource
			if attrs.Group != "" {
				what += "." + attrs.Group
			}
			denied = append(denied, what)
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("ServiceAccount %s/%s may not list %s in the source cluster, so istiod could not discover it: %s", o.Namespace, o.account(), strings.Join(denied, ", "), missingAccessHint(o))
	}
	return nil
}

func missingAccessHint(o Options) string {
	if o.Type == Config {
		return "install the source cluster's Istio first (profile remote with values.global.configCluster: true), whose chart grants it"
	}
	return "install the source cluster's Istio in namespace " + o.Namespace + " first (its istiod chart binds Istio's reader role to " + ReaderServiceAccount + "), or bind a role that grants these reads"
}

// Plan reads the source cluster and says what Create would create there, without creating anything:
// --dry-run. It refuses, as Create does, when the account may not make istiod's discovery reads
// (DiscoveryReads) or, for a config Secret or a named account, does not exist.
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
	if err := checkReads(ctx, source, o); err != nil {
		return Access{}, err
	}
	err := source.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.account()}, &corev1.ServiceAccount{})
	switch {
	case err == nil:
		return access(o, true), nil
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
	return "create it, or leave out --service-account to use " + ReaderServiceAccount
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
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), client.FieldOwner(FieldManager), client.ForceOwnership)
}

// waitForToken waits until the token controller has filled the token Secret, and returns its token and
// the cluster's CA.
func waitForToken(ctx context.Context, c client.Client, tokenSecret *corev1.Secret, timeout time.Duration) (token, ca []byte, err error) {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		s := &corev1.Secret{}
		if last = c.Get(ctx, client.ObjectKeyFromObject(tokenSecret), s); last != nil {
			return false, nil // retried until the timeout, and reported then
		}
		token, ca = s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey]
		return len(token) > 0 && len(ca) > 0, nil
	})
	if err != nil {
		msg := fmt.Sprintf("the source cluster did not fill the token Secret %s/%s within %s: is its kube-controller-manager running the token controller?", tokenSecret.Namespace, tokenSecret.Name, timeout)
		if last != nil {
			msg += fmt.Sprintf(" (reading it: %v)", last)
		}
		return nil, nil, errors.New(msg)
	}
	return token, ca, nil
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
		ObjectMeta: metav1.ObjectMeta{Name: o.SecretName(), Namespace: o.targetNamespace(),
			Labels:      map[string]string{LabelMultiCluster: "true", "app.kubernetes.io/managed-by": ManagedBy},
			Annotations: map[string]string{AnnotationCluster: o.Cluster}},
		Data: map[string][]byte{key: data}}, nil
}

// Apply writes the Secret into the target cluster, server-side. The namespace must exist there: it is
// the istiod's, which the target's Istio creates.
func Apply(ctx context.Context, target client.Client, secret *corev1.Secret) error {
	ns := &corev1.Namespace{}
	if err := target.Get(ctx, client.ObjectKey{Name: secret.Namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s does not exist in the target cluster: the Secret goes where the target's istiod runs; create its Istio first, or name that namespace with --target-namespace", secret.Namespace)
		}
		return err
	}
	return applyObject(ctx, target, secret)
}
