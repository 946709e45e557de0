// Package apply is the only writer of rendered objects. It applies one component's objects (what one
// bosun resource rendered) with server-side apply under the field manager "bosun", corrects drift
// object by object, and prunes what the component no longer renders.
//
// # Library
//
// bosun applies with controller-runtime's own server-side apply (Client.Apply with an apply
// configuration made from the rendered object), not with fluxcd/pkg/ssa's ResourceManager. The facts
// behind the choice (shared/reference/apply-libraries.md): ssa roughly doubles the binary (39 → 72 MB,
// through kubectl's packages), always forces field ownership in its dry runs and applies, and detects
// drift with a server-side dry run of every object, so even a converged component costs one request per
// object on every reconcile. bosun's drift check (below) reads the cache and sends nothing when nothing
// drifted, which is what lets an idle operator make no API writes. Readiness comes from kstatus
// (fluxcd/cli-utils' pkg/kstatus, which Helm already requires), used by the controllers.
//
// # What is applied, and when
//
// internal/render gives every object the labels app.kubernetes.io/managed-by=bosun and
// bosun.dev/owner=<Kind>.<name>, and an annotation bosun.dev/hash with a hash of the object as
// rendered. Apply adds an owner reference to the owning bosun resource. An object is sent when:
//   - it does not exist (it is created with the fields istiod takes over later, see render.ForUpdate);
//   - its hash annotation differs from the rendered one: the chart or the values changed it;
//   - it drifted: a field bosun applies is no longer owned by bosun's apply in the object's
//     managedFields. Anyone who changes or removes a field bosun set (kubectl edit, scale, another
//     apply with force) takes that field's ownership away from bosun, so the check is exact and needs
//     no knowledge of defaults or of how the API server normalises values. Only the drifted object is
//     sent again.
//
// Everything else is left alone: fields bosun does not set (someone else's labels, istiod's caBundle)
// are never touched, because server-side apply changes only the fields the applier sends.
//
// # Inventory
//
// A component's inventory is the set of live objects of the managed kinds that carry its owner label
// and were written by bosun's apply (an entry of manager "bosun", operation Apply, in managedFields).
// It lives in the objects themselves, so it survives an operator restart and a backup and restore;
// an owner reference that a restore left pointing at an old UID counts as drift and is re-applied
// (docs/architecture.md#lesson-restored-revisions). Pruning deletes inventory objects the component no longer renders. CRDs are
// never in an inventory and never deleted: deleting a CRD deletes every object of its kind.
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/render"
)

// FieldManager is the server-side apply field manager of everything bosun writes.
const FieldManager = "bosun"

// Kinds are the kinds of object bosun applies from Istio's charts (istiod, base, cni, ztunnel), CRDs
// aside. The operator watches and caches these, filtered by the managed-by label. A chart that renders
// another kind is refused with an error, so that nothing bosun applies escapes its inventory.
var Kinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Service"},
	// The remote profile's istiod Service has no selector: its Endpoints (up to Istio 1.30) or
	// EndpointSlice (from 1.31) point at the other cluster's istiod (values.global.remotePilotAddress).
	{Version: "v1", Kind: "Endpoints"},
	{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"},
	{Version: "v1", Kind: "ResourceQuota"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"},
	{Group: "k8s.cni.cncf.io", Version: "v1", Kind: "NetworkAttachmentDefinition"},
}

// Managed reports whether bosun applies objects of this kind.
func Managed(gvk schema.GroupVersionKind) bool {
	return slices.Contains(Kinds, gvk)
}

// Applier applies components. Reads go to reader, the operator's cache (which holds the managed kinds
// labelled managed-by=bosun, with their managedFields), and to api, the API server itself, for what
// the cache cannot hold (see live); writes go to writer.
type Applier struct {
	writer client.Client
	reader client.Reader
	api    client.Reader
	// served are the managed kinds the cluster serves; the others are neither listed nor applied.
	served []schema.GroupVersionKind
	// adopt are the field managers whose objects bosun may take over (see adopt.go).
	adopt []string
}

// New returns an Applier that writes with writer and reads through cache and, where the cache cannot
// tell, api. served are the kinds of Kinds that the cluster serves (ServedKinds); adopt are the field
// managers whose objects bosun may take over, such as helm (see adopt.go).
func New(writer client.Client, cache, api client.Reader, served []schema.GroupVersionKind, adopt ...string) *Applier {
	return &Applier{writer: writer, reader: cache, api: api, served: served, adopt: adopt}
}

// ServedKinds returns the kinds of Kinds the cluster serves: NetworkAttachmentDefinition, for one,
// exists only where Multus is installed.
func ServedKinds(mapper meta.RESTMapper) ([]schema.GroupVersionKind, error) {
	var served []schema.GroupVersionKind
	for _, gvk := range Kinds {
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", gvk, err)
		}
		served = append(served, gvk)
	}
	return served, nil
}

