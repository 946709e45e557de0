// Package operator assembles bosun's operator: one controller-runtime manager with the controllers of
// internal/controller, a cache shaped to stay small on large clusters, leader election, metrics and
// health endpoints. bosun-operator (cmd/bosun-operator) runs it; the end-to-end tests run it
// in-process against the cluster in a box.
//
// The cache holds:
//   - bosun's own resources, whole;
//   - the kinds bosun applies (internal/apply.Kinds), only objects labelled
//     app.kubernetes.io/managed-by=bosun, with their managedFields, which drift detection reads;
//   - namespaces and pods as metadata only, trimmed to the labels and annotation that say which
//     revision they use, pods only while they are not Succeeded or Failed (a field selector), with the
//     indexes of internal/inuse, so that "who uses revision R" is answered without listing. The other
//     labels of namespaces, which meshes' discovery selectors select, are read from the API server
//     only while several meshes run (internal/controller/istio).
//
// Istio's CRDs are not cached: internal/controller/crds reads their metadata from the API server, and
// only when the newest Istio version in use changes. Nothing else is cached, and a read of anything else fails instead of quietly starting a
// cluster-wide informer.
package operator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/api/v1alpha1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/crds"
	"github.com/bosun-mesh/bosun/internal/controller/istio"
	"github.com/bosun-mesh/bosun/internal/controller/nodeagent"
	"github.com/bosun-mesh/bosun/internal/controller/revision"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/controller/tag"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/platform"
	"github.com/bosun-mesh/bosun/internal/preflight"
	"github.com/bosun-mesh/bosun/internal/remote"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// DefaultLease are the leader election timings unless told otherwise. An idle leader renews its lease
// every 20 s, 15 renewals in five minutes. One that cannot renew stops leading within 55 s of its last
// renewal (a retry period, then the renew deadline), before its 60 s lease lets another replica take
// over.
var DefaultLease = LeaseTimings{Duration: 60 * time.Second, RenewDeadline: 35 * time.Second, RetryPeriod: 20 * time.Second}

// LeaseTimings are the timings of leader election, as client-go's leader election takes them.
type LeaseTimings struct {
	// Duration is how long after its last renewal a lease may be taken by another replica.
	Duration time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it gives up leading.
	RenewDeadline time.Duration
	// RetryPeriod is how often the leader renews, and how often the others try to acquire.
	RetryPeriod time.Duration
}

// Validate says what to change when the timings could let two replicas lead at once, or cannot work
// at all. client-go's leader renews once per retry period and, when a renewal fails, keeps trying for
// the renew deadline before it stops leading: up to a retry period plus the renew deadline after its
// last renewal. The others may take the Lease a lease duration after they saw that renewal, and the
// Lease stores the duration in whole seconds.
func (l LeaseTimings) Validate() error {
	switch {
	case l.Duration < time.Second || l.RenewDeadline < time.Second || l.RetryPeriod < time.Second:
		return fmt.Errorf("leader election: the lease duration (%s), renew deadline (%s) and retry period (%s) must each be at least 1s", l.Duration, l.RenewDeadline, l.RetryPeriod)
	case l.Duration%time.Second != 0:
		return fmt.Errorf("leader election: the lease duration (%s) must be a whole number of seconds, as the Lease stores it", l.Duration)
	case float64(l.RenewDeadline) <= leaderelection.JitterFactor*float64(l.RetryPeriod):
		return fmt.Errorf("leader election: the renew deadline (%s) must be longer than %.1f times the retry period (%s), so that the leader gets to retry a renewal before giving up",
			l.RenewDeadline, leaderelection.JitterFactor, l.RetryPeriod)
	case l.RenewDeadline+l.RetryPeriod >= l.Duration:
		return fmt.Errorf("leader election: the renew deadline (%s) plus the retry period (%s) must be shorter than the lease duration (%s): "+
			"a leader that cannot renew keeps leading that long after its last renewal, and another replica may take the Lease once it expires",
			l.RenewDeadline, l.RetryPeriod, l.Duration)
	}
	return nil
}

const (
	// LeaderElectionID names the lease.
	LeaderElectionID = "bosun-operator-leader"
	// ConcurrentReconciles is how many resources of one kind each controller reconciles at once (never
	// one resource twice at once): several meshes install and update side by side, since most of a
	// reconcile waits on the API server; one at a time, ten meshes took ten times as long as one
	// (docs/performance.md). Each render in flight holds its charts' objects, a few megabytes, so the
	// number stays small.
	ConcurrentReconciles = 4
	// ShutdownGrace is how long a stopping operator waits for its reconciles to return before it
	// releases its Lease and exits anyway. Their contexts are cancelled when the stop begins, so an
	// apply under way ends at its next request, and the next leader applies what is left; a
	// reconcile still running after the grace can send nothing, its context being cancelled. The
	// chart's terminationGracePeriodSeconds leaves room for this and for the release.
	ShutdownGrace = 15 * time.Second
)

