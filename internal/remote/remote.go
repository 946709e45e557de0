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
// Each cluster is read once per MaxAge, whoever asks (every revision of the control plane, and Reach),
// the clusters of a namespace side by side, and what is kept of it is only what the rules read (the
// names, and the labels and annotation that reference a revision). Use with Fresh reads again whatever
// the age: the Istio controller asks so just before it prunes. A failure reads the same each time it
// happens (ClusterError), since it goes into conditions, which are rewritten when their message
// changes.
//
// Reading the Secrets takes list on Secrets in the control plane's namespace, which the operator's
// ClusterRole does not hold: that namespace also keeps the mesh's CA key (cacerts). The chart grants
// it per namespace (remoteSecretNamespaces); without it, Use and Reach fail with a message that says
// so, and revisions are kept.
//
// Chosen: client-go's metadata client, whose lists the API server pages (Limit/Continue) and answers
// with PartialObjectMetadata, so no pod spec crosses the network; clientcmd to read the kubeconfig; and
// the Secrets read from the API server, not cached, because a cache of Secrets would need them
// cluster-wide. The clients are kept per Secret version, so their connections are reused.
package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/podmeta"
	"github.com/bosun-mesh/bosun/internal/remotesecret"
)

// DefaultTimeout bounds each request to another cluster unless the Reader says otherwise: a cluster
// that does not answer must not hold a reconcile for long.
const DefaultTimeout = 10 * time.Second

// Reader reads the clusters a control plane serves.
type Reader struct {
	// Secrets reads the remote secrets from the API server of this cluster.
	Secrets client.Reader
	// Timeout bounds each request to another cluster; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxAge is how long what was read of a cluster answers before it is read again; zero reads it
	// every time.
	MaxAge time.Duration
	// Clock tells the age; nil means the real clock.
	Clock clock.PassiveClock

	mu       sync.Mutex
	clusters map[clusterKey]*entry
}

// clusterKey identifies one cluster entry of one remote secret.
type clusterKey struct{ namespace, secret, cluster string }

// entry is what is kept of one cluster: the client of one version of its Secret, and what was last
// read through it.
type entry struct {
	version string
	client  metadata.Interface

	// mu lets one reader at a time read the cluster; the others wait and take what it read.
	mu        sync.Mutex
	inventory *inuse.Memory
	err       error
	at        time.Time
}

// Cluster is one cluster a control plane serves, as a remote secret names it.
type Cluster struct {
	// Name is the cluster's name: the Secret's key, or for a config Secret (key config) its
	// networking.istio.io/cluster annotation.
	Name string
	// Secret is the Secret's namespace/name, for messages.
	Secret string

	key        clusterKey
	version    string
	kubeconfig []byte
}

// ErrNoClusters is the error of Use and Reach when no remote secret names a cluster: a control plane
// that serves other clusters has workloads bosun cannot see until one does.
var ErrNoClusters = errors.New("no remote secret names a cluster")

// Clusters are the clusters the remote secrets in namespace name, sorted by name and Secret. A cluster
// two Secrets name is listed twice: istiod takes one of them, and bosun, which cannot tell which, reads
// both. Clients of Secrets no longer there are dropped.
func (r *Reader) Clusters(ctx context.Context, namespace string) ([]Cluster, error) {
	var list corev1.SecretList
	err := r.Secrets.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{remotesecret.LabelMultiCluster: "true"})
	switch {
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("bosun may not read the Secrets in namespace %s, where the remote secrets of the clusters this control plane serves are, so it cannot see their workloads: "+
			"add %s to the operator chart's remoteSecretNamespaces, or grant it list on Secrets there", namespace, namespace)
	case err != nil:
		return nil, fmt.Errorf("listing the remote secrets in namespace %s: %w", namespace, err)
	}
	var out []Cluster
	for _, s := range list.Items {
		for key, kubeconfig := range s.Data {
			name := key
			if key == remotesecret.ConfigSecretKey && s.Annotations[remotesecret.AnnotationCluster] != "" {
				// A config Secret's key is always config; its annotation names the cluster.
				name = s.Annotations[remotesecret.AnnotationCluster]
			}
			out = append(out, Cluster{Name: name, Secret: s.Namespace + "/" + s.Name, kubeconfig: kubeconfig,
				key: clusterKey{namespace: namespace, secret: s.Name, cluster: key}, version: string(s.UID) + "/" + s.ResourceVersion})
		}
	}
	slices.SortFunc(out, func(a, b Cluster) int {
		return strings.Compare(a.Name+"\x00"+a.Secret, b.Name+"\x00"+b.Secret)
	})
	r.forget(namespace, out)
	return out, nil
}

