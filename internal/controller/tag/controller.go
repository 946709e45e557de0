// Package tag reconciles IstioRevisionTags with internal/controller's Installer: the tag's webhook
// (and, for the tag named default, the default validator) for the revision internal/desired resolves
// its targetRef to, applied through internal/apply and removed when the tag is deleted. Its status
// names the revision the webhook points at, whether that revision's istiod is ready, and whether
// namespaces or pods select the tag (InUse), all written together by this controller.
package tag

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
)

// Kind is the IstioRevisionTag kind for controller.Installer.
type Kind struct {
	// Reader reads the cache: the namespaces and pods that select the tag.
	Reader client.Reader
	Usage  *controller.Usage
}

// Conditions are the conditions of a tag's status, in the order its state summarises them: a tag
// nothing uses shows NotReferencedByAnything, as OpenShift Service Mesh 3 documents.
var Conditions = []string{v1.ConditionReconciled, v1.ConditionReady, v1.ConditionInUse}

func (Kind) Name() string                                           { return v1.KindIstioRevisionTag }
func (Kind) Installs() string                                       { return "revision tag" }
func (Kind) New() *v1.IstioRevisionTag                              { return &v1.IstioRevisionTag{} }
func (Kind) Namespaces(*v1.IstioRevisionTag) []string               { return nil }
func (Kind) Conditions(tag *v1.IstioRevisionTag) []metav1.Condition { return tag.Status.Conditions }

// Forget drops what was kept of a tag's usage.
func (k Kind) Forget(obj *v1.IstioRevisionTag) { k.Usage.Forget(v1.KindIstioRevisionTag, obj) }

// Reconciling records that the reconcile, which evaluates the use, starts (controller.Usage).
func (k Kind) Reconciling(obj *v1.IstioRevisionTag) {
	k.Usage.Reconciling(v1.KindIstioRevisionTag, obj)
}

func (Kind) Decide(env desired.Env, tag *v1.IstioRevisionTag, f *desired.Facts) desired.Plan {
	return env.ForTag(tag, f)
}

func (Kind) Applied(_ *v1.IstioRevisionTag, plan desired.Plan) string {
	return fmt.Sprintf("IstioRevision %s in %s", plan.Target.Name, plan.Target.Spec.Namespace)
}

// Status computes a tag's status: Reconciled, and the revision its webhook points at, from the
// outcome (kept as they were while the tag is not reconciled: the objects stay where they are); Ready
// from that revision's readiness, refused or not (unknown only while the webhook points nowhere); InUse
// from the namespaces and pods that select the tag by label.
func (k Kind) Status(ctx context.Context, tag *v1.IstioRevisionTag, o controller.Outcome) (any, bool, time.Duration, error) {
	c := status.NewConditions(tag.Status.Conditions, tag.Generation, o.Now)
	st := v1.IstioRevisionTagStatus{ObservedGeneration: tag.Generation, IstioRevision: tag.Status.IstioRevision, IstiodNamespace: tag.Status.IstiodNamespace}
	if c.Reconciled(o.Refusal, o.Err, reconciledMessage(o.Plan)) {
		st.IstioRevision, st.IstiodNamespace = o.Plan.Target.Name, o.Plan.Target.Spec.Namespace
	}
	// Ready says whether injection through the tag works now: whether the istiod of the revision its
	// webhook points at serves, refused or not.
	pointsAt := o.Facts.Revisions[st.IstioRevision]
	if o.Reconciled() {
		pointsAt = o.Plan.Target
	}
	if pointsAt != nil {
		c.Set(revisionReady(pointsAt))
	} else {
		c.Untold(v1.ConditionReady, "tag")
	}
	inUse := k.Usage.Evaluate(tag, func() (inuse.Usage, error) {
		return inuse.Tag(inuse.Cache{Ctx: ctx, Reader: k.Reader}, tag.Name, pointsAt != nil && desired.EnablesNamespacesByDefault(pointsAt))
	})
	inUse, recheck := k.Usage.Hold(tag.UID, inUse)
	c.Set(inUse)
	st.Conditions = c.Of(Conditions...)
	st.State = status.State(st.Conditions, Conditions...)
	return st, equality.Semantic.DeepEqual(tag.Status, st), recheck, nil
}

// reconciledMessage says where a reconciled tag's webhook points, and where it moves next.
func reconciledMessage(plan desired.Plan) string {
	if plan.Target == nil {
		return ""
	}
	msg := fmt.Sprintf("the tag's webhook points at IstioRevision %s in namespace %s", plan.Target.Name, plan.Target.Spec.Namespace)
	if plan.Next != nil {
		msg += fmt.Sprintf("; it moves to IstioRevision %s once that revision's istiod is ready", plan.Next.Name)
	}
	return msg
}