// Options configure the operator.
type Options struct {
	Catalog *catalog.Catalog
	// Resources holds the charts and profiles of the catalog's versions: <version>/charts, /profiles.
	Resources fs.FS
	// Platform is the platform to render for; empty means detect it.
	Platform values.Platform
	// BosunVersion is part of every render digest, so a new bosun re-applies what it renders differently.
	BosunVersion string

	MetricsAddr, HealthAddr string
	LeaderElection          bool
	LeaderElectionNamespace string
	// Adopt are the field managers (helm, sail-operator, …) whose objects bosun may take over when its
	// charts render an object that already exists (internal/apply, adopt.go).
	Adopt []string
	// LeaveIstioCRDs tells the operator that another tool owns Istio's CRDs: bosun neither applies nor
	// reads them (docs/architecture.md#lesson-crds-left-to-another-tool). Otherwise bosun keeps them at the newest version in use.
	LeaveIstioCRDs bool
	// Clock is the time controllers see; nil means the real one.
	Clock clock.PassiveClock
	// ExternalNodeComponents are the node components ("cni", "ztunnel") that another tool manages:
	// control planes do not require an IstioCNI or ZTunnel for them (docs/architecture.md#lesson-external-node-agents).
	ExternalNodeComponents []string
	// Lease are the leader election timings; zero means DefaultLease.
	Lease LeaseTimings
	// InUseRefreshInterval is how often, at most, a revision's or tag's InUse message is rewritten when
	// only its counts changed: at least a second; zero means controller.CountRefreshInterval.
	InUseRefreshInterval time.Duration
}

// NodeComponents are the names ExternalNodeComponents takes.
var NodeComponents = []string{"cni", "ztunnel"}

// externalNeeds reads ExternalNodeComponents.
func externalNeeds(names []string) (inuse.Needs, error) {
	var n inuse.Needs
	for _, name := range names {
		switch name {
		case "cni":
			n.CNI = true
		case "ztunnel":
			n.ZTunnel = true
		default:
			return n, fmt.Errorf("unknown node component %q: the node components are %v", name, NodeComponents)
		}
	}
	return n, nil
}

