package desired

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Lookup answers what decisions need to know about other resources: the Istio or IstioRevision a
// targetRef names, whether a revision's name is taken, which versions are in use. The operator asks the
// cluster (Cluster); `bosun render` asks the manifests it was given (Memory), so that both decide alike.
type Lookup interface {
	// Istio returns the named Istio, or nil when there is none.
	Istio(ctx context.Context, name string) (*v1.Istio, error)
	// Revision returns the named IstioRevision, or nil when there is none.
	Revision(ctx context.Context, name string) (*v1.IstioRevision, error)
	// Revisions lists every IstioRevision, by name.
	Revisions(ctx context.Context) ([]*v1.IstioRevision, error)
	// Tag returns the named IstioRevisionTag, or nil when there is none.
	Tag(ctx context.Context, name string) (*v1.IstioRevisionTag, error)
}

// Cluster looks resources up in a cluster, through the operator's cache.
type Cluster struct {
	Reader client.Reader
}

// Istio implements Lookup.
func (c Cluster) Istio(ctx context.Context, name string) (*v1.Istio, error) {
	istio := &v1.Istio{}
	err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, istio)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return istio, err
}

// Revision implements Lookup.
func (c Cluster) Revision(ctx context.Context, name string) (*v1.IstioRevision, error) {
	rev := &v1.IstioRevision{}
	err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, rev)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return rev, err
}

// Tag implements Lookup.
func (c Cluster) Tag(ctx context.Context, name string) (*v1.IstioRevisionTag, error) {
	tag := &v1.IstioRevisionTag{}
	err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, tag)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return tag, err
}

// Revisions implements Lookup.
func (c Cluster) Revisions(ctx context.Context) ([]*v1.IstioRevision, error) {
	var list v1.IstioRevisionList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, err
	}
	out := make([]*v1.IstioRevision, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// Memory is the cluster as it would be once a set of manifests is applied: the Istios and
// IstioRevisions given, and the revision each Istio creates.
type Memory struct {
	istios    map[string]*v1.Istio
	revisions map[string]*v1.IstioRevision
}

// NewMemory computes the revisions of the Istios and adds the revisions given. Two revisions of one
// name (two Istios that map to the same revision, or an Istio's revision and one given) would be applied
// over each other, and are refused.
func (e Env) NewMemory(istios []*v1.Istio, revisions []*v1.IstioRevision) (*Memory, error) {
	m := &Memory{istios: map[string]*v1.Istio{}, revisions: map[string]*v1.IstioRevision{}}
	add := func(rev *v1.IstioRevision, from string) error {
		if _, dup := m.revisions[rev.Name]; dup {
			return fmt.Errorf("%s: the input already has an IstioRevision named %s (an Istio's revision or one given directly); rename one of them", from, rev.Name)
		}
		m.revisions[rev.Name] = rev
		return nil
	}
	for _, istio := range istios {
		m.istios[istio.Name] = istio
		rev, err := e.Revision(istio)
		if err != nil {
			return nil, fmt.Errorf("Istio %s: %w", istio.Name, err)
		}
		yes := true
		rev.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: istio.Name, UID: istio.UID, Controller: &yes}}
		if err := add(rev, "Istio "+istio.Name); err != nil {
			return nil, err
		}
	}
	for _, rev := range revisions {
		if err := add(rev, "IstioRevision "+rev.Name); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Istio implements Lookup.
func (m *Memory) Istio(_ context.Context, name string) (*v1.Istio, error) { return m.istios[name], nil }

// Revision implements Lookup.
func (m *Memory) Revision(_ context.Context, name string) (*v1.IstioRevision, error) {
	return m.revisions[name], nil
}

// Tag implements Lookup. Tags in manifests do not make the cluster of Memory: a tag's name conflict is
// decided for the tag (CheckTagName), which a revision of the same name in the input always precedes.
func (m *Memory) Tag(context.Context, string) (*v1.IstioRevisionTag, error) { return nil, nil }

// Revisions implements Lookup.
func (m *Memory) Revisions(context.Context) ([]*v1.IstioRevision, error) {
	out := make([]*v1.IstioRevision, 0, len(m.revisions))
	for _, rev := range m.revisions {
		out = append(out, rev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
