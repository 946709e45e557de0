// Package istio reconciles Istio resources into IstioRevisions, the way a Deployment makes
// ReplicaSets: InPlace keeps one revision named after the Istio and updates it; RevisionBased creates a
// revision per version, <istio>-<version with dots as dashes>, and deletes an old one once no
// workload has used it for the grace period. The Istio's status is its active revision's.
package istio

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/move"
	"github.com/bosun-mesh/bosun/internal/preflight"
	"github.com/bosun-mesh/bosun/internal/remote"
)

// Reconciler reconciles Istios.
type Reconciler struct {
	Client client.Client
	// API reads the API server directly: the namespaces' labels, which the cache trims.
	API      client.Reader
	Env      desired.Env
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Status writes the Istios' status (with field manager bosun).
	Status *status.Writer
	// Remotes reads the other clusters an Istio's istiod serves.
	Remotes *remote.Reader
	// Move moves an Istio's workloads to its active revision (spec.updateStrategy.updateWorkloads).
	Move *move.Mover
	// Preflight checks a change of an Istio's version before it is made.
	Preflight *preflight.Checker

	mu sync.Mutex
	// reachable are the clusters of each Istio's bosun_remote_cluster_reachable series.
	reachable map[string][]string
}

// SetupWithManager registers the controller: Istios when their spec or annotations change, the
// revisions they own, whose status becomes theirs, the deletion of tags, which may free the name
// of the revision an Istio was refused, and node agents' spec changes, which may lift a refusal by the
// pre-flight checks. Where several meshes share the cluster, what changes their
// scope (desired.Scope) wakes them all: another Istio's spec, a revision or tag created or deleted (or
// a tag's target changed), a namespace created, deleted or relabelled. A move of workloads is woken
// when the rollout it awaits ends (move.Waker), and when a tag resolves to another revision.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	specOrLife := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	namespace := &metav1.PartialObjectMetadata{}
	namespace.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	b := ctrl.NewControllerManagedBy(mgr).
		Named("istio").
		For(&v1.Istio{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&v1.IstioRevision{}).
		Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(r.afterTagChange),
			builder.WithPredicates(controller.TagMoved{})).
		// A node agent updated may lift a version change's refusal by its pre-flight checks.
		Watches(&v1.IstioCNI{}, handler.EnqueueRequestsFromMapFunc(r.refusedByPreflight), specOrLife).
		Watches(&v1.ZTunnel{}, handler.EnqueueRequestsFromMapFunc(r.refusedByPreflight), specOrLife).
		Watches(&v1.Istio{}, handler.EnqueueRequestsFromMapFunc(r.meshesInScope), specOrLife).
		Watches(&v1.IstioRevision{}, handler.EnqueueRequestsFromMapFunc(r.meshesInScope), builder.WithPredicates(controller.CreatedOrDeleted{})).
		// The cache trims namespaces to their injection labels, so a change of another label shows
		// only as a new resourceVersion.
		Watches(namespace, handler.EnqueueRequestsFromMapFunc(r.meshesInScope), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}))
	if r.Move != nil && r.Move.Waker != nil {
		// The end of the rollout a move awaits.
		b = b.WatchesRawSource(r.Move.Waker.Source())
	}
	return b.Complete(controller.CountErrors(v1.KindIstio, r))
}

// afterTagChange maps a tag's creation, deletion, new target or move to another revision to the Istios
// refused for a name conflict, which may now go on, to the meshes whose scope it may change, and to
// those that move their workloads: the pods of namespaces that follow the tag are theirs to restart
// once it resolves to their new revision.
func (r *Reconciler) afterTagChange(ctx context.Context, _ client.Object) []reconcile.Request {
	istios := r.istios(ctx)
	return requestsFor(istios, afterTagChangeWakes(istios))
}

// afterTagChangeWakes picks, of the cluster's Istios, those a tag's change wakes (afterTagChange).
func afterTagChangeWakes(istios []v1.Istio) func(*v1.Istio) bool {
	inScope := wokenByScope(istios)
	return func(istio *v1.Istio) bool { return refused(istio) || inScope(istio) || move.Enabled(istio) }
}