// Scheme holds the kinds the operator reads and writes with typed clients.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(s))
	must(v1.AddToScheme(s))
	must(v1alpha1.AddToScheme(s))
	return s
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// New builds the operator's manager. Start it with its Start method.
func New(cfg *rest.Config, o Options) (manager.Manager, error) {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	external, err := externalNeeds(o.ExternalNodeComponents)
	if err != nil {
		return nil, err
	}
	if o.Lease == (LeaseTimings{}) {
		o.Lease = DefaultLease
	}
	if err := o.Lease.Validate(); err != nil {
		return nil, err
	}
	if o.InUseRefreshInterval != 0 && o.InUseRefreshInterval < time.Second {
		return nil, fmt.Errorf("the InUse refresh interval (%s) must be at least 1s", o.InUseRefreshInterval)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(metrics.CountWrites)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if o.Platform == "" {
		if o.Platform, err = platform.Detect(dc); err != nil {
			return nil, err
		}
	}
	cluster, err := render.DiscoverCluster(dc)
	if err != nil {
		return nil, err
	}
	renderer, err := render.New(o.Resources, cluster)
	if err != nil {
		return nil, err
	}
	scheme := Scheme()
	mapperClient, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	served, err := apply.ServedKinds(mapperClient.RESTMapper())
	if err != nil {
		return nil, err
	}

	// The Lease lock is bosun's own (handover.go), so that another replica takes a released Lease
	// at once; controller-runtime's elector runs it with the timings below.
	var lock resourcelock.Interface
	var handover *handoverLock
	if o.LeaderElection {
		if handover, err = newHandoverLock(cfg, o.LeaderElectionNamespace, o.Lease); err != nil {
			return nil, err
		}
		handover.log = ctrl.Log.WithName("leader-election")
		lock = handover
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                 scheme,
		Cache:                  cacheOptions(served),
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: o.HealthAddr,
		LeaderElection:         o.LeaderElection,
		// The elector's name: the name label of its metrics (leader_election_master_status).
		LeaderElectionID:                    LeaderElectionID,
		LeaderElectionResourceLockInterface: lock,
		// On stop the manager cancels the controllers' contexts, waits for their reconciles to return
		// (at most ShutdownGrace), and only then releases the Lease.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       ptr.To(ShutdownGrace),
		LeaseDuration:                 ptr.To(o.Lease.Duration),
		RenewDeadline:                 ptr.To(o.Lease.RenewDeadline),
		RetryPeriod:                   ptr.To(o.Lease.RetryPeriod),
		// The controllers' names are fixed in code and unique; a second manager in one process (the
		// end-to-end tests restart the operator) must not be refused for reusing them.
		Controller: config.Controller{SkipNameValidation: ptr.To(true), MaxConcurrentReconciles: ConcurrentReconciles},
	})
	if err != nil {
		return nil, err
	}
	if handover != nil {
		// The leader election's own Events ("became leader"), in the core API as controller-runtime's
		// lock records them.
		handover.inner.LockConfig.EventRecorder = mgr.GetEventRecorderFor(handover.Identity()) //nolint:staticcheck
	}
	if err := addIndexes(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	recorder := metrics.CountEvents(mgr.GetEventRecorder("bosun"))
	policies := versionPolicies(cfg, o.Catalog, recorder)
	if err := mgr.AddReadyzCheck("version-policies", policies.ready(mgr.Elected())); err != nil {
		return nil, err
	}
	if err := mgr.Add(policies); err != nil {
		return nil, err
	}

	env := desired.Env{Catalog: o.Catalog, Resources: o.Resources, Platform: o.Platform, External: external}
	c := mgr.GetClient()
	if err := register(stateCollector{reader: c}); err != nil {
		return nil, err
	}
	applier := apply.New(c, c, mgr.GetAPIReader(), served, o.Adopt...)
	usage := &controller.Usage{Clock: o.Clock, RefreshInterval: o.InUseRefreshInterval}
	// The clusters a control plane serves are read at most once per InUse refresh interval.
	remotes := &remote.Reader{Secrets: mgr.GetAPIReader(), MaxAge: usage.Interval(), Clock: o.Clock}
	if err := register(usageCollector{reader: c, usage: usage}); err != nil {
		return nil, err
	}
	if err := register(meshCollector{reader: c, informers: mgr.GetCache(), elected: mgr.Elected()}); err != nil {
		return nil, err
	}
	p := parts{client: c, env: env, renderer: renderer, cluster: cluster, bosun: o.BosunVersion, applier: applier, recorder: recorder, clock: o.Clock}
	// The move watches the one workload it awaits straight from the API server: the cache holds none.
	watcher, err := client.NewWithWatch(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, err
	}
	waker := move.NewWaker(watcher)
	if err := mgr.Add(waker); err != nil {
		return nil, err
	}
	controllers := []interface{ SetupWithManager(ctrl.Manager) error }{
		&istio.Reconciler{Client: c, API: mgr.GetAPIReader(), Env: env, Recorder: recorder, Clock: o.Clock, Status: &status.Writer{Client: c, Manager: apply.FieldManager},
			Remotes: remotes, Move: &move.Mover{Cache: c, API: mgr.GetAPIReader(), Writer: c, Recorder: recorder, Clock: o.Clock, Waker: waker},
			Preflight: &preflight.Checker{Env: env, Cache: c, API: mgr.GetAPIReader(), Recorder: recorder, Renderer: renderer}},
		&revision.Controller{Served: served, Installer: installer(revision.Kind{Reader: c, Env: env, Usage: usage, Remotes: remotes}, p)},
		&tag.Controller{Served: served, Installer: installer(tag.Kind{Reader: c, Usage: usage}, p)},
		&nodeagent.Controller[*v1.IstioCNI]{Served: served, Installer: installer(nodeagent.CNI(c), p)},
		&nodeagent.Controller[*v1.ZTunnel]{Served: served, Installer: installer(nodeagent.ZTunnel(c), p)},
	}
	if !o.LeaveIstioCRDs {
		controllers = append(controllers, &crds.Reconciler{Client: c, Env: env, Renderer: renderer, Applier: applier, Recorder: recorder})
	}
	for _, ctl := range controllers {
		if err := ctl.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("setting up %T: %w", ctl, err)
		}
	}
	return mgr, nil
}

// parts are what the Installers of every kind share.
type parts struct {
	client   client.Client
	env      desired.Env
	renderer *render.Renderer
	cluster  render.Cluster
	bosun    string
	applier  *apply.Applier
	recorder events.EventRecorder
	clock    clock.PassiveClock
}

// installer makes the Installer of one kind, with a render cache and a status writer of its own.
func installer[T client.Object](kind controller.Kind[T], p parts) *controller.Installer[T] {
	return &controller.Installer[T]{Kind: kind, Client: p.client, Env: p.env, Applier: p.applier, Recorder: p.recorder, Clock: p.clock,
		Charts: render.NewCache(p.renderer, p.cluster, p.bosun, kind.Name()),
		Status: &status.Writer{Client: p.client, Manager: apply.FieldManager}}
}

