package desired

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// Several meshes in one cluster are kept apart by their discovery selectors
// (spec.values.meshConfig.discoverySelectors): each istiod discovers, and writes its root certificate
// into, only the namespaces its selectors select, every namespace when it has none. Two meshes that
// discover one namespace both program its workloads and both write its istio-ca-root-cert, and a
// namespace whose labels inject one mesh's proxies while another mesh discovers it has its workloads
// configured by a control plane that did not inject them. Scope says where that happens; bosun reports
// it and changes nothing (docs/architecture.md#lesson-mesh-scope).

// ScopeConflict is one namespace that an Istio and at least one other Istio claim.
type ScopeConflict struct {
	Namespace string
	// Others are the other Istios that claim it, by name.
	Others []string
	// Why says how each Istio claims the namespace, the Istio's own claim first.
	Why string
}

// Scope lists the namespaces that the Istio and another Istio of this cluster both claim, one entry per
// namespace, by name. An Istio claims a namespace when its discovery selectors select it (any of them;
// all namespaces when it has none), and when the namespace's injection labels (istio.io/rev, or
// istio-injection=enabled for default) name one of its revisions or a tag that resolves to one. Only
// Istios that run an istiod here count (RunsIstiodHere). Without the namespaces' labels
// (Facts.AllNamespaces nil: render, offline) nothing is known and Scope is empty.
func (e Env) Scope(istio *v1.Istio, f *Facts) []ScopeConflict {
	if f.AllNamespaces == nil || !RunsIstiodHere(istio) {
		return nil
	}
	owners := revisionOwners(f)
	self := meshClaims(istio, owners)
	var others []*v1.Istio
	var theirs []claims
	for _, other := range sortedIstios(f) {
		if other.Name != istio.Name && RunsIstiodHere(other) {
			others, theirs = append(others, other), append(theirs, meshClaims(other, owners))
		}
	}
	var out []ScopeConflict
	for _, ns := range sortedNamespaces(f) {
		set := f.AllNamespaces[ns]
		mine, path := self.claims(set)
		if !mine {
			continue
		}
		c := ScopeConflict{Namespace: ns}
		whys := []string{"Istio " + istio.Name + ": " + path}
		for i, other := range others {
			if claimed, path := theirs[i].claims(set); claimed {
				c.Others = append(c.Others, other.Name)
				whys = append(whys, "Istio "+other.Name+": "+path)
			}
		}
		if len(c.Others) > 0 {
			c.Why = strings.Join(whys, "; ")
			out = append(out, c)
		}
	}
	return out
}

// ScopeMessage says what a list of conflicts means and what to change, naming at most a few namespaces.
func ScopeMessage(conflicts []ScopeConflict) string {
	const shown = 5
	var parts []string
	for i, c := range conflicts {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(conflicts)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("namespace %s (%s)", c.Namespace, c.Why))
	}
	what := fmt.Sprintf("%d namespaces are", len(conflicts))
	if len(conflicts) == 1 {
		what = "1 namespace is"
	}
	return fmt.Sprintf("%s claimed by more than one mesh: %s. Give each mesh discovery selectors (spec.values.meshConfig.discoverySelectors) that select only its own namespaces, and label each namespace for one mesh only; bosun changes nothing until then",
		what, strings.Join(parts, "; "))
}

// RunsIstiodHere reports whether an Istio's istiod discovers this cluster's namespaces: it is not being
// deleted, and is not a remote control plane (IsRemote), whose istiod runs in another cluster.
func RunsIstiodHere(istio *v1.Istio) bool {
	return istio.DeletionTimestamp.IsZero() && !remote(istio.Spec.Profile, istio.Spec.Values)
}

// Discovers reports whether the Istio's istiod discovers a namespace with these labels: every namespace
// when it has no discovery selectors, else those its selectors select. A selector bosun cannot parse
// selects nothing, so nothing is done to a namespace istiod may not discover.
func Discovers(istio *v1.Istio, set labels.Set) bool {
	c := meshClaims(istio, nil)
	if c.all {
		return true
	}
	for _, s := range c.selectors {
		if s.Matches(set) {
			return true
		}
	}
	return false
}

// claims is how one Istio claims namespaces: its discovery selectors (nil: all namespaces) and the
// names (revisions and tags) whose injection labels are its.
type claims struct {
	selectors []labels.Selector
	all       bool
	names     map[string]bool
}

// meshClaims reads an Istio's claims. A selector the labels package cannot parse (one stored before
// the API checked selectors, or with a matchLabels key that is not a label key) is left out: bosun
// cannot tell what istiod makes of it.
func meshClaims(istio *v1.Istio, owners map[string]string) claims {
	c := claims{names: map[string]bool{}}
	for name, owner := range owners {
		if owner == istio.Name {
			c.names[name] = true
		}
	}
	v := istio.Spec.Values
	if v == nil || v.MeshConfig == nil || len(v.MeshConfig.DiscoverySelectors) == 0 {
		c.all = true
		return c
	}
	for i := range v.MeshConfig.DiscoverySelectors {
		if s, err := v.MeshConfig.DiscoverySelectors[i].Selector(); err == nil {
			c.selectors = append(c.selectors, s)
		}
	}
	return c
}

// Paths of a claim, for the message.
const (
	byAllNamespaces = "has no discovery selectors, so it discovers every namespace"
	bySelector      = "its discovery selectors select it"
)

// claims reports whether the Istio claims a namespace with these labels, and how.
func (c claims) claims(set labels.Set) (bool, string) {
	if name, _ := inuse.NamespaceReference(set); name != "" && c.names[name] {
		return true, "the namespace's injection labels name " + name
	}
	if c.all {
		return true, byAllNamespaces
	}
	for _, s := range c.selectors {
		if s.Matches(set) {
			return true, bySelector
		}
	}
	return false, ""
}

// revisionOwners maps every revision and tag name a namespace label can hold to the Istio whose
// revision it injects: a revision to its controlling Istio; a tag whose targetRef names an Istio to
// that Istio, even while the revision its spec asks for is not created yet (during a RevisionBased
// update, say); a tag that names an IstioRevision to that revision's Istio.
func revisionOwners(f *Facts) map[string]string {
	owners := map[string]string{}
	for name, rev := range f.Revisions {
		if ref := metav1.GetControllerOf(rev); ref != nil && ref.Kind == v1.KindIstio {
			owners[name] = ref.Name
		}
	}
	for _, tag := range f.SortedTags() {
		ref := tag.Spec.TargetRef
		switch {
		case ref.Kind == v1.KindIstio && f.Istios[ref.Name] != nil:
			owners[tag.Name] = ref.Name
		case ref.Kind != v1.KindIstio:
			if owner, ok := owners[ref.Name]; ok {
				owners[tag.Name] = owner
			}
		}
	}
	return owners
}

func sortedIstios(f *Facts) []*v1.Istio {
	out := make([]*v1.Istio, 0, len(f.Istios))
	for _, istio := range f.Istios {
		out = append(out, istio)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedNamespaces(f *Facts) []string {
	out := make([]string, 0, len(f.AllNamespaces))
	for ns := range f.AllNamespaces {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}
