package desired

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestRevisionNameLimitIsIstiodsService: the longest revision name is 56 characters, set by istiod's
// Service (istiod-<revision>, a DNS-1035 label of 63); the release labels (<revision>-istiod) allow as
// many, and the istio.io/rev label more. A refusal names the Service, so the user knows what is long.
func TestRevisionNameLimitIsIstiodsService(t *testing.T) {
	if maxRevisionName != 56 || revisionNameLimitedBy.what != "istiod's Service" {
		t.Errorf("revision names hold %d characters, limited by %s; want 56, by istiod's Service", maxRevisionName, revisionNameLimitedBy.what)
	}
	for _, n := range revisionNames {
		if derived := n.of(strings.Repeat("r", maxRevisionName)); len(derived) > n.max || len(n.valid(derived)) > 0 {
			t.Errorf("a %d-character revision name makes %s %s, which Kubernetes refuses", maxRevisionName, n.what, derived)
		}
	}
}

// TestOneOfARevisionAndATagOfOneNameActs: of an IstioRevision and an IstioRevisionTag of one name,
// exactly one is refused (NameAlreadyExists), the younger, or on a tie of creation seconds the one of
// the larger UID; an Istio's revision not created yet yields to any tag. The refused one's message
// names the holder and says what to rename or delete.
func TestOneOfARevisionAndATagOfOneNameActs(t *testing.T) {
	withUID := func(rev *v1.IstioRevision, uid types.UID) *v1.IstioRevision { rev.UID = uid; return rev }
	tagWithUID := func(tag *v1.IstioRevisionTag, uid types.UID) *v1.IstioRevisionTag { tag.UID = uid; return tag }
	cases := []struct {
		name string
		rev  *v1.IstioRevision
		tag  *v1.IstioRevisionTag
		// holder is the kind that keeps the name.
		holder string
	}{
		{"the revision is older", revision("prod", v127, 5), tagOf("prod", v1.KindIstioRevision, "x", 10), v1.KindIstioRevision},
		{"the tag is older", revision("prod", v127, 10), tagOf("prod", v1.KindIstioRevision, "x", 5), v1.KindIstioRevisionTag},
		{"same second, the revision's UID smaller", withUID(revision("prod", v127, 5), "a"), tagWithUID(tagOf("prod", v1.KindIstioRevision, "x", 5), "b"), v1.KindIstioRevision},
		{"same second, the tag's UID smaller: the revision still keeps it", withUID(revision("prod", v127, 5), "b"), tagWithUID(tagOf("prod", v1.KindIstioRevision, "x", 5), "a"), v1.KindIstioRevision},
		{"a revision not created yet", revision("prod", v127, 0), tagOf("prod", v1.KindIstioRevision, "x", 5), v1.KindIstioRevisionTag},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := revision("x", v127, 1)
			f := facts([]string{DefaultIstioNamespace}, tc.rev, tc.tag, target)
			revRefusal, tagRefusal := testEnv().ForRevision(tc.rev, f).Refusal, testEnv().ForTag(tc.tag, f).Refusal
			refused, kept, refusal := v1.KindIstioRevisionTag, v1.KindIstioRevision, tagRefusal
			if tc.holder == v1.KindIstioRevisionTag {
				refused, kept, refusal = kept, refused, revRefusal
			}
			if (revRefusal == nil) == (tagRefusal == nil) {
				t.Fatalf("revision refused: %v; tag refused: %v; want exactly one refused", revRefusal, tagRefusal)
			}
			if refusal == nil || refusal.Reason != v1.ReasonNameAlreadyExists {
				t.Fatalf("the %s is not refused for the name: %v", refused, refusal)
			}
			want := "an " + kept + " named prod already exists and is older: a revision and a tag cannot share a name, since workloads select both with istio.io/rev=prod; rename this " +
				refused + ", or delete the " + kept
			if refusal.Error() != want {
				t.Errorf("message %q, want %q", refusal.Error(), want)
			}
		})
	}
}