// Component is what one bosun resource renders.
type Component struct {
	// Owner is the bosun resource (cluster-scoped) that owns the objects; its kind must be set
	// (GetObjectKind) and its UID known.
	Owner client.Object
	// Objects are the rendered objects, in the order to apply them.
	Objects []*unstructured.Unstructured
}

// ownerLabel is the bosun.dev/owner value of the component's objects.
func (c Component) ownerLabel() string {
	return render.OwnerLabelValue(render.Owner{Kind: c.Owner.GetObjectKind().GroupVersionKind().Kind, Name: c.Owner.GetName()})
}

// CountApplied adds what an apply for a kind of bosun resource changed to bosun_applied_objects_total.
func CountApplied(kind string, res Result) {
	for action, refs := range map[string][]Ref{"created": res.Created, "updated": res.Updated, "corrected": res.Corrected, "adopted": res.Adopted, "pruned": res.Pruned} {
		if len(refs) > 0 {
			metrics.Applies.WithLabelValues(kind, action).Add(float64(len(refs)))
		}
	}
}

// CountRemoved adds the objects removed with a bosun resource that is being deleted (Applier.Delete)
// to bosun_applied_objects_total, as action removed.
func CountRemoved(kind string, removed []Ref) {
	if len(removed) > 0 {
		metrics.Applies.WithLabelValues(kind, "removed").Add(float64(len(removed)))
	}
}

// Ref names one object, for results and messages.
type Ref struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

