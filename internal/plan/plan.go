// Package plan turns sailoperator.io manifests into what bosun would apply for them, offline, for
// `bosun render`: it checks each manifest as the API server would (bosun's CRDs through
// internal/schemacheck, the catalog's admission policies through internal/versionpolicy), makes the
// facts of the cluster the manifests would make (desired.FromManifests), decides every resource with
// internal/desired, exactly as the operator's controllers do over the facts they read from the
// cluster, and renders the charts with internal/render. It adds no decision of its own; where the
// operator would refuse a resource, Plan returns that refusal.
//
// The operator does not link this package: its schema check brings the API server's validation and
// CEL, which the API server itself runs in a cluster.
package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/preflight"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/values"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// Planned is what bosun applies for one input resource.
type Planned struct {
	// Source names the input, for the comment printed above its objects.
	Source string
	// Notes are printed as comments under Source.
	Notes []string
	// Generated are the sailoperator.io objects bosun creates (an Istio's IstioRevision).
	Generated []*unstructured.Unstructured
	// Results are the charts rendered for the input.
	Results []render.Result
}

// Planner turns sailoperator.io resources into what bosun would apply: the decisions of
// internal/desired, over the facts the input makes (desired.FromManifests), and the charts rendered by
// internal/render. The operator makes the same decisions over the facts it reads from the cluster.
type Planner struct {
	Env      desired.Env
	Renderer *render.Renderer
	// Checker checks the input against bosun's CRDs as the API server would.
	Checker *schemacheck.Checker
	// Preflight turns on the checks the operator makes before it changes an Istio's version
	// (internal/preflight), with what the input shows (`bosun render --plan`): the node agents of the
	// input, and the values the new version's charts refuse. A hard finding refuses the Istio, as the
	// operator would; the others are notes.
	Preflight bool
	// Current are the IstioRevisions that run now (`--current`, as kubectl get prints them): an Istio's
	// version change is the one from its revisions among them to the revision its input asks for.
	Current []*v1.IstioRevision
}

// kindOrder renders control planes first: tags and ZTunnels refer to them.
var kindOrder = []string{v1.KindIstio, v1.KindIstioRevision, v1.KindIstioRevisionTag, v1.KindIstioCNI, v1.KindZTunnel}

// input is one checked input resource, decoded.
type input struct {
	obj   *unstructured.Unstructured
	typed client.Object
	// note is printed under the resource's objects.
	note string
}

// Plan checks, decides and renders the manifests, in an order where control planes come first (tags
// and ZTunnels refer to them), with Istio's CRDs first of all, and returns the first refusal or error
// it meets. The error of a refused resource wraps the *desired.Refusal.
func (p *Planner) Plan(objs []*unstructured.Unstructured) ([]Planned, error) {
	if len(objs) == 0 {
		return nil, errors.New("the input has no manifests")
	}
	inputs, manifests, err := p.decode(objs)
	if err != nil {
		return nil, err
	}
	facts, err := p.Env.FromManifests(manifests)
	if err != nil {
		return nil, err
	}
	var out []Planned
	for _, kind := range kindOrder {
		for _, in := range inputs {
			if in.obj.GetKind() != kind {
				continue
			}
			pl, err := p.planOne(in, facts)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", kind, in.obj.GetName(), err)
			}
			out = append(out, pl)
		}
	}
	return p.withCRDs(out, facts)
}