// revisionReady is a tag's Ready condition: whether the istiod of the revision its webhook points at
// is ready, so that injection through the tag works.
func revisionReady(rev *v1.IstioRevision) metav1.Condition {
	if desired.Ready(rev) {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonReady,
			Message: "the istiod of IstioRevision " + rev.Name + " is ready"}
	}
	c := meta.FindStatusCondition(rev.Status.Conditions, v1.ConditionReady)
	if c == nil || rev.Status.ObservedGeneration != rev.Generation {
		return metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1.ReasonPending,
			Message: "IstioRevision " + rev.Name + " has not reported its readiness for its latest spec yet"}
	}
	return metav1.Condition{Type: v1.ConditionReady, Status: c.Status, Reason: c.Reason,
		Message: "IstioRevision " + rev.Name + ": " + c.Message}
}

// IndexField is the field index on IstioRevisionTags that maps the resources a tag depends on to the
// tag: its spec's targetRef (SpecKey) and the revision its status names (StatusKey).
const IndexField = "tag.bosun-mesh.io/reference"

// SpecKey is the index value of tags whose spec.targetRef names this kind and name.
func SpecKey(kind, name string) string { return "spec:" + kind + "/" + name }

// StatusKey is the index value of tags whose status.istioRevision is this revision.
func StatusKey(revision string) string { return "status:" + revision }

// IndexKeys are the values under which a tag is indexed at IndexField.
func IndexKeys(tag *v1.IstioRevisionTag) []string {
	keys := []string{SpecKey(tag.Spec.TargetRef.Kind, tag.Spec.TargetRef.Name)}
	if tag.Status.IstioRevision != "" {
		keys = append(keys, StatusKey(tag.Status.IstioRevision))
	}
	return keys
}

// AddIndex registers IndexField with the manager's cache. It must run before the manager starts.
func AddIndex(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &v1.IstioRevisionTag{}, IndexField, func(o client.Object) []string {
		tag, ok := o.(*v1.IstioRevisionTag)
		if !ok {
			return nil
		}
		return IndexKeys(tag)
	})
}

// Controller registers the tag controller.
type Controller struct {
	Installer *controller.Installer[*v1.IstioRevisionTag]
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
}

// SetupWithManager registers the controller: tags by generation and deletion; the Istios and
// IstioRevisions they point at, mapped through their spec (docs/architecture.md#lesson-follow-the-spec),
// so that a tag follows a new active revision as soon as it exists and moves when it is ready; the
// objects they own, for drift; and the namespaces and pods that select tags, paced (controller.Usage).
func (c *Controller) SetupWithManager(mgr ctrl.Manager) error {
	kind := c.Installer.Kind.(Kind)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("istiorevisiontag").
		For(&v1.IstioRevisionTag{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.Istio{}, handler.EnqueueRequestsFromMapFunc(kind.tagsOfIstio), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.IstioRevision{}, handler.EnqueueRequestsFromMapFunc(kind.tagsOfRevision), builder.WithPredicates(controller.RevisionChange{})).
		WatchesMetadata(&corev1.Namespace{}, kind.Usage.Events(v1.KindIstioRevisionTag, SelectedTags), builder.WithPredicates(controller.MetadataChanged{})).
		WatchesMetadata(&corev1.Pod{}, kind.Usage.Events(v1.KindIstioRevisionTag, SelectedTags), builder.WithPredicates(controller.MetadataChanged{}))
	return apply.WatchOwned(b, c.Served).Complete(controller.CountErrors(v1.KindIstioRevisionTag, c.Installer))
}

// SelectedTags maps a namespace or pod to the tag its labels name, if any. A pod's istio.io/rev
// annotation names the revision that injected it, never a tag, so it is not read.
func SelectedTags(_ context.Context, obj client.Object) []string {
	var name string
	if obj.GetNamespace() == "" {
		name, _ = inuse.NamespaceReference(obj.GetLabels())
	} else {
		_, name = inuse.PodReferences(obj.GetLabels(), nil, "")
	}
	return []string{name}
}

// tagsOfIstio maps an Istio to the tags whose spec points at it.
func (k Kind) tagsOfIstio(ctx context.Context, obj client.Object) []reconcile.Request {
	return k.tagsIndexed(ctx, SpecKey(v1.KindIstio, obj.GetName()))
}

// tagsOfRevision maps a revision to the tags that depend on it: those whose spec points at it or at
// the Istio that owns it, those whose webhook points at it now (status), and the tag of the same name,
// which a revision's coming or going may let in or keep out.
func (k Kind) tagsOfRevision(ctx context.Context, obj client.Object) []reconcile.Request {
	keys := []string{SpecKey(v1.KindIstioRevision, obj.GetName()), StatusKey(obj.GetName())}
	if owner := metav1.GetControllerOf(obj); owner != nil && owner.Kind == v1.KindIstio {
		keys = append(keys, SpecKey(v1.KindIstio, owner.Name))
	}
	out := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: obj.GetName()}}}
	for _, key := range keys {
		out = append(out, k.tagsIndexed(ctx, key)...)
	}
	return out
}

// tagsIndexed lists the tags indexed under key.
func (k Kind) tagsIndexed(ctx context.Context, key string) []reconcile.Request {
	var list v1.IstioRevisionTagList
	if err := k.Reader.List(ctx, &list, client.MatchingFields{IndexField: key}); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisionTags to map an event", "key", key)
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, tag := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: tag.Name}})
	}
	return out
}
