// Package remote reads the other clusters a control plane serves, through the remote secrets in its
// namespace: the Secrets labelled istio/multiCluster=true that istiod itself reads (`bosun
// create-remote-secret` makes them), each key a cluster's name and each value a kubeconfig for a reader
// account of that cluster. bosun reads with those credentials, so it can do no more there than istiod's
// reader role allows, and it reads only what internal/inuse's rules ask about: the metadata of the
// namespaces, and of the pods that can reference a revision.
//
// Two questions are asked of it. Use: which namespaces and pods of each served cluster reference a
// revision (the same rules as in this cluster, internal/inuse), so that a revision whose workloads run
// elsewhere is not pruned (docs/architecture.md#lesson-remote-revisions). Reach: whether each served
// cluster answers, for the Istio's RemoteClustersReachable condition. Any cluster that cannot be read
// makes Use fail, and a failed evaluation keeps the revision (docs/architecture.md#lesson-unknown-is-in-use).
//
// Reading the Secrets takes get and list on Secrets in the control plane's namespace, which the
// operator's ClusterRole does not hold: that namespace also keeps the mesh's CA key (cacerts). The
// chart grants it per namespace (remoteSecretNamespaces); without it, Use and Reach fail with a message
// that says so, and revisions are kept.
//
// Chosen: client-go's metadata client, whose lists the API server pages (Limit/Continue) and answers
// with PartialObjectMetadata, so no pod spec crosses the network; clientcmd to read the kubeconfig; and
// the Secrets read from the API server, not cached, because a cache of Secrets would need them
// cluster-wide. The clients are kept per Secret version, so their connections are reused.
package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/remotesecret"
)

// DefaultTimeout bounds each request to another cluster unless the Reader says otherwise: a cluster
// that does not answer must not hold a reconcile for long.
const DefaultTimeout = 10 * time.Second

// pageSize is how many objects one list request asks for (a variable for the tests, which page with less).
var pageSize int64 = 500

// LabelTLSMode is the label Istio's injector puts on every pod it injects; with the labels that ask
// for injection (inuse.LabelRev, inuse.LabelInject) it selects every pod that can reference a revision.
const LabelTLSMode = "security.istio.io/tlsMode"

// podSelectors select, together, every pod that can reference a revision (inuse.PodReferences): the
// injected ones, which carry the istio.io/rev annotation, and those whose labels ask for a revision.
var podSelectors = []string{LabelTLSMode, inuse.LabelRev, inuse.LabelInject + "=true"}

// Reader reads the clusters a control plane serves.
type Reader struct {
	// Secrets reads the remote secrets from the API server of this cluster.
	Secrets client.Reader
	// Timeout bounds each request to another cluster; zero means DefaultTimeout.
	Timeout time.Duration

	mu      sync.Mutex
	clients map[clientKey]metadata.Interface
}

// clientKey identifies the credentials of one cluster: a key of one version of a Secret.
type clientKey struct {
	secret          types.UID
	resourceVersion string
	cluster         string
}

// Cluster is one cluster a control plane serves, as a remote secret names it.
type Cluster struct {
	// Name is the cluster's name: the Secret's key, or for a config Secret (key config) its
	// networking.istio.io/cluster annotation.
	Name string
	// Secret is the Secret's namespace/name, for messages.
	Secret string

	key        clientKey
	kubeconfig []byte
}