// decode checks every input as the API server would, and goes on with what it would store: render
// must not print objects for a manifest that kubectl apply refuses. The CRDs check the shape of
// spec.version; the catalog's admission policies, which the operator installs, what it may name.
func (p *Planner) decode(objs []*unstructured.Unstructured) ([]input, desired.Manifests, error) {
	var inputs []input
	var m desired.Manifests
	for _, obj := range objs {
		if !slices.Contains(kindOrder, obj.GetKind()) || !strings.HasPrefix(obj.GetAPIVersion(), "sailoperator.io/") {
			return nil, m, fmt.Errorf("%s %s: render takes sailoperator.io Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests", obj.GetKind(), obj.GetName())
		}
		valid, err := p.Checker.Check(context.Background(), obj)
		if err != nil {
			return nil, m, err
		}
		if err := versionpolicy.Admit(p.Env.Catalog, valid); err != nil {
			return nil, m, err
		}
		in := input{obj: valid}
		switch valid.GetKind() {
		case v1.KindIstio:
			istio := &v1.Istio{}
			err = fromUnstructured(valid, istio)
			in.typed, m.Istios = istio, append(m.Istios, istio)
		case v1.KindIstioRevision:
			rev := &v1.IstioRevision{}
			err = fromUnstructured(valid, rev)
			in.typed, m.Revisions = rev, append(m.Revisions, rev)
		case v1.KindIstioRevisionTag:
			tag := &v1.IstioRevisionTag{}
			err = fromUnstructured(valid, tag)
			in.typed, m.Tags = tag, append(m.Tags, tag)
		case v1.KindIstioCNI:
			cni := &v1.IstioCNI{}
			err = fromUnstructured(valid, cni)
			in.typed, m.CNIs = cni, append(m.CNIs, cni)
		default:
			var zt *v1.ZTunnel
			zt, in.note, err = decodeZTunnel(valid)
			in.typed, m.ZTunnels = zt, append(m.ZTunnels, zt)
		}
		if err != nil {
			return nil, m, err
		}
		inputs = append(inputs, in)
	}
	return inputs, m, nil
}

// withCRDs moves Istio's CRDs into a group of their own, from the base chart of the newest version
// the input's revisions use (desired.ForCRDs): bosun applies them once for all control planes,
// whichever revision is named default.
func (p *Planner) withCRDs(plans []Planned, facts *desired.Facts) ([]Planned, error) {
	for i := range plans {
		for j := range plans[i].Results {
			plans[i].Results[j].CRDs = nil
		}
	}
	req, ok := p.Env.ForCRDs(facts)
	if !ok {
		return plans, nil
	}
	res, err := p.Renderer.Render(req)
	if err != nil {
		return nil, err
	}
	crds := Planned{Source: "Istio's CRDs, from the base chart of " + req.Version + ", the newest version in use",
		Results: []render.Result{{CRDs: res.CRDs}}}
	return append([]Planned{crds}, plans...), nil
}

// planOne decides one input with internal/desired and renders its charts. A refusal is returned as the
// error, with a hint where render's answer depends on the input being complete.
func (p *Planner) planOne(in input, facts *desired.Facts) (Planned, error) {
	pl := Planned{Source: in.obj.GetKind() + " " + in.obj.GetName()}
	if in.note != "" {
		pl.Notes = append(pl.Notes, in.note)
	}
	var plan desired.Plan
	switch obj := in.typed.(type) {
	case *v1.Istio:
		ip := p.Env.ForIstio(obj, facts)
		if ip.Refusal != nil {
			return pl, ip.Refusal
		}
		if p.Preflight {
			note, refusal := p.preflight(obj, ip, facts)
			if refusal != nil {
				return pl, refusal
			}
			pl.Notes = append(pl.Notes, note)
		}
		rev := ip.Revision.DeepCopy()
		rev.OwnerReferences = nil // set by the cluster, with the Istio's UID
		revObj, err := toUnstructured(rev)
		if err != nil {
			return pl, err
		}
		pl.Generated = append(pl.Generated, revObj)
		plan = p.Env.ForRevision(ip.Revision, facts)
	case *v1.IstioRevision:
		plan = p.Env.ForRevision(obj, facts)
	case *v1.IstioRevisionTag:
		plan = p.Env.ForTag(obj, facts)
	case *v1.IstioCNI:
		plan = p.Env.ForCNI(obj, facts)
	case *v1.ZTunnel:
		plan = p.Env.ForZTunnel(obj, facts)
	}
	if r := plan.Refusal; r != nil {
		if r.Reason == v1.ReasonRefNotFound {
			return pl, fmt.Errorf("%w; render reads it from the input: add its manifest with -f", r)
		}
		return pl, r
	}
	for _, req := range plan.Charts {
		res, err := p.Renderer.Render(req)
		if err != nil {
			return pl, err
		}
		pl.Results = append(pl.Results, res)
	}
	return pl, nil
}

