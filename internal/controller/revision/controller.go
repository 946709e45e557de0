// Package revision reconciles IstioRevisions with internal/controller's Installer: the revision's
// charts (istiod, and base for the revision named default) as internal/desired decides them, applied
// through internal/apply and removed when the revision is deleted. Its status says whether istiod is
// ready, whether the control plane's node agents are there (DependenciesHealthy) and whether workloads
// use the revision (InUse, by internal/inuse's rules), all written together by this controller.
//
// Pod and namespace events wake a revision to re-evaluate its use at most once per
// controller.EvaluateInterval, and a reconcile with nothing to change renders nothing (the render
// cache) and writes nothing (apply's drift check reads the cache), so pod churn costs index lookups.
package revision

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/remote"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Kind is the IstioRevision kind for controller.Installer.
type Kind struct {
	// Reader reads the cache: istiod's Deployment, and the namespaces and pods that use the revision.
	Reader client.Reader
	Env    desired.Env
	Usage  *controller.Usage
	// Remotes reads the other clusters a revision's istiod serves, where its workloads also run.
	Remotes *remote.Reader
}

// Conditions are the conditions of a revision's status, and the first three, in order, are what its
// state summarises: whether it is used does not make a revision unhealthy.
var Conditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy, v1.ConditionInUse}

func (Kind) Name() string                                        { return v1.KindIstioRevision }
func (Kind) Installs() string                                    { return "istiod" }
func (Kind) New() *v1.IstioRevision                              { return &v1.IstioRevision{} }
func (Kind) Namespaces(rev *v1.IstioRevision) []string           { return []string{rev.Spec.Namespace} }
func (Kind) Conditions(rev *v1.IstioRevision) []metav1.Condition { return rev.Status.Conditions }

// Forget drops what was kept of a revision's usage.
func (k Kind) Forget(obj *v1.IstioRevision) { k.Usage.Forget(v1.KindIstioRevision, obj) }

// Reconciling records that the reconcile, which evaluates the use, starts (controller.Usage).
func (k Kind) Reconciling(obj *v1.IstioRevision) { k.Usage.Reconciling(v1.KindIstioRevision, obj) }

func (Kind) Decide(env desired.Env, rev *v1.IstioRevision, f *desired.Facts) desired.Plan {
	return env.ForRevision(rev, f)
}

func (Kind) Applied(rev *v1.IstioRevision, _ desired.Plan) string {
	return "Istio " + string(rev.Spec.Version)
}

// Status computes a revision's status: Reconciled from the outcome; Ready from istiod's Deployment and
// DependenciesHealthy from the node agents (desired.Dependencies); InUse from the workloads that use
// it. All but Reconciled describe what runs, so they are told whatever the outcome.
func (k Kind) Status(ctx context.Context, rev *v1.IstioRevision, o controller.Outcome) (any, bool, time.Duration, error) {
	c := status.NewConditions(rev.Status.Conditions, rev.Generation, o.Now)
	st := v1.IstioRevisionStatus{ObservedGeneration: rev.Generation, Type: v1.RevisionTypeLocal}
	if desired.IsRemote(rev) {
		st.Type = v1.RevisionTypeRemote
	}
	// Ready and DependenciesHealthy say how what runs is doing, refused or not: an istiod that serves
	// keeps serving while a spec change is refused or an apply is retried, and what points at it
	// (tags, a ZTunnel, its Istio) must not see it go Unknown for that.
	c.Reconciled(o.Refusal, o.Err, "istiod is applied")
	c.Set(k.readiness(ctx, rev, o))
	c.Set(k.Env.Dependencies(rev, o.Facts))
	inUse := k.Usage.Evaluate(rev, func() (inuse.Usage, error) {
		return controller.RevisionUse(ctx, k.Reader, k.Remotes, k.Env, rev, o.Facts, remote.Recent)
	})
	inUse, recheck := k.Usage.Hold(rev.UID, inUse)
	if desired.ServesRemoteClusters(rev.Spec.Values) && (recheck == 0 || recheck > k.Usage.Interval()) {
		// Other clusters send no events: their use is looked at again after an interval.
		recheck = k.Usage.Interval()
	}
	c.Set(inUse)
	st.Conditions = c.Of(Conditions...)
	st.State = status.State(st.Conditions, Conditions[:3]...)
	return st, equality.Semantic.DeepEqual(rev.Status, st), recheck, nil
}

