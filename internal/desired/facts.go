package desired

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Facts are what bosun knows of the cluster when it decides: its sailoperator.io resources, and which
// namespaces exist. The operator reads them from its cache (Read) before every decision; `bosun render`
// makes them from the manifests it was given (FromManifests). Both then decide with the same functions,
// so what render prints is what the operator applies, and what render refuses the operator refuses.
//
// Facts are a snapshot: a decision never reads the cluster, so it can never fail for a transient
// reason. A failure to read the cluster happens in Read, before anything is decided, and is retried.
// Decisions never change Facts.
type Facts struct {
	Istios    map[string]*v1.Istio
	Revisions map[string]*v1.IstioRevision
	Tags      map[string]*v1.IstioRevisionTag
	// CNI and ZTunnel are the node agents named default, or nil when there is none.
	CNI     *v1.IstioCNI
	ZTunnel *v1.ZTunnel
	// Namespaces are the namespaces Read was asked about, by name; one missing from the map does not
	// exist. Nil means that which namespaces exist is not known (render, offline): every namespace is
	// taken to exist.
	Namespaces map[string]Namespace
	// AllNamespaces are the labels of every namespace not being deleted, by name, when a decision needs
	// them (the scope of meshes, Scope) and ReadAllNamespaces read them; nil when they were not read.
	AllNamespaces map[string]labels.Set
}

// Namespace is what decisions read of a namespace.
type Namespace struct {
	// Terminating is true while the namespace is being deleted.
	Terminating bool
}

