package versionpolicy

import (
	"context"
	"errors"
	"testing"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
)

// TestProbesPassTheCRDsAndAskEachPolicy: Install waits until each probe gets the answer its policy
// gives. A probe the CRD refused, or one no policy refuses, would never get it and would hold the
// operator's start-up until the timeout; so each probe passes bosun's CRDs, each validating probe is
// refused in exactly the words it waits for, and each defaulting probe gets the catalog's default.
func TestProbesPassTheCRDsAndAskEachPolicy(t *testing.T) {
	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := schemacheck.New(crds)
	if err != nil {
		t.Fatal(err)
	}
	vendor, err := catalog.Load("testdata/vendor-versions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*catalog.Catalog{catalog.Embedded(), vendor} {
		refusing, defaulting := map[string]bool{}, map[string]bool{}
		for _, p := range probes(c) {
			gvk := p.obj.GroupVersionKind()
			what := gvk.Version + " " + gvk.Kind
			obj := p.obj.DeepCopy()
			if gvk.Kind == "Istio" {
				obj.SetName("probe") // the API server names it from generateName
			}
			checked, err := checker.Check(context.Background(), obj)
			if err != nil {
				t.Errorf("the CRD refuses the probe of %s (%s): %v", p.policy, what, err)
				continue
			}
			err = Admit(c, checked)
			if p.want != "" {
				refusing[p.policy] = true
				var refused *RefusedError
				if !errors.As(err, &refused) || refused.Message != p.want {
					t.Errorf("the probe of %s (%s): Admit = %v, want the refusal %q", p.policy, what, err, p.want)
				}
				continue
			}
			defaulting[what] = true
			if err != nil || versionOf(checked.Object) != c.Default() {
				t.Errorf("the probe of %s (%s): Admit = %v with version %q, want the default %s", p.policy, what, err, versionOf(checked.Object), c.Default())
			}
		}
		for _, policy := range []string{IstioPolicy, ZTunnelPolicy, RevisionPolicy} {
			if !refusing[policy] {
				t.Errorf("no probe asks %s", policy)
			}
		}
		for _, what := range []string{"v1 Istio", "v1 IstioCNI", "v1 ZTunnel", "v1alpha1 ZTunnel"} {
			if !defaulting[what] {
				t.Errorf("no probe asks for the default of a %s", what)
			}
		}
	}
}

func versionOf(obj map[string]any) string {
	spec, _ := obj["spec"].(map[string]any)
	v, _ := spec["version"].(string)
	return v
}
