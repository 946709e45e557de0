package desired

import (
	"fmt"
	"math"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
)

// revisionName is a name or label value Istio's istiod chart derives from a revision name, and the
// rule of apimachinery the API server checks it with.
type revisionName struct {
	// what says what carries the name, for messages.
	what string
	// of derives the name from a revision name.
	of func(revision string) string
	// max is the most characters Kubernetes allows it, and valid apimachinery's whole check of it.
	max   int
	valid func(string) []string
}

// revisionNames are the names the istiod chart derives from a revision name that Kubernetes limits to
// 63 characters. Every other name it derives (the Deployment, ServiceAccount, ConfigMaps,
// HorizontalPodAutoscaler, PodDisruptionBudget, webhook configurations: DNS subdomains of up to 253
// characters; ClusterRoles and bindings: path segments) is shorter than its limit whenever these fit.
// The istiod Service and the release labels add the most, 7 characters each, so a revision name may
// hold 56. Names the chart adds only for some values (the "-remote" Service of a remote control plane
// with a local injector) are left to the check of every rendered object in internal/render.
var revisionNames = []revisionName{
	{
		what: "istiod's Service", of: func(rev string) string { return "istiod-" + rev },
		max: validation.DNS1035LabelMaxLength, valid: validation.IsDNS1035Label,
	},
	{
		what: "the release and app.kubernetes.io/instance labels of istiod's objects",
		of:   func(rev string) string { return releaseName(rev, render.ChartIstiod) },
		max:  validation.LabelValueMaxLength, valid: validation.IsValidLabelValue,
	},
	{
		what: "the istio.io/rev label", of: func(rev string) string { return rev },
		max: validation.LabelValueMaxLength, valid: validation.IsValidLabelValue,
	},
}

// revisionNameLimit is the longest revision name whose derived names all fit, and the derived name
// that sets it.
func revisionNameLimit() (int, revisionName) {
	limit, by := math.MaxInt, revisionNames[0]
	for _, n := range revisionNames {
		if l := n.max - len(n.of("")); l < limit {
			limit, by = l, n
		}
	}
	return limit, by
}

// maxRevisionName is the longest revision name, and revisionNameLimitedBy the derived name that sets
// it: a longer revision name makes a name the API server refuses.
var maxRevisionName, revisionNameLimitedBy = revisionNameLimit()

// RevisionNameTooLongError says that an Istio's revision name would make a name longer than Kubernetes
// allows.
type RevisionNameTooLongError struct {
	// Istio is the Istio's name and Revision the revision name it maps to.
	Istio, Revision string
	// What carries Derived, the name made from the revision name, which may hold Max characters.
	What, Derived string
	Max           int
	// MaxIstioName is the longest Istio name whose revision name fits, for this version and strategy.
	MaxIstioName int
}

func (e *RevisionNameTooLongError) Error() string {
	return fmt.Sprintf("the revision name %s makes %s %s, %d characters, and Kubernetes allows %d: shorten the Istio's name %q to at most %d characters",
		e.Revision, e.What, e.Derived, len(e.Derived), e.Max, e.Istio, e.MaxIstioName)
}

// InvalidRevisionNameError says that an Istio's revision name makes a name the API server refuses for
// what it holds rather than its length, such as a dot in a Service name.
type InvalidRevisionNameError struct {
	Istio, Revision string
	// What carries Derived, the name made from the revision name, and Problems are apimachinery's
	// reasons to refuse it.
	What, Derived string
	Problems      []string
}

func (e *InvalidRevisionNameError) Error() string {
	return fmt.Sprintf("the revision name %s makes %s %s, which Kubernetes refuses: %s; rename the Istio %q",
		e.Revision, e.What, e.Derived, strings.Join(e.Problems, "; "), e.Istio)
}

// checkRevisionName refuses a revision name whose derived names the API server would refuse.
func checkRevisionName(istio, revision string) error {
	if len(revision) > maxRevisionName {
		by := revisionNameLimitedBy
		return &RevisionNameTooLongError{
			Istio: istio, Revision: revision, What: by.what, Derived: by.of(revision), Max: by.max,
			MaxIstioName: maxRevisionName - (len(revision) - len(istio)),
		}
	}
	for _, n := range revisionNames {
		if problems := n.valid(n.of(revision)); len(problems) > 0 {
			return &InvalidRevisionNameError{Istio: istio, Revision: revision, What: n.what, Derived: n.of(revision), Problems: problems}
		}
	}
	return nil
}

// releaseName is the release name (.Release.Name) a revision's chart is rendered with.
func releaseName(revision, chart string) string {
	return revision + "-" + chart
}

// NameConflictError says that an IstioRevision and an IstioRevisionTag share a name and that the
// other one keeps it. Workloads select revisions and tags by the same istio.io/rev label, and a revision
// and a tag named default would both render the default validator, so only one of them may act: the
// older (TagHoldsName).
type NameConflictError struct {
	// Kind is the kind of the resource refused, Holder the kind of the older one that keeps Name.
	Kind, Holder, Name string
	// Istio, when set, is the Istio whose revision is refused: the resource its user wrote.
	Istio string
}

func (e *NameConflictError) Error() string {
	if e.Istio != "" {
		return fmt.Sprintf("the revision of Istio %s would be named %s, and an %s named %s already exists and is older: a revision and a tag cannot share a name, since workloads select both with istio.io/rev=%s; rename Istio %s, or delete the %s",
			e.Istio, e.Name, e.Holder, e.Name, e.Name, e.Istio, e.Holder)
	}
	return fmt.Sprintf("an %s named %s already exists and is older: a revision and a tag cannot share a name, since workloads select both with istio.io/rev=%s; rename this %s, or delete the %s",
		e.Holder, e.Name, e.Name, e.Kind, e.Holder)
}

// TagHoldsName reports whether a tag keeps a name against an IstioRevision of the same name: only when
// the tag was created in an earlier second than the revision, or the revision is not created yet (an
// Istio's revision about to be made). The API server keeps creation times in whole seconds; within one
// second the revision keeps the name, whichever came first, so that the answer never depends on a
// tie-break nobody can see, and is the one `bosun render` gives for manifests applied together
// (their control planes first). A tag not created yet (a manifest given to render) holds nothing.
func TagHoldsName(tag, rev metav1.Object) bool {
	tt, tr := tag.GetCreationTimestamp(), rev.GetCreationTimestamp()
	switch {
	case tt.IsZero():
		return false
	case tr.IsZero():
		return true
	}
	return tt.Before(&tr)
}

// tagNameRefusal refuses a tag when an IstioRevision of the same name keeps the name (TagHoldsName).
func tagNameRefusal(tag *v1.IstioRevisionTag, f *Facts) *Refusal {
	if rev := f.Revisions[tag.Name]; rev != nil && !TagHoldsName(tag, rev) {
		return refuse(v1.ReasonNameAlreadyExists, &NameConflictError{Kind: v1.KindIstioRevisionTag, Holder: v1.KindIstioRevision, Name: tag.Name})
	}
	return nil
}

// revisionNameRefusal refuses a revision when an IstioRevisionTag of the same name keeps the name
// (TagHoldsName): a revision not created yet yields to any tag.
func revisionNameRefusal(rev *v1.IstioRevision, f *Facts) *Refusal {
	if tag := f.Tags[rev.Name]; tag != nil && TagHoldsName(tag, rev) {
		return refuse(v1.ReasonNameAlreadyExists, &NameConflictError{Kind: v1.KindIstioRevision, Holder: v1.KindIstioRevisionTag, Name: rev.Name})
	}
	return nil
}