// forget drops the entries of namespace that listed does not hold, or holds at another version.
func (r *Reader) forget(namespace string, listed []Cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.clusters {
		if k.namespace != namespace {
			continue
		}
		if !slices.ContainsFunc(listed, func(c Cluster) bool { return c.key == k && c.version == e.version }) {
			delete(r.clusters, k)
		}
	}
}

// Freshness says whether Use may answer from what was read of a cluster within MaxAge.
type Freshness bool

const (
	// Recent lets Use answer from what was read within MaxAge.
	Recent Freshness = false
	// Fresh reads every cluster again.
	Fresh Freshness = true
)

// Use evaluates, in every cluster the remote secrets in namespace name, whether the revision t is used
// there (inuse.Revision, over the cluster's namespaces and pods), and adds what it finds to u. It
// fails, adding nothing, when there is no such cluster (ErrNoClusters) or one of them cannot be read:
// the use is then unknown.
func (r *Reader) Use(ctx context.Context, namespace string, t inuse.Target, u *inuse.Usage, fresh Freshness) error {
	clusters, err := r.Clusters(ctx, namespace)
	if err != nil {
		return err
	}
	if len(clusters) == 0 {
		return noClusters(namespace)
	}
	inventories, errs := r.inventories(ctx, clusters, fresh)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Tags are not resolved there: another cluster's tags are its own, and a namespace or pod there
	// that names one of this cluster's tags selects that cluster's injector, not this revision's.
	t.Tags = nil
	found := make([]inuse.Usage, len(clusters))
	for i := range clusters {
		if found[i], err = inuse.Revision(inventories[i], t); err != nil {
			return err
		}
	}
	for i, c := range clusters {
		u.InCluster(c.Name, found[i])
	}
	return nil
}

// noClusters is ErrNoClusters for namespace, with what to do.
func noClusters(namespace string) error {
	return fmt.Errorf("this control plane serves other clusters (global.externalIstiod or pilot.env.EXTERNAL_ISTIOD), and %w in namespace %s, so bosun cannot see their workloads: "+
		"make one for each cluster with bosun create-remote-secret", ErrNoClusters, namespace)
}

// Reach is whether one served cluster answers.
type Reach struct {
	Cluster Cluster
	// Err is why the cluster cannot be read (a ClusterError), or nil.
	Err error
}

// Reach says whether every cluster the remote secrets in namespace name can be read, from what was
// read of it within MaxAge. Without any such cluster it fails with ErrNoClusters.
func (r *Reader) Reach(ctx context.Context, namespace string) ([]Reach, error) {
	clusters, err := r.Clusters(ctx, namespace)
	if err != nil {
		return nil, err
	}
	if len(clusters) == 0 {
		return nil, noClusters(namespace)
	}
	_, errs := r.inventories(ctx, clusters, Recent)
	out := make([]Reach, len(clusters))
	for i, c := range clusters {
		out[i] = Reach{Cluster: c, Err: errs[i]}
	}
	return out, nil
}

// inventories reads the clusters side by side, each once per MaxAge unless fresh.
func (r *Reader) inventories(ctx context.Context, clusters []Cluster, fresh Freshness) ([]*inuse.Memory, []error) {
	out := make([]*inuse.Memory, len(clusters))
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = r.inventory(ctx, c, fresh)
		}()
	}
	wg.Wait()
	return out, errs
}

