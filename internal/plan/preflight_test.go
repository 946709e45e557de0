package plan_test

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
)

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
)

// TestPlanChecksTheVersionChange: with Preflight (`bosun render --plan`), an Istio's version change
// from its revisions in Current is checked as the operator checks it: a node agent of the input the new
// version does not support, and values its charts refuse, refuse it with what to fix (as the operator
// would); a change that passes is rendered, with a note that says what was checked; without the running
// revisions there is nothing to check, and the note says what to add.
func TestPlanChecksTheVersionChange(t *testing.T) {
	istio := func(strategy, version, values string) string {
		return `apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  version: ` + version + `
  namespace: istio-system
  updateStrategy: {type: ` + strategy + `}
  values: ` + values
	}
	cni := func(version string) string {
		return `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata: {name: default}
spec: {version: ` + version + `, namespace: istio-cni}`
	}
	running := func(name, version string) *v1.IstioRevision {
		rev := &v1.IstioRevision{Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version), Namespace: "istio-system"}}
		rev.Name = name
		yes := true
		rev.OwnerReferences = append(rev.OwnerReferences, metaOwner("default", &yes))
		return rev
	}
	const usesCNI = `{pilot: {cni: {enabled: true}}}`
	for _, c := range []struct {
		name    string
		input   []string
		current []*v1.IstioRevision
		refused string
		note    string
	}{
		{"RevisionBased, the CNI two minors behind", []string{istio("RevisionBased", v127, usesCNI), cni(v125)},
			[]*v1.IstioRevision{running("default-v1-25-0-snapshot-be4b14ad", v125)},
			"the change from " + v125 + " to " + v127 + " is refused until its pre-flight checks pass; nothing of it was applied and IstioRevision default-v1-25-0-snapshot-be4b14ad keeps serving " + v125 + ": IstioCNI default runs Istio 1.25", ""},
		{"RevisionBased, the CNI updated with it", []string{istio("RevisionBased", v127, usesCNI), cni(v127)},
			[]*v1.IstioRevision{running("default-v1-25-0-snapshot-be4b14ad", v125)},
			"", "Pre-flight: the change from " + v125 + " to " + v127 + " was checked before it was made: nothing found"},
		{"InPlace, values 1.27's charts refuse", []string{istio("InPlace", v127, `{compatibilityVersion: "1.23"}`)},
			[]*v1.IstioRevision{running("default", v125)},
			"the charts of " + v127 + " refuse the Istio's values: rendering the istiod chart of Istio " + v127 + ": execution error at (istiod/templates/zzz_profile.yaml:38:3): unknown compatibility version 1.23", ""},
		{"no running revision given", []string{istio("RevisionBased", v127, usesCNI), cni(v127)}, nil,
			"", "Pre-flight: no IstioRevision of this Istio in --current, so no version change to check"},
		{"no version change", []string{istio("InPlace", v127, `{}`)}, []*v1.IstioRevision{running("default", v127)},
			"", "Pre-flight: the version does not change (" + v127 + ")"},
	} {
		p := *newPlanner(t)
		p.Preflight, p.Current = true, c.current
		if strings.Contains(c.name, "InPlace") && strings.Contains(c.name, "values") {
			// 1.25 to 1.27 skips a minor version: the owner allows it, so that the values are what is checked.
			c.input[0] = strings.Replace(c.input[0], "metadata: {name: default}", "metadata: {name: default, annotations: {"+desired.AnnotationAllowMinorSkip+": \"true\"}}", 1)
		}
		planned, err := p.Plan(manifests(t, c.input...))
		var refusal *desired.Refusal
		switch {
		case c.refused != "":
			if !errors.As(err, &refusal) || refusal.Reason != v1.ReasonPreflightFailed || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("%s: error %v, want a %s refusal saying %q", c.name, err, v1.ReasonPreflightFailed, c.refused)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		default:
			var notes []string
			for _, pl := range planned {
				if pl.Source == "Istio default" {
					notes = pl.Notes
				}
			}
			if len(notes) == 0 || !strings.HasPrefix(notes[0], c.note) {
				t.Errorf("%s: notes %q, want one that starts %q", c.name, notes, c.note)
			}
		}
	}
}

func metaOwner(istio string, controller *bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: istio, Controller: controller}
}