// refusedIstios maps an event to the Istios refused for a name conflict, which may now go on.
func (r *Reconciler) refusedIstios(ctx context.Context, _ client.Object) []reconcile.Request {
	return requestsFor(r.istios(ctx), refused)
}

// refusedByPreflight maps an event to the Istios whose version change its pre-flight checks refused,
// which may now go on.
func (r *Reconciler) refusedByPreflight(ctx context.Context, _ client.Object) []reconcile.Request {
	return requestsFor(r.istios(ctx), preflightRefused)
}

// preflightRefused reports whether an Istio's version change was refused by its pre-flight checks.
func preflightRefused(istio *v1.Istio) bool {
	c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionReconciled)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonPreflightFailed
}

// meshesInScope maps an event that may change which namespaces meshes claim to the Istios it concerns
// (wokenByScope).
func (r *Reconciler) meshesInScope(ctx context.Context, _ client.Object) []reconcile.Request {
	istios := r.istios(ctx)
	return requestsFor(istios, wokenByScope(istios))
}

// refused reports whether an Istio was refused for a name conflict.
func refused(istio *v1.Istio) bool {
	c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionReconciled)
	return c != nil && c.Reason == v1.ReasonNameAlreadyExists
}

// wokenByScope says which of the Istios a change of scope concerns: every one when several run an
// istiod here, and otherwise those still reporting a conflict, which must clear it. A cluster with one
// mesh wakes nothing.
func wokenByScope(istios []v1.Istio) func(*v1.Istio) bool {
	several := severalMeshes(func(yield func(*v1.Istio) bool) {
		for i := range istios {
			if !yield(&istios[i]) {
				return
			}
		}
	})
	return func(istio *v1.Istio) bool {
		return several || meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionScopeConflict) != nil
	}
}

// istios lists the Istios from the cache, to map an event; a failure is logged and maps to nothing.
func (r *Reconciler) istios(ctx context.Context) []v1.Istio {
	var list v1.IstioList
	if err := r.Client.List(ctx, &list); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing Istios to map an event")
		return nil
	}
	return list.Items
}

func requestsFor(istios []v1.Istio, keep func(*v1.Istio) bool) []reconcile.Request {
	var out []reconcile.Request
	for i := range istios {
		if keep(&istios[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&istios[i])})
		}
	}
	return out
}