func refOf(obj client.Object) Ref {
	return Ref{GVK: obj.GetObjectKind().GroupVersionKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Result says what Apply changed.
type Result struct {
	// Created were missing, Updated were changed by the chart or values, Corrected had drifted and were
	// put back, Adopted were another installer's and are bosun's now, Pruned are no longer rendered and
	// were deleted.
	Created, Updated, Corrected, Adopted, Pruned []Ref
	// Unchanged counts the objects that needed nothing.
	Unchanged int
	// Sent holds the objects written, as the API server answered: a Deployment's generation there,
	// ahead of its observedGeneration, shows a rollout the cache does not show yet.
	Sent map[Ref]*unstructured.Unstructured
}

// Changed reports whether Apply wrote anything.
func (r Result) Changed() bool {
	return len(r.Created)+len(r.Updated)+len(r.Corrected)+len(r.Adopted)+len(r.Pruned) > 0
}

// String summarises the result for an event or a log line, such as "created 18 objects".
func (r Result) String() string {
	var parts []string
	add := func(verb string, refs []Ref) {
		switch len(refs) {
		case 0:
		case 1:
			parts = append(parts, verb+" "+refs[0].String())
		default:
			parts = append(parts, fmt.Sprintf("%s %d objects", verb, len(refs)))
		}
	}
	add("created", r.Created)
	add("updated", r.Updated)
	add("corrected drift of", r.Corrected)
	add("took over", r.Adopted)
	add("pruned", r.Pruned)
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// Apply makes the cluster hold exactly the component's objects: it sends the missing, changed and
// drifted ones, then deletes the inventory objects the component no longer renders. Before it writes
// anything it refuses objects of kinds it does not track and objects another installer created (unless
// it may take them over). Objects are read side by side and sent in the waves of render.Wave, each
// wave's objects side by side: a step costs a round trip per wave, not per object. It stops after
// the first wave with an error, leaving what it applied so far; the next call goes on from there.
func (a *Applier) Apply(ctx context.Context, c Component) (Result, error) {
	res := Result{Sent: map[Ref]*unstructured.Unstructured{}}
	owner, err := ownerReference(c.Owner)
	if err != nil {
		return res, err
	}
	if err := a.check(c.Objects); err != nil {
		return res, err
	}
	desired := make([]*unstructured.Unstructured, len(c.Objects))
	for i, rendered := range c.Objects {
		desired[i] = rendered.DeepCopy()
		desired[i].SetOwnerReferences([]metav1.OwnerReference{owner})
	}
	live := make([]*unstructured.Unstructured, len(c.Objects))
	if err := together(len(desired), func(i int) (err error) {
		live[i], err = a.live(ctx, desired[i])
		return err
	}); err != nil {
		return res, err
	}
	for i, l := range live {
		if l != nil && !AppliedByBosun(l) && !a.adoptable(foreignManagers(l)) {
			return res, &NotOursError{Ref: refOf(desired[i]), Managers: foreignManagers(l)}
		}
	}
	want := map[Ref]bool{}
	for _, d := range desired {
		want[refOf(d)] = true
	}
	steps := make([]step, len(desired))
	for first := 0; first < len(desired); {
		end := first + 1
		for end < len(desired) && render.Wave(desired[end]) == render.Wave(desired[first]) {
			end++
		}
		err := together(end-first, func(i int) error {
			steps[first+i] = a.step(ctx, desired[first+i], live[first+i])
			return steps[first+i].err
		})
		// The result, and the Event and metrics made from it, name only what was written.
		for _, s := range steps[first:end] {
			res.record(s)
		}
		if err != nil {
			return res, err
		}
		first = end
	}
	pruned, err := a.prune(ctx, c, want)
	res.Pruned = pruned
	return res, err
}

// step is what Apply did with one object: what it was (unchanged, created, …) and, when it was
// sent, the object as the API server stored it.
type step struct {
	ref  Ref
	did  action
	sent *unstructured.Unstructured
	err  error
}

// action is what Apply did with an object.
type action int

const (
	leftUnchanged action = iota
	created
	adopted
	updated
	corrected
)

// record adds a step to the result, unless it failed.
func (r *Result) record(s step) {
	if s.err != nil {
		return
	}
	list := map[action]*[]Ref{created: &r.Created, adopted: &r.Adopted, updated: &r.Updated, corrected: &r.Corrected}[s.did]
	if list == nil {
		r.Unchanged++
		return
	}
	*list = append(*list, s.ref)
	r.Sent[s.ref] = s.sent
}

// step sends one object if it is missing, another installer's to take over, changed or drifted.
func (a *Applier) step(ctx context.Context, d, l *unstructured.Unstructured) step {
	s := step{ref: refOf(d)}
	update := d
	if l != nil {
		update = ForUpdate(d, l)
	}
	switch {
	case l == nil:
		s.did = created
		s.sent, s.err = a.send(ctx, d)
	case !AppliedByBosun(l):
		s.did = adopted
		s.sent, s.err = a.takeOver(ctx, update)
	case l.GetAnnotations()[render.AnnotationHash] != d.GetAnnotations()[render.AnnotationHash]:
		s.did = updated
		s.sent, s.err = a.send(ctx, update)
	case len(Drift(l, update)) > 0:
		s.did = corrected
		s.sent, s.err = a.send(ctx, update)
	}
	return s
}

// concurrency bounds the requests one Apply has in flight.
const concurrency = 16

// together calls f for 0..n-1, at most concurrency at a time, and returns the error of the lowest
// index that failed, once every call returned.
func together(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// live reads the object as it is: from the cache, which holds bosun's objects; when the cache has
// none, from the API server, since an object another installer created is not in the cache (it lacks
// bosun's label). That second read happens only for objects about to be created.
func (a *Applier) live(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	for _, r := range []client.Reader{a.reader, a.api} {
		l := &unstructured.Unstructured{}
		l.SetGroupVersionKind(obj.GroupVersionKind())
		err := r.Get(ctx, client.ObjectKeyFromObject(obj), l)
		if err == nil {
			return l, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading %s: %w", refOf(obj), err)
		}
	}
	return nil, nil
}

// ForUpdate is what bosun sends to update an existing object: render.ForUpdate, which leaves out the
// fields istiod takes over once it runs (a validating webhook's failurePolicy), unless no one else
// owns them yet: then istiod has not taken them, and leaving them out would drop them, so that the API
// server would default failurePolicy to Fail before istiod serves.
func ForUpdate(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if render.HasCreateOnlyFields(desired) && !othersOwn(live, "f:failurePolicy") {
		return desired
	}
	return render.ForUpdate(desired)
}

// othersOwn reports whether a manager other than bosun's apply owns a field of this name anywhere in
// the object.
func othersOwn(live *unstructured.Unstructured, field string) bool {
	for _, e := range live.GetManagedFields() {
		if !isBosunApply(e) && e.FieldsV1 != nil && strings.Contains(string(e.FieldsV1.Raw), `"`+field+`"`) {
			return true
		}
	}
	return false
}

// check refuses, before anything is written, objects of kinds bosun does not track in inventories or
// that the cluster does not serve.
func (a *Applier) check(objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		if !Managed(gvk) {
			return fmt.Errorf("%s %s: bosun does not apply objects of kind %s", gvk.Kind, obj.GetName(), gvk)
		}
		if !slices.Contains(a.served, gvk) {
			return fmt.Errorf("%s %s: the cluster does not serve %s, which the chart needs", gvk.Kind, obj.GetName(), gvk)
		}
	}
	return nil
}

// send applies one object with server-side apply, taking over fields other managers changed, and
// returns the object as the API server stored it.
func (a *Applier) send(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	// The client decodes the API server's answer into what it sends: send a copy, so that obj stays
	// what was rendered.
	sent := obj.DeepCopy()
	err := a.writer.Apply(ctx, client.ApplyConfigurationFromUnstructured(sent), client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil {
		return nil, fmt.Errorf("applying %s: %w", refOf(obj), err)
	}
	return sent, nil
}

// Inventory returns the live objects that belong to the owner: those of the served managed kinds that
// carry its owner label and that bosun applied.
func (a *Applier) Inventory(ctx context.Context, owner client.Object) ([]*unstructured.Unstructured, error) {
	label := Component{Owner: owner}.ownerLabel()
	var out []*unstructured.Unstructured
	for _, gvk := range a.served {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := a.reader.List(ctx, list, client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue, render.LabelOwner: label}); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if AppliedByBosun(obj) {
				obj.SetGroupVersionKind(gvk)
				out = append(out, obj)
			}
		}
	}
	return out, nil
}

// prune deletes the inventory objects not in want, last applied first.
func (a *Applier) prune(ctx context.Context, c Component, want map[Ref]bool) ([]Ref, error) {
	inventory, err := a.Inventory(ctx, c.Owner)
	if err != nil {
		return nil, err
	}
	render.Sort(inventory)
	var pruned []Ref
	for _, obj := range slices.Backward(inventory) {
		ref := refOf(obj)
		if want[ref] {
			continue
		}
		if err := a.delete(ctx, obj); err != nil {
			return pruned, err
		}
		pruned = append(pruned, ref)
	}
	return pruned, nil
}

// Delete deletes every object in the owner's inventory, last applied first, and returns what it
// deleted. Objects already gone are skipped.
func (a *Applier) Delete(ctx context.Context, owner client.Object) ([]Ref, error) {
	return a.prune(ctx, Component{Owner: owner}, nil)
}

// delete deletes one object, only in the version bosun saw (a precondition on its UID), so that an
// object someone recreated in the meantime is not deleted by mistake.
func (a *Applier) delete(ctx context.Context, obj *unstructured.Unstructured) error {
	uid := obj.GetUID()
	err := a.writer.Delete(ctx, obj, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", refOf(obj), err)
	}
	return nil
}

// ownerReference is the controller owner reference objects get to their bosun resource, so that the
// garbage collector removes them with it even if bosun is not running.
func ownerReference(owner client.Object) (metav1.OwnerReference, error) {
	gvk := owner.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" || owner.GetUID() == "" {
		return metav1.OwnerReference{}, errors.New("the owner needs its kind and UID")
	}
	yes := true
	return metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(), UID: types.UID(owner.GetUID()),
		Controller: &yes, BlockOwnerDeletion: &yes,
	}, nil
}
