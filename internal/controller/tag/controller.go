// Package tag reconciles IstioRevisionTags: it resolves a tag's targetRef to a revision (an Istio
// stands for the revision its spec asks for; an IstioRevision for itself), renders the revision-tag
// webhook from that revision's istiod chart (and, for the tag named default, the base chart's default
// validator) and applies it through internal/apply in the revision's namespace. A tag that moves to a
// revision in another namespace gets its new objects applied before the old ones are pruned. Whether
// workloads use the tag (InUse, and status.state) is kept by UsageReconciler, beside it, so that pod
// and namespace events never render or apply anything.
package tag

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/controller/revision"
	"github.com/bosun-mesh/bosun/internal/controller/status"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Reconciler reconciles IstioRevisionTags.
type Reconciler struct {
	Client   client.Client
	Env      desired.Env
	Charts   *render.Cache
	Applier  *apply.Applier
	Recorder events.EventRecorder
	// Served are the managed kinds the cluster serves; the controller watches each for drift.
	Served []schema.GroupVersionKind
	// Status writes the tags' Reconciled, Ready, istioRevision and istiodNamespace (field manager bosun).
	Status *status.Writer
	Clock  clock.PassiveClock
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

// SetupWithManager registers the controller: tags by generation and deletion; the Istios and
// IstioRevisions they point at, mapped through their spec (field lesson #26), so that a tag follows a
// new active revision as soon as it exists and moves when it is ready; and the objects they own, for
// drift.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("istiorevisiontag").
		For(&v1.IstioRevisionTag{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.Istio{}, handler.EnqueueRequestsFromMapFunc(r.tagsOfIstio), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.IstioRevision{}, handler.EnqueueRequestsFromMapFunc(r.tagsOfRevision), builder.WithPredicates(controller.RevisionChange{}))
	return apply.WatchOwned(b, r.Served).Complete(controller.CountErrors(v1.KindIstioRevisionTag, r))
}

// tagsOfIstio maps an Istio to the tags whose spec points at it.
func (r *Reconciler) tagsOfIstio(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.tagsIndexed(ctx, SpecKey(v1.KindIstio, obj.GetName()))
}

// tagsOfRevision maps a revision to the tags that depend on it: those whose spec points at it or at
// the Istio that owns it, those whose webhook points at it now (status), and the tag of the same name,
// which a revision's coming or going may let in or keep out.
func (r *Reconciler) tagsOfRevision(ctx context.Context, obj client.Object) []reconcile.Request {
	keys := []string{SpecKey(v1.KindIstioRevision, obj.GetName()), StatusKey(obj.GetName())}
	if owner := metav1.GetControllerOf(obj); owner != nil && owner.Kind == v1.KindIstio {
		keys = append(keys, SpecKey(v1.KindIstio, owner.Name))
	}
	out := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: obj.GetName()}}}
	for _, key := range keys {
		out = append(out, r.tagsIndexed(ctx, key)...)
	}
	return out
}

// tagsIndexed lists the tags indexed under key.
func (r *Reconciler) tagsIndexed(ctx context.Context, key string) []reconcile.Request {
	var list v1.IstioRevisionTagList
	if err := r.Client.List(ctx, &list, client.MatchingFields{IndexField: key}); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing IstioRevisionTags to map an event", "key", key)
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, tag := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: tag.Name}})
	}
	return out
}

// installer is what the controller installs with.
func (r *Reconciler) installer() controller.Installer {
	return controller.Installer{Client: r.Client, Applier: r.Applier, Charts: r.Charts, Status: r.Status, Recorder: r.Recorder}
}