// readiness is the Ready condition of a revision: from istiod's Deployment for a local one; a remote
// revision's istiod runs in another cluster.
func (k Kind) readiness(ctx context.Context, rev *v1.IstioRevision, o controller.Outcome) metav1.Condition {
	if desired.IsRemote(rev) {
		injectors, err := k.injectors(ctx, rev, o.Applied)
		if err != nil {
			return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed, Message: err.Error()}
		}
		return remoteReady(rev, injectors)
	}
	deploy, err := controller.Workload(ctx, k.Reader, deploymentGVK, rev.Spec.Namespace, desired.IstiodName(rev), o.Applied)
	if err != nil {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonReadinessCheckFailed, Message: err.Error()}
	}
	return istiodReady(rev, deploy)
}

var (
	deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	injectorGVK   = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"}
)

// injectors are the revision's MutatingWebhookConfigurations: as the API server answered the apply when
// this reconcile wrote them, else from the cache of owned objects.
func (k Kind) injectors(ctx context.Context, rev *v1.IstioRevision, applied apply.Result) ([]*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(injectorGVK.GroupVersion().WithKind(injectorGVK.Kind + "List"))
	owner := render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevision, Name: rev.Name})
	if err := k.Reader.List(ctx, list, client.MatchingLabels{render.LabelOwner: owner}); err != nil {
		return nil, fmt.Errorf("reading the injector of revision %s: %w", rev.Name, err)
	}
	var out []*unstructured.Unstructured
	for i := range list.Items {
		obj := &list.Items[i]
		if sent, ok := applied.Sent[apply.Ref{GVK: injectorGVK, Name: obj.GetName()}]; ok {
			obj = sent
		}
		out = append(out, obj)
	}
	for ref, sent := range applied.Sent {
		if ref.GVK == injectorGVK && !slices.ContainsFunc(out, func(o *unstructured.Unstructured) bool { return o.GetName() == ref.Name }) {
			out = append(out, sent)
		}
	}
	return out, nil
}

// Controller registers the revision controller.
type Controller struct {
	Installer *controller.Installer[*v1.IstioRevision]
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
}

// SetupWithManager registers the controller: IstioRevisions by generation and deletion; the objects
// they own, for drift and readiness; namespaces coming into existence or going, for revisions waiting
// on theirs; IstioCNI and ZTunnel, for the revisions that need them; tags, which hold names and point
// at revisions; and the namespaces and pods that use revisions, paced (controller.Usage).
func (c *Controller) SetupWithManager(mgr ctrl.Manager) error {
	kind := c.Installer.Kind.(Kind)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("istiorevision").
		For(&v1.IstioRevision{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(kind.revisionsInNamespace), builder.OnlyMetadata, builder.WithPredicates(controller.CreatedOrDeleted{})).
		Watches(&v1.IstioRevisionTag{}, handler.EnqueueRequestsFromMapFunc(kind.tagRevisions), builder.WithPredicates(controller.TagMoved{})).
		Watches(&v1.IstioCNI{}, handler.EnqueueRequestsFromMapFunc(kind.revisionsNeeding(inuse.NeedsCNI))).
		Watches(&v1.ZTunnel{}, handler.EnqueueRequestsFromMapFunc(kind.revisionsNeeding(inuse.NeedsZTunnel))).
		WatchesMetadata(&corev1.Namespace{}, kind.Usage.Events(v1.KindIstioRevision, kind.referencedRevisions), builder.WithPredicates(controller.MetadataChanged{})).
		WatchesMetadata(&corev1.Pod{}, kind.Usage.Events(v1.KindIstioRevision, kind.referencedRevisions), builder.WithPredicates(controller.MetadataChanged{}))
	return apply.WatchOwned(b, c.Served).Complete(controller.CountErrors(v1.KindIstioRevision, c.Installer))
}

// revisionsInNamespace maps a namespace to the revisions that run istiod in it.
func (k Kind) revisionsInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	return k.revisionsWhere(ctx, func(rev *v1.IstioRevision) bool { return rev.Spec.Namespace == ns.GetName() })
}