// Reconcile makes the Istio's active revision what its spec asks for (desired.ForIstio), deletes the
// revisions no longer used (desired.Prune), and writes the Istio's status once. A refused spec changes
// nothing; it is a condition, not an error.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	phases := metrics.StartPhases(v1.KindIstio)
	istio := &v1.Istio{}
	if err := r.Client.Get(ctx, req.NamespacedName, istio); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !istio.DeletionTimestamp.IsZero() {
		// The garbage collector deletes the owned revisions; their finalizers remove istiod.
		r.forget(req.Name)
		return ctrl.Result{}, nil
	}
	istio.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstio))
	// The status this controller last wrote is newer than the cache's until the cache catches up: the
	// conditions' transitions and the Events on a change are decided against it.
	r.Status.Last(istio.UID, &istio.Status)
	facts, err := desired.Read(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if severalMeshes(maps.Values(facts.Istios)) {
		if err := facts.ReadAllNamespaces(ctx, r.API); err != nil {
			return ctrl.Result{}, err
		}
	}
	phases.Done("read")
	scope := r.Env.Scope(istio, facts)
	plan := r.Env.ForIstio(istio, facts)
	phases.Done("decide")
	var active *v1.IstioRevision
	var requeue time.Duration
	revs := ownedRevisions(istio, facts)
	var checked *metav1.Condition
	var running *v1.IstioRevision
	if plan.Refusal == nil && r.Preflight != nil {
		var verdict *preflight.Verdict
		if verdict, err = r.Preflight.Run(ctx, istio, plan, revs, facts); verdict != nil {
			checked = &verdict.Condition
			if verdict.Refusal != nil {
				// A hard finding refuses the change: nothing of it is written, and the revision that
				// runs keeps serving and reporting.
				plan.Refusal, running = verdict.Refusal, verdict.Change.Running
			}
		}
	}
	if plan.Refusal == nil && err == nil {
		if active, err = r.activeRevision(ctx, istio, plan); err == nil {
			revs = withActive(revs, active)
			revs, requeue, err = r.prune(ctx, istio, active.Name, revs, facts)
		}
	}
	var moved *move.Progress
	if err == nil && active != nil && r.Move != nil {
		var recheck time.Duration
		moved, recheck, err = r.Move.Run(ctx, istio, active, revs, facts)
		if recheck > 0 && (requeue == 0 || recheck < requeue) {
			requeue = recheck
		}
	}
	phases.Done("revisions")
	if apierrors.IsAlreadyExists(err) {
		// The cache has not shown the revision this Istio created a moment ago (or one someone else
		// just created): not a failure, and nothing to report until it does. Its event, or this
		// requeue, brings the next reconcile (docs/architecture.md#lesson-gone-is-not-an-error).
		return ctrl.Result{RequeueAfter: cacheCatchUp}, nil
	}
	if active == nil && plan.Existing != nil && isOwnedBy(plan.Existing, istio) {
		// Refused, or the update failed: the revision that runs is still the Istio's, and says how it is.
		active = plan.Existing
	}
	if active == nil && running != nil && isOwnedBy(running, istio) {
		// A RevisionBased change refused by its pre-flight checks: the revision it would have replaced
		// runs on.
		active = running
	}
	if plan.Refusal != nil && plan.Refusal.Recheck && requeue == 0 {
		// What lifts the refusal wakes no reconcile of this Istio (pods restarting).
		requeue = controller.RecheckInterval
	}
	obs := Observed{Scope: scope, Workloads: moved, Preflight: checked}
	if desired.ServesRemoteClusters(istio.Spec.Values) && r.Remotes != nil {
		// The clusters this istiod serves send no events. The active revision reads them again every
		// interval (its InUse counts their workloads), and its status changes with what it finds, which
		// wakes this Istio; Reach answers from that same read.
		reach, rerr := r.Remotes.Reach(ctx, istio.Spec.Namespace)
		obs.Remote = ptr.To(RemoteClustersCondition(reach, rerr))
		r.setReachable(istio.Name, reach, rerr)
	} else {
		r.setReachable(istio.Name, nil, nil)
	}
	old := istio.Status.Conditions
	metrics.ScopeConflicts.WithLabelValues(istio.Name).Set(float64(len(scope)))
	wrote, serr := r.writeStatus(ctx, istio, active, revs, plan.Refusal, err, obs)
	if serr != nil {
		return ctrl.Result{}, errors.Join(err, serr)
	}
	phases.Done("status")
	controller.ReportRefusal(r.Recorder, istio, v1.KindIstio, old, plan.Refusal, wrote)
	r.reportScope(istio, old, scope, wrote)
	r.reportReach(istio, old, obs.Remote, wrote)
	if err != nil {
		// The error is retried with backoff, which a RequeueAfter would be ignored beside.
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// forget drops what the operator keeps for an Istio that is gone or going: its metric series, and
// the watch of a workload its move awaited.
func (r *Reconciler) forget(name string) {
	metrics.ScopeConflicts.DeleteLabelValues(name)
	r.setReachable(name, nil, nil)
	if r.Move != nil {
		r.Move.Waker.Forget(name)
	}
}

// Observed is what an Istio's status reports besides its revisions: the namespaces it shares with
// other meshes (desired.Scope), and, for an istiod that serves other clusters, whether they answer.
type Observed struct {
	Scope []desired.ScopeConflict
	// Remote is the RemoteClustersReachable condition, or nil when the Istio serves no other cluster.
	Remote *metav1.Condition
	// Workloads is how far the move of its workloads is, or nil when bosun does not move them.
	Workloads *move.Progress
	// Preflight is the UpdatePreflight condition of a version change checked in this reconcile, or nil.
	Preflight *metav1.Condition
}

// RemoteClustersCondition is the RemoteClustersReachable condition of an Istio whose istiod serves the
// clusters in reach, read with err.
func RemoteClustersCondition(reach []remote.Reach, err error) metav1.Condition {
	c := metav1.Condition{Type: v1.ConditionRemoteClustersReachable}
	switch {
	case errors.Is(err, remote.ErrNoClusters):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1.ReasonNoRemoteClusters, err.Error()
		return c
	case err != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1.ReasonRemoteSecretsUnreadable, err.Error()
		return c
	}
	var up, down []string
	for _, r := range reach {
		if r.Err != nil {
			down = append(down, r.Err.Error())
		} else {
			up = append(up, r.Cluster.Name)
		}
	}
	if len(down) > 0 {
		c.Status, c.Reason = metav1.ConditionFalse, v1.ReasonClusterUnreachable
		c.Message = "unreachable: " + strings.Join(down, "; ")
		if len(up) > 0 {
			c.Message += "; reachable: " + strings.Join(up, ", ")
		}
		return c
	}
	c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1.ReasonClustersReachable, "reachable: "+strings.Join(up, ", ")
	return c
}

// setReachable sets the Istio's series of bosun_remote_cluster_reachable to reach, and removes those of
// clusters no longer named. Without remote secrets read (err, or an Istio that serves no other
// cluster), the Istio has no series.
func (r *Reconciler) setReachable(istio string, reach []remote.Reach, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reachable == nil {
		r.reachable = map[string][]string{}
	}
	var now []string
	if err == nil {
		for _, c := range reach {
			v := 1.0
			if c.Err != nil {
				v = 0
			}
			metrics.RemoteClusterReachable.WithLabelValues(istio, c.Cluster.Name).Set(v)
			now = append(now, c.Cluster.Name)
		}
	}
	for _, gone := range r.reachable[istio] {
		if !slices.Contains(now, gone) {
			metrics.RemoteClusterReachable.DeleteLabelValues(istio, gone)
		}
	}
	if len(now) == 0 {
		delete(r.reachable, istio)
	} else {
		r.reachable[istio] = now
	}
}

// reportReach records a Warning Event when the clusters this Istio serves that do not answer change
// (the condition's message is stable while they do not), and a Normal one when every cluster answers
// again after some did not.
func (r *Reconciler) reportReach(istio *v1.Istio, old []metav1.Condition, now *metav1.Condition, wrote bool) {
	if !wrote || now == nil {
		return
	}
	before := meta.FindStatusCondition(old, v1.ConditionRemoteClustersReachable)
	wasUnreachable := before != nil && before.Reason == v1.ReasonClusterUnreachable
	switch {
	case now.Reason == v1.ReasonClusterUnreachable && (!wasUnreachable || before.Message != now.Message):
		r.Recorder.Eventf(istio, nil, corev1.EventTypeWarning, v1.ReasonClusterUnreachable, "Reconcile", "%s", now.Message)
	case now.Status == metav1.ConditionTrue && wasUnreachable:
		r.Recorder.Eventf(istio, nil, corev1.EventTypeNormal, v1.ReasonClustersReachable, "Reconcile", "%s", now.Message)
	}
}

// severalMeshes reports whether more than one of the Istios runs an istiod in this cluster: only then
// can two meshes claim a namespace, and only then are the namespaces read.
func severalMeshes(istios iter.Seq[*v1.Istio]) bool {
	n := 0
	for istio := range istios {
		if desired.RunsIstiodHere(istio) {
			n++
		}
	}
	return n > 1
}

// reportScope records the Events of the Istio's scope conflicts (the gauge is set before the status is
// written): a Warning when a conflict appears and a Normal one when it goes away. The condition's
// message follows the conflicting namespaces as they come and go; the Events do not, so that a busy
// cluster does not flood them. Events follow a status that was written, as refusals do.
func (r *Reconciler) reportScope(istio *v1.Istio, old []metav1.Condition, scope []desired.ScopeConflict, wrote bool) {
	if !wrote {
		return
	}
	before := meta.FindStatusCondition(old, v1.ConditionScopeConflict)
	switch {
	case len(scope) > 0 && before == nil:
		r.Recorder.Eventf(istio, nil, corev1.EventTypeWarning, v1.ConditionScopeConflict, "Reconcile", "%s", desired.ScopeMessage(scope))
	case len(scope) == 0 && before != nil:
		r.Recorder.Eventf(istio, nil, corev1.EventTypeNormal, "ScopeConflictResolved", "Reconcile", "no namespace is claimed by this mesh and another any more")
	}
}

// ownedRevisions are the revisions whose controller is this Istio, by name.
func ownedRevisions(istio *v1.Istio, f *desired.Facts) []*v1.IstioRevision {
	var out []*v1.IstioRevision
	for _, rev := range f.SortedRevisions() {
		if isOwnedBy(rev, istio) {
			out = append(out, rev)
		}
	}
	return out
}

// isOwnedBy reports whether the Istio is the revision's controller.
func isOwnedBy(rev *v1.IstioRevision, istio *v1.Istio) bool {
	ref := metav1.GetControllerOf(rev)
	return ref != nil && ref.UID == istio.UID
}

// withActive is revs with the active revision as it was just created or updated, in place of the copy
// read before: the counts of the status must describe it as it is now.
func withActive(revs []*v1.IstioRevision, active *v1.IstioRevision) []*v1.IstioRevision {
	out := make([]*v1.IstioRevision, 0, len(revs)+1)
	for _, rev := range revs {
		if rev.Name != active.Name {
			out = append(out, rev)
		}
	}
	return append(out, active)
}

// cacheCatchUp is how long a reconcile that found the cache behind its own write waits before it
// looks again, when no event comes first.
const cacheCatchUp = time.Second

// activeRevision creates the revision the plan asks for, or updates the one that exists.
func (r *Reconciler) activeRevision(ctx context.Context, istio *v1.Istio, plan desired.IstioPlan) (*v1.IstioRevision, error) {
	if plan.Existing == nil {
		return r.createRevision(ctx, istio, plan.Revision)
	}
	return r.updateRevision(ctx, istio, plan.Existing, plan.Revision)
}

// createRevision creates the revision with its owner reference and the revision controller's
// finalizer, so that it needs no second write.
func (r *Reconciler) createRevision(ctx context.Context, istio *v1.Istio, rev *v1.IstioRevision) (*v1.IstioRevision, error) {
	if err := controllerutil.SetControllerReference(istio, rev, r.Client.Scheme()); err != nil {
		return nil, err
	}
	controllerutil.AddFinalizer(rev, controller.Finalizer)
	if err := r.Client.Create(ctx, rev, client.FieldOwner(apply.FieldManager)); err != nil {
		return nil, fmt.Errorf("creating IstioRevision %s: %w", rev.Name, err)
	}
	logr.FromContextOrDiscard(ctx).Info("created revision", "revision", rev.Name, "version", rev.Spec.Version)
	r.Recorder.Eventf(istio, rev, corev1.EventTypeNormal, "RevisionCreated", "Create", "created IstioRevision %s (Istio %s)", rev.Name, rev.Spec.Version)
	return rev, nil
}

// updateRevision writes the computed spec into an existing revision when it differs, and takes the
// revision back as this Istio's when it lost its owner reference (after a restore,
// docs/architecture.md#lesson-restored-revisions).
func (r *Reconciler) updateRevision(ctx context.Context, istio *v1.Istio, existing, want *v1.IstioRevision) (*v1.IstioRevision, error) {
	rev := existing.DeepCopy()
	rev.Spec = want.Spec
	if metav1.GetControllerOf(rev) == nil {
		if err := controllerutil.SetControllerReference(istio, rev, r.Client.Scheme()); err != nil {
			return nil, err
		}
	}
	if equality.Semantic.DeepEqual(rev.Spec, existing.Spec) && equality.Semantic.DeepEqual(rev.OwnerReferences, existing.OwnerReferences) {
		return existing, nil
	}
	if err := r.Client.Update(ctx, rev, client.FieldOwner(apply.FieldManager)); err != nil {
		return nil, fmt.Errorf("updating IstioRevision %s: %w", rev.Name, err)
	}
	what := "values"
	switch {
	case rev.Spec.Version != existing.Spec.Version:
		what = fmt.Sprintf("version %s → %s", existing.Spec.Version, rev.Spec.Version)
	case equality.Semantic.DeepEqual(rev.Spec, existing.Spec):
		what = "took it back as this Istio's revision (it had no owner reference)"
	}
	logr.FromContextOrDiscard(ctx).Info("updated revision", "revision", rev.Name, "change", what)
	r.Recorder.Eventf(istio, rev, corev1.EventTypeNormal, "RevisionUpdated", "Update", "updated IstioRevision %s: %s", rev.Name, what)
	return rev, nil
}

// prune deletes the inactive revisions desired.Prune allows, giving it the revision's use evaluated
// afresh from the cache, and returns the revisions left and when to look again for one still within
// its grace period.
func (r *Reconciler) prune(ctx context.Context, istio *v1.Istio, active string, revs []*v1.IstioRevision, f *desired.Facts) ([]*v1.IstioRevision, time.Duration, error) {
	now := r.Clock.Now()
	var kept []*v1.IstioRevision
	var requeue time.Duration
	for _, rev := range revs {
		if rev.Name == active || !rev.DeletionTimestamp.IsZero() {
			kept = append(kept, rev)
			continue
		}
		d := desired.Prune(istio, rev, now, func() metav1.Condition {
			return inuse.Condition(controller.RevisionUse(ctx, r.Client, r.Remotes, r.Env, rev, f, remote.Fresh))
		})
		if !d.Delete && d.RecheckAfter == 0 {
			logr.FromContextOrDiscard(ctx).V(1).Info("kept an inactive revision", "revision", rev.Name, "why", d.Why)
		}
		if !d.Delete {
			kept = append(kept, rev)
			if d.RecheckAfter > 0 && (requeue == 0 || d.RecheckAfter < requeue) {
				requeue = d.RecheckAfter
			}
			continue
		}
		uid := rev.UID
		if err := r.Client.Delete(ctx, rev, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return kept, 0, fmt.Errorf("deleting unused IstioRevision %s: %w", rev.Name, err)
		}
		grace := desired.GracePeriod(istio)
		logr.FromContextOrDiscard(ctx).Info("deleted unused revision", "revision", rev.Name, "grace", grace)
		r.Recorder.Eventf(istio, rev, corev1.EventTypeNormal, "RevisionDeleted", "Delete", "deleted IstioRevision %s: no workload used it for %s", rev.Name, grace)
	}
	return kept, requeue, nil
}

// writeStatus computes the Istio's status and writes it if it changed; it reports whether it wrote.
func (r *Reconciler) writeStatus(ctx context.Context, istio *v1.Istio, active *v1.IstioRevision, revs []*v1.IstioRevision, refusal *desired.Refusal, err error, obs Observed) (bool, error) {
	if refusal == nil && err == nil && len(obs.Scope) == 0 && active.Status.ObservedGeneration == 0 && istio.Status.ObservedGeneration == 0 {
		// A new Istio whose new revision has not reported yet: its status would say only that, and be
		// rewritten a moment later. The revision's first report wakes this controller again.
		return false, nil
	}
	st := IstioStatus(istio, active, revs, refusal, err, obs, metav1.NewTime(r.Clock.Now()))
	return r.Status.Write(ctx, istio, st, equality.Semantic.DeepEqual(st, istio.Status))
}

// copiedConditions are the active revision's conditions an Istio reports as its own, in the order its
// state summarises them.
var copiedConditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy}

// IstioStatus is an Istio's status: its revisions counted, and the active revision's conditions and
// state. When the spec was refused or the revision could not be written, Reconciled is False with the
// reason, and Ready and DependenciesHealthy are still the revision's that runs, if it is the Istio's
// (active): it keeps serving. Without one they are Unknown. Ready is never True while the active
// revision has not acted on its latest spec: whatever it reported is about the spec before, so an
// update in progress is never shown as ready. ScopeConflict is True, listing the conflicts, when the
// Istio shares namespaces with another mesh (desired.Scope), and absent otherwise; RemoteClustersReachable
// is there for an Istio that serves other clusters, WorkloadsUpdated for one whose workloads bosun
// moves (internal/move), and UpdatePreflight once a version change was checked (internal/preflight).
// None changes the state or the other conditions.
func IstioStatus(istio *v1.Istio, active *v1.IstioRevision, revs []*v1.IstioRevision, refusal *desired.Refusal, err error, obs Observed, now metav1.Time) v1.IstioStatus {
	st := v1.IstioStatus{ObservedGeneration: istio.Generation, ActiveRevisionName: istio.Status.ActiveRevisionName, Revisions: revisionCounts(revs)}
	c := status.NewConditions(istio.Status.Conditions, istio.Generation, now)
	listed := slices.Clone(copiedConditions)
	if len(obs.Scope) > 0 {
		c.Set(metav1.Condition{Type: v1.ConditionScopeConflict, Status: metav1.ConditionTrue, Reason: v1.ReasonNamespacesShared, Message: desired.ScopeMessage(obs.Scope)})
		listed = append(listed, v1.ConditionScopeConflict)
	}
	if obs.Remote != nil {
		c.Set(*obs.Remote)
		listed = append(listed, v1.ConditionRemoteClustersReachable)
	}
	// The findings of the last version change stand until the next one is checked.
	if pre := obs.Preflight; pre != nil || meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionUpdatePreflight) != nil {
		if pre == nil {
			pre = meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionUpdatePreflight)
		}
		c.Set(*pre)
		listed = append(listed, v1.ConditionUpdatePreflight)
	}
	switch {
	case obs.Workloads != nil:
		c.Set(obs.Workloads.Condition())
		listed = append(listed, v1.ConditionWorkloadsUpdated)
		st.Workloads = obs.Workloads.Status()
	case (err != nil || refusal != nil) && istio.Status.Workloads != nil:
		// A failed read or write, or a refused change, says nothing new of the move: what was reported
		// stands.
		if old := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionWorkloadsUpdated); old != nil {
			c.Set(*old)
			listed = append(listed, v1.ConditionWorkloadsUpdated)
		}
		st.Workloads = istio.Status.Workloads
	}
	copied := copiedConditions
	if !c.Reconciled(refusal, err, "") {
		copied = copiedConditions[1:]
		if active == nil {
			c.Untold(v1.ConditionReady, "Istio")
			c.Untold(v1.ConditionDependenciesHealthy, "Istio")
			st.Conditions = c.Of(listed...)
			st.State = c.Get(v1.ConditionReconciled).Reason
			return st
		}
	}
	st.ActiveRevisionName = active.Name
	for _, t := range copied {
		cond := meta.FindStatusCondition(active.Status.Conditions, t)
		switch {
		case active.Status.ObservedGeneration != active.Generation && t == v1.ConditionReady:
			cond = &metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: v1.ReasonIstiodNotReady,
				Message: fmt.Sprintf("IstioRevision %s is being updated to Istio %s", active.Name, active.Spec.Version)}
		case cond == nil:
			cond = &metav1.Condition{Type: t, Status: metav1.ConditionUnknown, Reason: v1.ReasonPending, Message: "IstioRevision " + active.Name + " has not reported yet"}
		}
		c.Set(*cond)
	}
	st.Conditions = c.Of(listed...)
	st.State = status.State(st.Conditions, copiedConditions...)
	return st
}

// revisionCounts counts an Istio's revisions: all, Ready for their latest spec (a revision being
// updated is not ready, as the Istio's own Ready says), and InUse.
func revisionCounts(revs []*v1.IstioRevision) v1.RevisionSummary {
	var s v1.RevisionSummary
	for _, rev := range revs {
		s.Total++
		if desired.Ready(rev) {
			s.Ready++
		}
		if meta.IsStatusConditionTrue(rev.Status.Conditions, v1.ConditionInUse) {
			s.InUse++
		}
	}
	return s
}