// Reconcile reads a tag, resolves its target, applies its charts or, when it is being deleted, removes
// them, and writes its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tag := &v1.IstioRevisionTag{}
	if err := r.Client.Get(ctx, req.NamespacedName, tag); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	tag.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevisionTag))
	if !tag.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.installer().Finalize(ctx, tag, "revision tag")
	}
	if err := controller.EnsureFinalizer(ctx, r.Client, tag); err != nil {
		return ctrl.Result{}, err
	}
	st := newStatus(tag, metav1.NewTime(r.Clock.Now()))
	choice, err := r.resolve(ctx, tag)
	if err == nil {
		err = r.applyCharts(ctx, tag, choice)
	}
	st.reconciled(choice, err)
	wrote, serr := r.Status.Write(ctx, tag, st.result(), st.unchanged())
	if serr != nil {
		return ctrl.Result{}, errors.Join(err, serr)
	}
	if _, waiting := errors.AsType[*waitingError](err); waiting {
		// Not the user's to fix: the Istio creates its revision, whose creation wakes the tag.
		return ctrl.Result{}, nil
	}
	if reason, refused := status.RefusalReason(err); refused {
		// One Warning per refusal, when the status first says so, not one per reconcile.
		if wrote {
			r.Recorder.Eventf(tag, nil, corev1.EventTypeWarning, reason, "Reconcile", err.Error())
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, err
}

// waitingError means the tag's Istio has not created the revision its spec asks for yet, and the tag
// points at no revision that could stand in meanwhile. The revision's creation wakes the tag again.
type waitingError struct{ istio, revision string }

func (e *waitingError) Error() string {
	return fmt.Sprintf("Istio %s has not created IstioRevision %s, which its spec asks for, yet", e.istio, e.revision)
}

// resolve decides which revision the tag's webhook points at (Choose). It returns a refusal when the
// tag cannot act as written: an IstioRevision of its name holds the name (NameAlreadyExists), its
// target does not exist (RefNotFound), or the target is a remote revision.
func (r *Reconciler) resolve(ctx context.Context, tag *v1.IstioRevisionTag) (desired.Choice, error) {
	lookup := desired.Cluster{Reader: r.Client}
	if err := r.Env.CheckTagName(ctx, lookup, tag); err != nil {
		if errors.Is(err, desired.ErrLookup) {
			return desired.Choice{}, err
		}
		return desired.Choice{}, status.Refuse(v1.ReasonNameAlreadyExists, err)
	}
	ref := tag.Spec.TargetRef
	var istio *v1.Istio
	if ref.Kind == v1.KindIstio {
		var err error
		if istio, err = lookup.Istio(ctx, ref.Name); err != nil {
			return desired.Choice{}, err
		}
		if istio == nil {
			return desired.Choice{}, status.Refuse(v1.ReasonRefNotFound, fmt.Errorf("the targetRef names Istio %s, which does not exist: create it, or point the tag at an existing Istio or IstioRevision", ref.Name))
		}
	}
	var current *v1.IstioRevision
	if name := tag.Status.IstioRevision; name != "" {
		var err error
		if current, err = lookup.Revision(ctx, name); err != nil {
			return desired.Choice{}, err
		}
	}
	want, err := r.Env.Target(ctx, lookup, ref)
	switch {
	case errors.Is(err, desired.ErrLookup):
		return desired.Choice{}, err
	case errors.Is(err, desired.ErrTargetNotFound) && istio != nil:
		// The Istio's new revision is about to be created: meanwhile the tag stays where it is.
		next, nerr := r.Env.Revision(istio)
		if nerr != nil {
			return desired.Choice{}, status.Refuse(v1.ReasonReconcileError, nerr)
		}
		if current != nil && current.DeletionTimestamp.IsZero() {
			return desired.Choice{Revision: current, Waiting: next}, nil
		}
		return desired.Choice{}, status.Refuse(v1.ReasonRefNotFound, &waitingError{istio: istio.Name, revision: next.Name})
	case errors.Is(err, desired.ErrTargetNotFound):
		return desired.Choice{}, status.Refuse(v1.ReasonRefNotFound, fmt.Errorf("the targetRef names IstioRevision %s, which does not exist: create it, or point the tag at an existing Istio or IstioRevision", ref.Name))
	case err != nil:
		return desired.Choice{}, status.Refuse(v1.ReasonReconcileError, err)
	}
	if revision.IsRemote(want) {
		return desired.Choice{}, status.Refuse(v1.ReasonReconcileError, fmt.Errorf("IstioRevision %s is a remote revision (its istiod runs in another cluster): a tag cannot point at a remote revision, because bosun does not support revision tags across clusters; point the tag at a local revision", want.Name))
	}
	return desired.Choose(want, current), nil
}

// applyCharts renders the tag's charts for the chosen revision (or takes them from the render cache
// when the inputs did not change) and applies them: the new objects first, then the pruning of those
// no longer rendered, so that a tag moving to another namespace always has a webhook.
func (r *Reconciler) applyCharts(ctx context.Context, tag *v1.IstioRevisionTag, choice desired.Choice) error {
	rev := choice.Revision
	reqs, err := r.Env.TagCharts(tag, rev)
	if err != nil {
		return status.Refuse(v1.ReasonReconcileError, err)
	}
	objs, err := r.Charts.Render(tag.UID, reqs)
	if err != nil {
		return status.Refuse(v1.ReasonReconcileError, err)
	}
	res, err := r.Applier.Apply(ctx, apply.Component{Owner: tag, Objects: objs})
	var notOurs *apply.NotOursError
	if errors.As(err, &notOurs) {
		err = status.Refuse(v1.ReasonReconcileError, err)
	}
	if res.Changed() {
		logr.FromContextOrDiscard(ctx).Info("applied revision tag", "revision", rev.Name, "namespace", rev.Spec.Namespace, "result", res.String())
		r.Recorder.Eventf(tag, rev, corev1.EventTypeNormal, "Applied", "Apply", "IstioRevision %s: %s", rev.Name, res.String())
	}
	apply.CountApplied(v1.KindIstioRevisionTag, res)
	return err
}