// policyInstaller installs, once this replica leads, the admission policies that make the API server
// accept exactly the versions of the operator's catalog and default an empty one to the catalog's
// default (internal/versionpolicy). Without them (a cluster older than Kubernetes 1.36, say, which
// lacks MutatingAdmissionPolicy) bosun still works: the controllers refuse unknown versions with the
// same message, and an empty version means the catalog's default, so the failure is logged and the
// operator goes on. Each policy written is recorded as an Event on it.
type policyInstaller struct {
	cfg      *rest.Config
	cat      *catalog.Catalog
	recorder events.EventRecorder
	// done is closed once the policies are in force, or installing them failed.
	done chan struct{}
}

func versionPolicies(cfg *rest.Config, cat *catalog.Catalog, recorder events.EventRecorder) *policyInstaller {
	return &policyInstaller{cfg: cfg, cat: cat, recorder: recorder, done: make(chan struct{})}
}

// NeedLeaderElection makes only the leader install the policies.
func (p *policyInstaller) NeedLeaderElection() bool { return true }

func (p *policyInstaller) Start(ctx context.Context) error {
	if err := versionpolicy.Install(ctx, p.cfg, p.cat, time.Minute, p.recorder); err != nil {
		ctrl.Log.WithName("versionpolicy").Error(err, "the API server does not check spec.version against this operator's catalog; bosun refuses unknown versions when it reconciles them instead")
	}
	close(p.done)
	<-ctx.Done()
	return nil
}

// ready is the operator's readiness check: the leader is ready once its policies are in force (or
// failed to install), so that an Istio applied after `kubectl wait --for=condition=Available` on
// the operator's Deployment gets its empty version defaulted; a replica that does not lead is ready
// at once.
func (p *policyInstaller) ready(elected <-chan struct{}) healthz.Checker {
	return func(*http.Request) error {
		select {
		case <-p.done:
			return nil
		default:
		}
		select {
		case <-elected:
			return errors.New("the version admission policies are being installed")
		default:
			return nil
		}
	}
}

// metadataOf is an empty metadata-only object of a core kind, as the cache and indexes key them.
func metadataOf(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return m
}

// cacheOptions shape the cache as the package doc says.
func cacheOptions(served []schema.GroupVersionKind) cache.Options {
	byObject := map[client.Object]cache.ByObject{
		metadataOf("Pod"): {
			Field:     fields.ParseSelectorOrDie(inuse.PodFieldSelector),
			Transform: trim(podLabels, podAnnotations),
		},
		metadataOf("Namespace"): {Transform: trim(namespaceLabels, nil)},
	}
	managed := labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagedByValue})
	for _, gvk := range served {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		byObject[obj] = cache.ByObject{Label: managed}
	}
	return cache.Options{ByObject: byObject, ReaderFailOnMissingInformer: true}
}

// The labels and annotations internal/inuse reads; the cache keeps no others. The Istio controller
// reads namespaces' other labels, which discovery selectors select, from the API server, and only while
// several meshes run (desired.Facts.ReadAllNamespaces).
var (
	namespaceLabels = []string{inuse.LabelInjection, inuse.LabelRev}
	podLabels       = []string{inuse.LabelRev, inuse.LabelInject}
	// The proxy version each pod was injected with serves the mesh's metrics (meshCollector).
	podAnnotations = []string{inuse.AnnotationRev, values.AnnotationProxyVersion}
)

// trim returns a cache transform that keeps an object's identity, deletion time and the given labels
// and annotations, and drops everything else (managedFields, owner references,
// other labels and annotations): at 10,000 pods this is most of the cache's memory.
func trim(keepLabels, keepAnnotations []string) func(any) (any, error) {
	return func(in any) (any, error) {
		obj, err := meta.Accessor(in)
		if err != nil {
			return in, nil
		}
		pm, ok := in.(*metav1.PartialObjectMetadata)
		if !ok {
			return in, nil
		}
		trimmed := &metav1.PartialObjectMetadata{TypeMeta: pm.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(), DeletionTimestamp: obj.GetDeletionTimestamp(),
			Labels: inuse.Only(obj.GetLabels(), keepLabels...), Annotations: inuse.Only(obj.GetAnnotations(), keepAnnotations...),
		}}
		return trimmed, nil
	}
}

// addIndexes registers the in-use indexes on the metadata-only pods and namespaces, and the index of
// tags by what they point at.
func addIndexes(mgr manager.Manager) error {
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	if err := tag.AddIndex(ctx, mgr); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, metadataOf("Pod"), inuse.IndexField, func(o client.Object) []string {
		return inuse.PodIndexKeys(o.GetLabels(), o.GetAnnotations(), "")
	}); err != nil {
		return err
	}
	return indexer.IndexField(ctx, metadataOf("Namespace"), inuse.IndexField, func(o client.Object) []string {
		return inuse.NamespaceIndexKeys(o.GetLabels())
	})
}
