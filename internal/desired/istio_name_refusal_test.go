package desired

import (
	"strings"
	"testing"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// TestIstioRefusedForATagsNameSaysWhatToRename: an Istio whose revision name an older tag holds is
// refused with a message that tells the Istio's user what to change: the Istio (its name, or its
// version under RevisionBased) or the tag; not "this IstioRevision", which the user never wrote.
func TestIstioRefusedForATagsNameSaysWhatToRename(t *testing.T) {
	plan := testEnv().ForIstio(istio("default", v1.UpdateStrategyInPlace, v127), facts(nil, tagOf("default", v1.KindIstioRevision, "x", 5)))
	if plan.Refusal == nil || plan.Refusal.Reason != v1.ReasonNameAlreadyExists {
		t.Fatalf("refusal %v, want NameAlreadyExists", plan.Refusal)
	}
	if msg := plan.Refusal.Error(); strings.Contains(msg, "rename this IstioRevision") || !strings.Contains(msg, "Istio default") {
		t.Errorf("the Istio's refusal says %q: it tells the user to rename an IstioRevision they did not write, and does not name the Istio", msg)
	}
}
