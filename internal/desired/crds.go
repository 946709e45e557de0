package desired

import (
	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// CRDOwner is what Istio's CRDs are labelled as belonging to: bosun itself, not one resource, since
// every control plane uses them.
var CRDOwner = render.Owner{Kind: "Bosun", Name: "istio-crds"}

// ForCRDs decides which chart Istio's CRDs come from: the base chart of the newest version any
// IstioRevision uses, so CRDs move forward with the newest control plane and never back (DESIGN
// decision 7). Versions the catalog does not know are passed over: their revisions are refused on
// their own, and must not hold the other control planes' CRDs back. ok is false when no version is
// left. Only the chart's CRDs are meant to be applied from it.
func (e Env) ForCRDs(f *Facts) (req render.Request, ok bool) {
	var newest catalog.Version
	for _, rev := range f.SortedRevisions() {
		v, _, err := e.resolve(string(rev.Spec.Version))
		if err != nil {
			continue
		}
		if newest.Semver == nil || v.Semver.GreaterThan(newest.Semver) {
			newest = v
		}
	}
	if newest.Semver == nil {
		return render.Request{}, false
	}
	return render.Request{
		Version: newest.Name, Chart: render.ChartBase, Namespace: DefaultIstioNamespace,
		ReleaseName: "istio-crds", Values: values.Map{}, Owner: CRDOwner,
	}, true
}

// CRDRevisionOf is a revision that runs version, which events about Istio's CRDs are recorded on.
func CRDRevisionOf(version string, f *Facts) *v1.IstioRevision {
	for _, rev := range f.SortedRevisions() {
		if string(rev.Spec.Version) == version {
			return rev
		}
	}
	return nil
}

// CRDsUpToDate reports whether Istio's CRDs of version need no apply once those of applied were
// applied (or found newer): apply never replaces CRDs with an older version's, so when the newest
// version in use goes back to an older one, rendering its CRDs would change nothing.
func (e Env) CRDsUpToDate(version, applied string) bool {
	if applied == "" {
		return false
	}
	if version == applied {
		return true
	}
	v, errV := e.Catalog.Resolve(version)
	a, errA := e.Catalog.Resolve(applied)
	return errV == nil && errA == nil && !v.Semver.GreaterThan(a.Semver)
}
