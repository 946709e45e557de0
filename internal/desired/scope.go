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

// ScopeConflict is one namespace two meshes both claim.
type ScopeConflict struct {
	Namespace string
	// Other is the other Istio.
	Other string
	// Why says how the two claim the namespace.
	Why string
}

// Scope lists the namespaces that the Istio and another Istio of this cluster both claim, by
// namespace then by the other Istio's name. An Istio claims a namespace when its discovery selectors
// select it (any of them; all namespaces when it has none), and when the namespace's injection labels
// (istio.io/rev, or istio-injection=enabled for default) name one of its revisions or a tag that
// resolves to one. Only Istios that run an istiod here count: not those being deleted, nor those of the
// remote profile, whose namespaces a primary cluster's istiod discovers. Without the namespaces' labels
// (Facts.AllNamespaces nil: render, offline) nothing is known and Scope is empty.
func (e Env) Scope(istio *v1.Istio, f *Facts) []ScopeConflict {
	if f.AllNamespaces == nil || !RunsIstiodHere(istio) {
		return nil
	}
	owners := e.revisionOwners(f)
	self := meshClaims(istio, owners)
	var out []ScopeConflict
	for _, other := range sortedIstios(f) {
		if other.Name == istio.Name || !RunsIstiodHere(other) {
			continue
		}
		theirs := meshClaims(other, owners)
		for _, ns := range sortedNamespaces(f) {
			set := f.AllNamespaces[ns]
			mine, minePath := self.claims(ns, set)
			their, theirPath := theirs.claims(ns, set)
			if mine && their {
				out = append(out, ScopeConflict{Namespace: ns, Other: other.Name, Why: why(istio.Name, minePath, other.Name, theirPath)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
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
	return fmt.Sprintf("%s claimed by two meshes: %s. Give each mesh discovery selectors (spec.values.meshConfig.discoverySelectors) that select only its own namespaces, and label each namespace for one mesh only; bosun changes nothing until then",
		what, strings.Join(parts, "; "))
}

// RunsIstiodHere reports whether an Istio's istiod discovers this cluster's namespaces.
func RunsIstiodHere(istio *v1.Istio) bool {
	return istio.DeletionTimestamp.IsZero() && istio.Spec.Profile != "remote"
}

// claims is how one Istio claims namespaces: its discovery selectors (nil: all namespaces) and the
// names (revisions and tags) whose injection labels are its.
type claims struct {
	selectors []labels.Selector
	all       bool
	names     map[string]bool
}

// meshClaims reads an Istio's claims. A selector the labels package cannot parse (one stored before
// the API checked them) selects nothing: istiod cannot use it either.
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
func (c claims) claims(ns string, set labels.Set) (bool, string) {
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

// why says how two Istios claim one namespace.
func why(self, selfPath, other, otherPath string) string {
	return fmt.Sprintf("Istio %s: %s; Istio %s: %s", self, selfPath, other, otherPath)
}

// revisionOwners maps every revision and tag name a namespace label can hold to the Istio whose
// revision it injects: a revision to its controlling Istio, a tag to the Istio of the revision its spec
// resolves to.
func (e Env) revisionOwners(f *Facts) map[string]string {
	owners := map[string]string{}
	for name, rev := range f.Revisions {
		if ref := metav1.GetControllerOf(rev); ref != nil && ref.Kind == v1.KindIstio {
			owners[name] = ref.Name
		}
	}
	for _, tag := range f.SortedTags() {
		if name, refusal := e.TargetName(tag.Spec.TargetRef, f); refusal == nil {
			if owner, ok := owners[name]; ok {
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