// TestIstioRevisionOwners: an existing revision of the name an Istio asks for is the Istio's when its
// controller is that Istio: by UID in a cluster, by name for manifests not yet applied (no UIDs). Any
// other controller, an Istio of another name, a former Istio of the same name (another UID), or
// another kind, refuses the Istio with a message naming that owner.
func TestIstioRevisionOwners(t *testing.T) {
	controlledBy := func(kind, name string, uid types.UID) *v1.IstioRevision {
		yes := true
		rev := revision("default", v127, 10)
		rev.OwnerReferences = []metav1.OwnerReference{{APIVersion: "sailoperator.io/v1", Kind: kind, Name: name, UID: uid, Controller: &yes}}
		return rev
	}
	inCluster, inManifests := istio("default", "", v127), istio("default", "", v127)
	inCluster.UID = "uid-now"
	cases := []struct {
		name  string
		istio *v1.Istio
		rev   *v1.IstioRevision
		// owner is the kind and name the refusal names; empty when the revision is the Istio's.
		owner string
	}{
		{"this Istio, by UID", inCluster, controlledBy(v1.KindIstio, "default", "uid-now"), ""},
		{"this Istio, by name, in manifests", inManifests, controlledBy(v1.KindIstio, "default", ""), ""},
		{"this Istio's name, no UID on the reference", inCluster, controlledBy(v1.KindIstio, "default", ""), ""},
		{"a former Istio of the same name", inCluster, controlledBy(v1.KindIstio, "default", "uid-before"), "Istio default"},
		{"another Istio, in manifests", inManifests, controlledBy(v1.KindIstio, "other", ""), "Istio other"},
		{"another kind", inCluster, controlledBy("ServiceMeshControlPlane", "basic", "uid-now"), "ServiceMeshControlPlane basic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := testEnv().ForIstio(tc.istio, facts(nil, tc.rev))
			if tc.owner == "" {
				if plan.Refusal != nil || plan.Existing != tc.rev {
					t.Errorf("refused %v, existing %v; want the revision as the Istio's", plan.Refusal, plan.Existing)
				}
				return
			}
			var conflict *RevisionConflictError
			if plan.Refusal == nil || !errors.As(plan.Refusal, &conflict) {
				t.Fatalf("refusal %v, want a RevisionConflictError", plan.Refusal)
			}
			kind, name, _ := strings.Cut(tc.owner, " ")
			want := "IstioRevision default already exists and belongs to " + tc.owner + ": rename Istio default, or delete the other " + kind
			if plan.Refusal.Error() != want || conflict.OwnerName != name {
				t.Errorf("message %q, want %q", plan.Refusal.Error(), want)
			}
		})
	}
}

// TestCRDEventsGoToARevisionOfTheVersion: Events about Istio's CRDs of a version are recorded on a
// revision that runs it, the same one every time (the first by name), and on none when no revision
// runs it.
func TestCRDEventsGoToARevisionOfTheVersion(t *testing.T) {
	f := facts(nil, revision("zeta", v127, 1), revision("alpha", v127, 1), revision("beta", v125, 1))
	if rev := CRDRevisionOf(v127, f); rev == nil || rev.Name != "alpha" {
		t.Errorf("CRDRevisionOf(%s) = %v, want alpha", v127, rev)
	}
	if rev := CRDRevisionOf(v131, f); rev != nil {
		t.Errorf("CRDRevisionOf(%s) = %s, want none", v131, rev.Name)
	}
}

// TestInPlaceStepBoundaries: a major version change is never one step, even from x.1 to y.0; and when
// the catalog has no version within a minor of the running one, the refusal says to switch to
// RevisionBased instead of offering versions.
func TestInPlaceStepBoundaries(t *testing.T) {
	cat, err := catalog.Parse([]byte(`default: v1.28.0
versions:
  - {name: v1.28.0, module: m, moduleVersion: v0}
  - {name: v1.25.0, module: m, moduleVersion: v0}
`))
	if err != nil {
		t.Fatal(err)
	}
	version := func(name string) catalog.Version {
		v, err := catalog.ParseVersion(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	plain := istio("default", v1.UpdateStrategyInPlace, "")
	if err := CheckInPlaceStep(plain, version("v1.1.0"), version("v2.0.0"), cat); err == nil {
		t.Error("v1.1.0 → v2.0.0 in place allowed, want refused: a major version change")
	}
	err = CheckInPlaceStep(plain, version("v1.25.0"), version("v1.28.0"), cat)
	var skip *MinorSkipError
	if !errors.As(err, &skip) || len(skip.Allowed) != 0 {
		t.Fatalf("v1.25.0 → v1.28.0: %v, want a MinorSkipError with no version to offer", err)
	}
	for _, want := range []string{"Istio default runs v1.25.0 (1.25)", "cannot go to v1.28.0 (1.28) directly",
		"the catalog has no version in those minors: switch updateStrategy.type to RevisionBased", AnnotationAllowMinorSkip} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
}