// SortedRevisions returns the revisions by name, so that decisions over all of them are repeatable.
func (f *Facts) SortedRevisions() []*v1.IstioRevision {
	out := make([]*v1.IstioRevision, 0, len(f.Revisions))
	for _, rev := range f.Revisions {
		out = append(out, rev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Resolve is the revision a name in an istio.io/rev label stands for: the revision of that name, or the
// one the tag of that name points at; "" when it names neither.
func (f *Facts) Resolve(name string) string {
	if tag := f.Tags[name]; tag != nil {
		return tag.Status.IstioRevision
	}
	if _, ok := f.Revisions[name]; ok {
		return name
	}
	return ""
}

// SortedTags returns the tags by name.
func (f *Facts) SortedTags() []*v1.IstioRevisionTag {
	out := make([]*v1.IstioRevisionTag, 0, len(f.Tags))
	for _, tag := range f.Tags {
		out = append(out, tag)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// namespaceRefusal refuses a resource whose namespace does not exist or is being deleted; what names
// what bosun installs there, for the message.
func (f *Facts) namespaceRefusal(name, what string) *Refusal {
	if f.Namespaces == nil {
		return nil
	}
	ns, ok := f.Namespaces[name]
	switch {
	case !ok:
		return refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s does not exist: create it (kubectl create namespace %s); bosun installs %s as soon as it exists", name, name, what))
	case ns.Terminating:
		return refuse(v1.ReasonNamespaceNotFound, fmt.Errorf("namespace %s is being deleted: wait for it to be gone and create it again", name))
	}
	return nil
}

// Read reads the facts from the operator's cache: every Istio, IstioRevision and IstioRevisionTag,
// the IstioCNI and ZTunnel named default, and whether each of the given namespaces exists. An error
// is a failure to read, worth retrying; it never stands for an answer.
func Read(ctx context.Context, reader client.Reader, namespaces ...string) (*Facts, error) {
	f := &Facts{
		Istios:     map[string]*v1.Istio{},
		Revisions:  map[string]*v1.IstioRevision{},
		Tags:       map[string]*v1.IstioRevisionTag{},
		Namespaces: map[string]Namespace{},
	}
	var istios v1.IstioList
	if err := reader.List(ctx, &istios); err != nil {
		return nil, fmt.Errorf("listing Istios: %w", err)
	}
	for i := range istios.Items {
		f.Istios[istios.Items[i].Name] = &istios.Items[i]
	}
	var revs v1.IstioRevisionList
	if err := reader.List(ctx, &revs); err != nil {
		return nil, fmt.Errorf("listing IstioRevisions: %w", err)
	}
	for i := range revs.Items {
		f.Revisions[revs.Items[i].Name] = &revs.Items[i]
	}
	var tags v1.IstioRevisionTagList
	if err := reader.List(ctx, &tags); err != nil {
		return nil, fmt.Errorf("listing IstioRevisionTags: %w", err)
	}
	for i := range tags.Items {
		f.Tags[tags.Items[i].Name] = &tags.Items[i]
	}
	cni := &v1.IstioCNI{}
	switch err := reader.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, cni); {
	case err == nil:
		f.CNI = cni
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading IstioCNI %s: %w", v1.SingletonName, err)
	}
	zt := &v1.ZTunnel{}
	switch err := reader.Get(ctx, client.ObjectKey{Name: v1.SingletonName}, zt); {
	case err == nil:
		f.ZTunnel = zt
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading ZTunnel %s: %w", v1.SingletonName, err)
	}
	for _, name := range namespaces {
		ns := &metav1.PartialObjectMetadata{}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		switch err := reader.Get(ctx, client.ObjectKey{Name: name}, ns); {
		case err == nil:
			f.Namespaces[name] = Namespace{Terminating: !ns.DeletionTimestamp.IsZero()}
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading namespace %s: %w", name, err)
		}
	}
	return f, nil
}

// ReadAllNamespaces reads the labels of every namespace not being deleted into AllNamespaces. The
// operator's cache keeps only the injection labels of namespaces, so reader is the API server's
// (metadata only); only Scope needs them, so only the Istio controller reads them, and only while
// several meshes run.
func (f *Facts) ReadAllNamespaces(ctx context.Context, reader client.Reader) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := reader.List(ctx, list); err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	f.AllNamespaces = make(map[string]labels.Set, len(list.Items))
	for _, ns := range list.Items {
		if ns.DeletionTimestamp.IsZero() {
			f.AllNamespaces[ns.Name] = ns.Labels
		}
	}
	return nil
}

// Manifests are the sailoperator.io resources `bosun render` was given, decoded and checked as the
// API server would store them.
type Manifests struct {
	Istios    []*v1.Istio
	Revisions []*v1.IstioRevision
	Tags      []*v1.IstioRevisionTag
	CNIs      []*v1.IstioCNI
	ZTunnels  []*v1.ZTunnel
}

// FromManifests makes the facts of the cluster the manifests would make once applied: their Istios
// and IstioRevisions, the revision each Istio creates, and their node agents. Two revisions of one
// name (two Istios that map to the same revision, or an Istio's revision and one given) would be
// applied over each other, and are refused, as is an Istio whose revision cannot be decided.
//
// The tags given are left out: a revision and a tag of one name are settled by which is older, and
// manifests not yet applied have no age. The revision keeps the name, as it would if the manifests
// were applied in the order render prints them (control planes first). Which namespaces exist is not
// known offline (Namespaces is nil).
func (e Env) FromManifests(m Manifests) (*Facts, error) {
	f := &Facts{Istios: map[string]*v1.Istio{}, Revisions: map[string]*v1.IstioRevision{}, Tags: map[string]*v1.IstioRevisionTag{}}
	add := func(rev *v1.IstioRevision, from string) error {
		if _, dup := f.Revisions[rev.Name]; dup {
			return fmt.Errorf("%s: the input already has an IstioRevision named %s (an Istio's revision or one given directly); rename one of them", from, rev.Name)
		}
		f.Revisions[rev.Name] = rev
		return nil
	}
	for _, istio := range m.Istios {
		f.Istios[istio.Name] = istio
		rev, refusal := e.RevisionOf(istio)
		if refusal != nil {
			return nil, fmt.Errorf("%s %s: %w", v1.KindIstio, istio.Name, refusal)
		}
		yes := true
		rev.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: istio.Name, UID: istio.UID, Controller: &yes}}
		if err := add(rev, v1.KindIstio+" "+istio.Name); err != nil {
			return nil, err
		}
	}
	for _, rev := range m.Revisions {
		if err := add(rev, v1.KindIstioRevision+" "+rev.Name); err != nil {
			return nil, err
		}
	}
	for _, cni := range m.CNIs {
		if cni.Name == v1.SingletonName {
			f.CNI = cni
		}
	}
	for _, zt := range m.ZTunnels {
		if zt.Name == v1.SingletonName {
			f.ZTunnel = zt
		}
	}
	return f, nil
}
