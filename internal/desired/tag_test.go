package desired

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestForTag: a tag renders its webhook (and, named default, the default validator) for the revision
// its targetRef resolves to, in that revision's namespace; it is refused when an older revision holds
// its name, when its target is missing, and when its target is a remote revision.
func TestForTag(t *testing.T) {
	remote := "remote"
	remoteRev := revision("far", v127, 1)
	remoteRev.Spec.Values = &v1.Values{Profile: &remote}
	inMesh := revision("mesh-rev", v127, 1)
	inMesh.Spec.Namespace = "mesh"
	cases := []struct {
		name      string
		tag       *v1.IstioRevisionTag
		objs      []any
		reason    string
		charts    []string
		namespace string
	}{
		{"a tag", tagOf("canary", v1.KindIstioRevision, "prod", 10), []any{revision("prod", v127, 1)}, "", []string{render.ChartIstiod}, DefaultIstioNamespace},
		{"the default tag also renders the default validator", tagOf("default", v1.KindIstioRevision, "prod", 10), []any{revision("prod", v127, 1)},
			"", []string{render.ChartIstiod, render.ChartBase}, DefaultIstioNamespace},
		{"its objects go where the revision runs", tagOf("canary", v1.KindIstioRevision, "mesh-rev", 10), []any{inMesh}, "", []string{render.ChartIstiod}, "mesh"},
		{"an older revision holds its name", tagOf("prod", v1.KindIstioRevision, "prod", 10), []any{revision("prod", v127, 1)}, v1.ReasonNameAlreadyExists, nil, ""},
		{"a newer revision of its name", tagOf("prod", v1.KindIstioRevision, "other", 1), []any{revision("prod", v127, 10), revision("other", v127, 1)},
			"", []string{render.ChartIstiod}, DefaultIstioNamespace},
		{"a target that does not exist", tagOf("canary", v1.KindIstioRevision, "nope", 10), nil, v1.ReasonRefNotFound, nil, ""},
		{"a remote target", tagOf("canary", v1.KindIstioRevision, "far", 10), []any{remoteRev}, v1.ReasonReconcileError, nil, ""},
		{"an Istio whose revision is not created yet", tagOf("canary", v1.KindIstio, "prod", 10), []any{istio("prod", "", v127)}, "waiting:" + v1.ReasonRefNotFound, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := testEnv().ForTag(tc.tag, facts(nil, tc.objs...))
			if got := reasonOf(plan.Refusal); got != tc.reason {
				t.Fatalf("refusal %q (%v), want %q", got, plan.Refusal, tc.reason)
			}
			var charts []string
			for _, req := range plan.Charts {
				charts = append(charts, req.Chart)
				if req.Namespace != tc.namespace || req.Owner != (render.Owner{Kind: v1.KindIstioRevisionTag, Name: tc.tag.Name}) {
					t.Errorf("request %+v, want namespace %s and owner IstioRevisionTag %s", req, tc.namespace, tc.tag.Name)
				}
			}
			if strings.Join(charts, ",") != strings.Join(tc.charts, ",") {
				t.Errorf("charts %v, want %v", charts, tc.charts)
			}
		})
	}
	plan := testEnv().ForTag(tagOf("canary", v1.KindIstioRevision, "far", 10), facts(nil, remoteRev))
	if plan.Refusal == nil || !strings.Contains(plan.Refusal.Error(), "a tag cannot point at a remote revision") {
		t.Errorf("the refusal of a remote target does not say why: %v", plan.Refusal)
	}
	var conflict *NameConflictError
	plan = testEnv().ForTag(tagOf("prod", v1.KindIstioRevision, "prod", 10), facts(nil, revision("prod", v127, 1)))
	if !errors.As(errOf(plan.Refusal), &conflict) || conflict.Holder != v1.KindIstioRevision {
		t.Errorf("the refusal %v does not name the revision holding the name", plan.Refusal)
	}
}

// TestTagValues: the tag's webhook carries the tag's name, and the default validator points at the
// revision; the base chart does not get the tag list.
func TestTagValues(t *testing.T) {
	plan := testEnv().ForTag(tagOf("default", v1.KindIstioRevision, "default-v1-27-0", 10), facts(nil, revision("default-v1-27-0", v127, 1)))
	if plan.Refusal != nil || len(plan.Charts) != 2 {
		t.Fatalf("plan %+v", plan)
	}
	if tags, _ := values.Get(plan.Charts[0].Values, "revisionTags"); len(tags.([]any)) != 1 || tags.([]any)[0] != "default" {
		t.Errorf("revisionTags = %v", tags)
	}
	if got, _ := values.Get(plan.Charts[1].Values, "defaultRevision"); got != "default-v1-27-0" {
		t.Errorf("base defaultRevision = %v, want the tag's revision", got)
	}
	if _, ok := plan.Charts[1].Values["revisionTags"]; ok {
		t.Errorf("the base chart got revisionTags")
	}
}