// inventory is what the rules read of one cluster: read now, or kept from a read within MaxAge.
func (r *Reader) inventory(ctx context.Context, c Cluster, fresh Freshness) (*inuse.Memory, error) {
	e, err := r.entry(c)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := r.now()
	if fresh == Recent && !e.at.IsZero() && now.Sub(e.at) < r.MaxAge {
		return e.inventory, e.err
	}
	e.inventory, e.err = read(ctx, e.client, c)
	e.at = now
	return e.inventory, e.err
}

func (r *Reader) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// read lists a cluster's namespaces and the pods that can reference a revision, keeping only what the
// rules read.
func read(ctx context.Context, mc metadata.Interface, c Cluster) (*inuse.Memory, error) {
	var nss []inuse.Namespace
	err := podmeta.Namespaces(ctx, mc, func(m *metav1.PartialObjectMetadata) {
		nss = append(nss, inuse.Namespace{Name: m.Name, Labels: inuse.Only(m.Labels, inuse.LabelInjection, inuse.LabelRev)})
	})
	if err != nil {
		return nil, &ClusterError{Cluster: c, What: "listing its namespaces", Err: err}
	}
	var ps []inuse.Pod
	err = podmeta.Pods(ctx, mc, inuse.PodFieldSelector, func(m *metav1.PartialObjectMetadata) {
		ps = append(ps, inuse.Pod{Namespace: m.Namespace, Name: m.Name,
			Labels: inuse.Only(m.Labels, inuse.LabelRev, inuse.LabelInject), Annotations: inuse.Only(m.Annotations, inuse.AnnotationRev)})
	})
	if err != nil {
		return nil, &ClusterError{Cluster: c, What: "listing its pods", Err: err}
	}
	return inuse.NewMemory(nss, ps), nil
}

// entry is the entry of a cluster, with a client made for the version of its Secret.
func (r *Reader) entry(c Cluster) (*entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.clusters[c.key]; ok && e.version == c.version {
		return e, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.kubeconfig)
	if err != nil {
		return nil, &ClusterError{Cluster: c, What: "reading its kubeconfig", Err: err}
	}
	cfg.Timeout = r.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.UserAgent = "bosun-operator"
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, &ClusterError{Cluster: c, What: "making its client", Err: err}
	}
	if r.clusters == nil {
		r.clusters = map[clusterKey]*entry{}
	}
	e := &entry{version: c.version, client: mc}
	r.clusters[c.key] = e
	return e, nil
}

// ClusterError is a failure to read a cluster. Its message names the cluster and its Secret and sums
// the failure up in words that stay the same while the failure does (a refused connection's local
// port, say, changes every time); Unwrap gives the failure itself.
type ClusterError struct {
	Cluster Cluster
	// What is what bosun was doing: "listing its namespaces", say.
	What string
	Err  error
}

func (e *ClusterError) Error() string {
	return fmt.Sprintf("cluster %s (remote secret %s): %s: %s", e.Cluster.Name, e.Cluster.Secret, e.What, summary(e.Err))
}

func (e *ClusterError) Unwrap() error { return e.Err }

// summary says what went wrong in words that do not change from one try to the next.
func summary(err error) string {
	var status apierrors.APIStatus
	var netErr net.Error
	var dnsErr *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	switch {
	case apierrors.IsUnauthorized(err):
		return "the API server does not accept the Secret's credentials (401 Unauthorized)"
	case apierrors.IsForbidden(err):
		return "the Secret's account may not read them (403 Forbidden)"
	case errors.As(err, &status):
		s := status.Status()
		return fmt.Sprintf("the API server answered %d %s", s.Code, s.Reason)
	case errors.As(err, &dnsErr):
		return "the API server's host name does not resolve"
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verification):
		return "the API server's certificate is not the one the Secret trusts"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return err.Error()
}