// revisionsNeeding maps an event of a node agent to the revisions that need it of bosun.
func (k Kind) revisionsNeeding(which func(inuse.Needs) bool) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		return k.revisionsWhere(ctx, func(rev *v1.IstioRevision) bool { return which(k.Env.Needs(rev)) })
	}
}

// revisionsWhere lists the revisions that match.
func (k Kind) revisionsWhere(ctx context.Context, match func(*v1.IstioRevision) bool) []reconcile.Request {
	var list v1.IstioRevisionList
	if err := k.Reader.List(ctx, &list); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisions to map an event")
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if match(&list.Items[i]) {
			out = append(out, request(list.Items[i].Name))
		}
	}
	return out
}

// tagRevisions maps a tag to the revisions it concerns: the one of its name, which the tag may let in
// or keep out; the one its spec resolves to, decided from the spec rather than the lagging status
// (docs/architecture.md#lesson-follow-the-spec); and the one its webhook points at (status). The tag
// keeps both in use.
func (k Kind) tagRevisions(ctx context.Context, obj client.Object) []reconcile.Request {
	tag, ok := obj.(*v1.IstioRevisionTag)
	if !ok {
		return nil
	}
	out := []reconcile.Request{request(tag.Name)}
	if tag.Status.IstioRevision != "" {
		out = append(out, request(tag.Status.IstioRevision))
	}
	facts, err := desired.Read(ctx, k.Reader)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "reading the facts to map an IstioRevisionTag event")
		return out
	}
	if name, refusal := k.Env.TargetName(tag.Spec.TargetRef, facts); refusal == nil {
		out = append(out, request(name))
	}
	return out
}

// referencedRevisions maps a namespace or pod to the revisions the names it references count for: each
// name, and, when a tag has that name, every revision the tag counts for (desired.UsageTarget): the
// one its webhook points at (status), and the one its spec resolves to, found without deciding
// anything per event: an IstioRevision it names, or every revision of the Istio it names, its next one
// among them.
func (k Kind) referencedRevisions(ctx context.Context, obj client.Object) []string {
	var names []string
	if obj.GetNamespace() == "" {
		if name, _ := inuse.NamespaceReference(obj.GetLabels()); name != "" {
			names = append(names, name)
		}
	} else {
		byAnnotation, byLabel := inuse.PodReferences(obj.GetLabels(), obj.GetAnnotations(), "")
		names = append(names, byAnnotation, byLabel)
	}
	out := names
	for _, name := range names {
		if name == "" {
			continue
		}
		tag := &v1.IstioRevisionTag{}
		switch err := k.Reader.Get(ctx, client.ObjectKey{Name: name}, tag); {
		case err == nil:
			out = append(out, tag.Status.IstioRevision)
			out = append(out, k.revisionsOf(ctx, tag.Spec.TargetRef)...)
		case client.IgnoreNotFound(err) != nil:
			logr.FromContextOrDiscard(ctx).Error(err, "reading an IstioRevisionTag to map an event", "tag", name)
		}
	}
	return out
}

// revisionsOf are the revisions a targetRef may resolve to: the IstioRevision it names, or the
// revisions the Istio it names owns.
func (k Kind) revisionsOf(ctx context.Context, ref v1.TargetReference) []string {
	if ref.Kind != v1.KindIstio {
		return []string{ref.Name}
	}
	var out []string
	for _, req := range k.revisionsWhere(ctx, func(rev *v1.IstioRevision) bool {
		owner := metav1.GetControllerOf(rev)
		return owner != nil && owner.Kind == v1.KindIstio && owner.Name == ref.Name
	}) {
		out = append(out, req.Name)
	}
	return out
}

func request(name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: name}}
}