// preflight checks the change of an Istio's version from its revisions in Current to the one the input
// asks for, as the operator does before it makes it, with what can be known offline: the input's node
// agents and the new version's charts. It returns the note that tells the findings, or the refusal of
// a hard one.
func (p *Planner) preflight(istio *v1.Istio, ip desired.IstioPlan, facts *desired.Facts) (string, *desired.Refusal) {
	var owned []*v1.IstioRevision
	current := desired.IstioPlan{Revision: ip.Revision}
	for _, rev := range p.Current {
		ref := metav1.GetControllerOf(rev)
		if ref == nil || ref.Kind != v1.KindIstio || ref.Name != istio.Name || (ref.UID != "" && istio.UID != "" && ref.UID != istio.UID) {
			continue
		}
		owned = append(owned, rev)
		if rev.Name == ip.Revision.Name {
			current.Existing = rev
		}
	}
	ch, ok := preflight.ChangeOf(istio, current, owned)
	switch {
	case !ok && len(owned) == 0:
		return "Pre-flight: no IstioRevision of this Istio in --current, so no version change to check: add the running ones (kubectl get istiorevisions -o yaml)", nil
	case !ok:
		return fmt.Sprintf("Pre-flight: the version does not change (%s)", ip.Revision.Spec.Version), nil
	}
	findings := preflight.Check(p.Env, istio, ch, preflight.Snapshot{Facts: facts, Render: preflight.RenderTarget(p.Env, p.Renderer, ch.Target)})
	if r := preflight.Refusal(ch, findings); r != nil {
		return "", r
	}
	return "Pre-flight: " + preflight.Condition(ch, findings).Message + " (offline: the operator also checks the cluster's proxies, namespaces and PodDisruptionBudgets when it makes the change)", nil
}

// decodeCurrent reads the IstioRevisions that run now, as kubectl get prints them (a List too).
func decodeCurrent(objs []*unstructured.Unstructured) ([]*v1.IstioRevision, error) {
	var out []*v1.IstioRevision
	for _, obj := range objs {
		if obj.IsList() {
			items, err := obj.ToList()
			if err != nil {
				return nil, err
			}
			more := make([]*unstructured.Unstructured, len(items.Items))
			for i := range items.Items {
				more[i] = &items.Items[i]
			}
			revs, err := decodeCurrent(more)
			if err != nil {
				return nil, err
			}
			out = append(out, revs...)
			continue
		}
		if obj.GetKind() != v1.KindIstioRevision || !strings.HasPrefix(obj.GetAPIVersion(), "sailoperator.io/") {
			return nil, fmt.Errorf("--current: %s %s: it takes the running sailoperator.io IstioRevisions (kubectl get istiorevisions -o yaml)", obj.GetKind(), obj.GetName())
		}
		rev := &v1.IstioRevision{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, rev); err != nil {
			return nil, fmt.Errorf("--current: IstioRevision %s: %w", obj.GetName(), err)
		}
		out = append(out, rev)
	}
	return out, nil
}

// DecodeCurrent sets Current from the manifests of the IstioRevisions that run now.
func (p *Planner) DecodeCurrent(objs []*unstructured.Unstructured) error {
	revs, err := decodeCurrent(objs)
	p.Current = revs
	return err
}

// decodeZTunnel reads a v1 ZTunnel, or a deprecated v1alpha1 one as the API server serves it as v1:
// without spec.profile, which has no effect. The note says so.
func decodeZTunnel(obj *unstructured.Unstructured) (*v1.ZTunnel, string, error) {
	zt := &v1.ZTunnel{}
	if obj.GetAPIVersion() != "sailoperator.io/v1alpha1" {
		return zt, "", fromUnstructured(obj, zt)
	}
	// The input was checked against the v1alpha1 schema already (schemacheck); as the API server
	// serves it as v1, it only loses spec.profile.
	converted := obj.DeepCopy()
	converted.SetAPIVersion(v1.GroupVersion.String())
	unstructured.RemoveNestedField(converted.Object, "spec", "profile")
	if err := fromUnstructured(converted, zt); err != nil {
		return nil, "", err
	}
	return zt, "sailoperator.io/v1alpha1 ZTunnel is deprecated: use sailoperator.io/v1 and remove spec.profile (ztunnel always uses the ambient profile)", nil
}

func fromUnstructured(obj *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, into, true)
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := values.FromObject(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}