// Clusters are the clusters the remote secrets in namespace name, sorted by name. A cluster named by
// two Secrets is the one istiod would read last; bosun takes the Secret whose name sorts last, and
// istiod reports the duplicate itself.
func (r *Reader) Clusters(ctx context.Context, namespace string) ([]Cluster, error) {
	var list corev1.SecretList
	err := r.Secrets.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{remotesecret.LabelMultiCluster: "true"})
	switch {
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("bosun may not read the Secrets in namespace %s, where the remote secrets of the clusters this control plane serves are, so it cannot see their workloads: "+
			"add %s to the operator chart's remoteSecretNamespaces, or grant it get and list on Secrets there", namespace, namespace)
	case err != nil:
		return nil, fmt.Errorf("listing the remote secrets in namespace %s: %w", namespace, err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	byName := map[string]Cluster{}
	for _, s := range list.Items {
		for key, kubeconfig := range s.Data {
			name := key
			if key == remotesecret.ConfigSecretKey && s.Annotations[remotesecret.AnnotationCluster] != "" {
				// A config Secret's key is always config; its annotation names the cluster.
				name = s.Annotations[remotesecret.AnnotationCluster]
			}
			byName[name] = Cluster{Name: name, Secret: s.Namespace + "/" + s.Name, kubeconfig: kubeconfig,
				key: clientKey{secret: s.UID, resourceVersion: s.ResourceVersion, cluster: name}}
		}
	}
	out := make([]Cluster, 0, len(byName))
	for _, c := range byName {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cluster) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ErrNoClusters is the error of Use when no remote secret names a cluster: a control plane that serves
// other clusters (global.externalIstiod) has workloads bosun cannot see until one does.
var ErrNoClusters = errors.New("no remote secret names a cluster")

// Use evaluates, in every cluster the remote secrets in namespace name, whether the revision t is used
// there (inuse.Revision, over the cluster's namespaces and pods), and adds what it finds to u. It
// fails, adding nothing, when there is no such cluster (ErrNoClusters) or one of them cannot be read:
// the use is then unknown.
func (r *Reader) Use(ctx context.Context, namespace string, t inuse.Target, u *inuse.Usage) error {
	clusters, err := r.Clusters(ctx, namespace)
	if err != nil {
		return err
	}
	if len(clusters) == 0 {
		return fmt.Errorf("this control plane serves other clusters (global.externalIstiod), and %w in namespace %s, so bosun cannot see their workloads: "+
			"make one for each cluster with bosun create-remote-secret", ErrNoClusters, namespace)
	}
	// Cluster names are not resolved as tags there: another cluster's tags are its own.
	t.Tags = nil
	found := make([]inuse.Usage, len(clusters))
	for i, c := range clusters {
		if found[i], err = r.usage(ctx, c, t); err != nil {
			return err
		}
	}
	for i, c := range clusters {
		u.InCluster(c.Name, found[i])
	}
	return nil
}

// Reach is whether one served cluster answers.
type Reach struct {
	Cluster Cluster
	// Err is why the cluster cannot be read, or nil.
	Err error
}

// Reach asks every cluster the remote secrets in namespace name whether it answers, with the smallest
// list that needs the credentials istiod uses.
func (r *Reader) Reach(ctx context.Context, namespace string) ([]Reach, error) {
	clusters, err := r.Clusters(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]Reach, 0, len(clusters))
	for _, c := range clusters {
		mc, err := r.client(c)
		if err == nil {
			_, err = mc.Resource(namespaces).List(ctx, metav1.ListOptions{Limit: 1})
			err = c.failed("reading its namespaces", err)
		}
		out = append(out, Reach{Cluster: c, Err: err})
	}
	return out, nil
}

var (
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	pods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// usage evaluates the revision's use in one cluster.
func (r *Reader) usage(ctx context.Context, c Cluster, t inuse.Target) (inuse.Usage, error) {
	mc, err := r.client(c)
	if err != nil {
		return inuse.Usage{}, err
	}
	var nss []inuse.Namespace
	err = list(ctx, mc.Resource(namespaces), metav1.ListOptions{}, func(m *metav1.PartialObjectMetadata) {
		nss = append(nss, inuse.Namespace{Name: m.Name, Labels: m.Labels})
	})
	if err != nil {
		return inuse.Usage{}, c.failed("listing its namespaces", err)
	}
	seen := map[types.UID]bool{}
	var ps []inuse.Pod
	for _, selector := range podSelectors {
		opts := metav1.ListOptions{LabelSelector: selector, FieldSelector: inuse.PodFieldSelector}
		err := list(ctx, mc.Resource(pods), opts, func(m *metav1.PartialObjectMetadata) {
			if !seen[m.UID] {
				seen[m.UID] = true
				ps = append(ps, inuse.Pod{Namespace: m.Namespace, Name: m.Name, Labels: m.Labels, Annotations: m.Annotations})
			}
		})
		if err != nil {
			return inuse.Usage{}, c.failed("listing its pods", err)
		}
	}
	return inuse.Revision(inuse.NewMemory(nss, ps), t)
}

// failed names the cluster and its Secret in an error of reading it.
func (c Cluster) failed(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("cluster %s (remote secret %s): %s: %w", c.Name, c.Secret, what, err)
}

// list calls each for every object of a paged list.
func list(ctx context.Context, ri metadata.ResourceInterface, opts metav1.ListOptions, each func(*metav1.PartialObjectMetadata)) error {
	opts.Limit = pageSize
	for {
		page, err := ri.List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range page.Items {
			each(&page.Items[i])
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}

// client is the metadata client of a cluster, made once per version of its Secret. Clients of Secrets
// that changed are dropped.
func (r *Reader) client(c Cluster) (metadata.Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mc, ok := r.clients[c.key]; ok {
		return mc, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.kubeconfig)
	if err != nil {
		return nil, c.failed("reading its kubeconfig", err)
	}
	cfg.Timeout = r.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.UserAgent = "bosun-operator"
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, c.failed("making its client", err)
	}
	if r.clients == nil {
		r.clients = map[clientKey]metadata.Interface{}
	}
	for k := range r.clients {
		if k.secret == c.key.secret && k.cluster == c.key.cluster {
			delete(r.clients, k)
		}
	}
	r.clients[c.key] = mc
	return mc, nil
}
