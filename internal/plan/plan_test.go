package plan_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/plan"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/values"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

var (
	plannerOnce sync.Once
	shared      *plan.Planner
	plannerErr  error
)

// newPlanner is `bosun render`'s planner over the built-in catalog and the fetched charts, built once
// for the package's tests: the schema checker takes a while to build.
func newPlanner(t *testing.T) *plan.Planner {
	t.Helper()
	dir := chartstest.Dir(t)
	plannerOnce.Do(func() {
		renderer, err := render.New(os.DirFS(dir), render.Cluster{KubeVersion: "v1.36.3"})
		if err != nil {
			plannerErr = err
			return
		}
		crds, err := crd.CRDs()
		if err != nil {
			plannerErr = err
			return
		}
		checker, err := schemacheck.New(crds)
		shared, plannerErr = &plan.Planner{Env: desired.Env{Catalog: catalog.Embedded(), Resources: os.DirFS(dir), Platform: values.Kubernetes},
			Renderer: renderer, Checker: checker}, err
	})
	if plannerErr != nil {
		t.Fatal(plannerErr)
	}
	return shared
}

// manifests decodes YAML documents separated by ---.
func manifests(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

// sources are the Source of each planned group.
func sources(planned []plan.Planned) []string {
	var out []string
	for _, p := range planned {
		out = append(out, p.Source)
	}
	return out
}

// TestPlanOrder: whatever order the manifests come in, Istio's CRDs come first, once, then the control
// planes (Istios, then IstioRevisions), then tags, the CNI and ZTunnel, which refer to them; within a
// kind the input's order is kept. No other group carries CRDs, and an Istio's generated revision is
// printed as kubectl would apply it: no owner reference (the cluster sets it, with the Istio's UID) and
// no status.
func TestPlanOrder(t *testing.T) {
	got, err := newPlanner(t).Plan(manifests(t,
		"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.27-latest}",
		"apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata: {name: default}\nspec: {version: v1.27-latest}",
		"apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata: {name: default}\nspec: {targetRef: {kind: Istio, name: green}}",
		"apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: green}\nspec: {version: v1.27-latest, namespace: green-system}",
		"apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: blue}\nspec: {version: v1.25-latest, namespace: blue-system}",
	))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Istio's CRDs, from the base chart of v1.27.0-snapshot.b9159ca3, the newest version in use",
		"Istio green", "Istio blue", "IstioRevisionTag default", "IstioCNI default", "ZTunnel default"}
	if !slices.Equal(sources(got), want) {
		t.Fatalf("planned %q, want %q", sources(got), want)
	}
	if len(got[0].Results) != 1 || len(got[0].Results[0].CRDs) == 0 {
		t.Errorf("the first group holds %d results, want Istio's CRDs", len(got[0].Results))
	}
	for _, p := range got[1:] {
		for _, r := range p.Results {
			if len(r.CRDs) > 0 || len(r.Objects) == 0 {
				t.Errorf("%s: %d CRDs and %d objects, want objects only", p.Source, len(r.CRDs), len(r.Objects))
			}
		}
	}
	green := got[1].Generated
	if len(green) != 1 || green[0].GetKind() != v1.KindIstioRevision || green[0].GetName() != "green" {
		t.Fatalf("Istio green generated %v, want IstioRevision green", green)
	}
	if refs := green[0].GetOwnerReferences(); len(refs) != 0 || green[0].Object["status"] != nil || !green[0].GetCreationTimestamp().Time.IsZero() {
		t.Errorf("the generated revision carries owner references %v, status %v or a creation time", refs, green[0].Object["status"])
	}
	if v, _, _ := unstructured.NestedString(green[0].Object, "spec", "version"); v != "v1.27.0-snapshot.b9159ca3" {
		t.Errorf("the generated revision runs %q, want the concrete version", v)
	}
}

// TestPlanWithoutAControlPlanePrintsNoCRDs: with no revision in the input there is no version to take
// Istio's CRDs from, and none are printed.
func TestPlanWithoutAControlPlanePrintsNoCRDs(t *testing.T) {
	got, err := newPlanner(t).Plan(manifests(t, "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata: {name: default}\nspec: {version: v1.27-latest}"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"IstioCNI default"}; !slices.Equal(sources(got), want) {
		t.Errorf("planned %q, want %q", sources(got), want)
	}
}

// TestPlanRefusesWhatTheAPIServerWouldNotStore: render takes only bosun's kinds of the sailoperator.io
// group (not a kind of that name in another group), and refuses what the CRDs or the catalog's
// admission policies refuse, before deciding anything; the errors are the API server's kinds of
// refusal, not a decision's.
func TestPlanRefusesWhatTheAPIServerWouldNotStore(t *testing.T) {
	var invalid *schemacheck.InvalidError
	var refused *versionpolicy.RefusedError
	cases := []struct {
		name     string
		manifest string
		want     string
		as       any
	}{
		{"an Istio of another group", "apiVersion: install.example.com/v1\nkind: Istio\nmetadata: {name: default}",
			"Istio default: render takes sailoperator.io Istio, IstioRevision, IstioRevisionTag, IstioCNI and ZTunnel manifests", nil},
		{"another kind of the group", "apiVersion: sailoperator.io/v1\nkind: ServiceMeshControlPlane\nmetadata: {name: basic}",
			"ServiceMeshControlPlane basic: render takes sailoperator.io", nil},
		{"a schema refusal", "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata: {name: cni}\nspec: {version: v1.27-latest}",
			"an IstioCNI must be named 'default'", &invalid},
		{"a version the catalog does not have", "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.99.0}",
			"is not a version bosun knows", &refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newPlanner(t).Plan(manifests(t, tc.manifest, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: fine}\nspec: {version: v1.27-latest}"))
			if got != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Plan = %d groups, %v; want nothing and an error saying %q", len(got), err, tc.want)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("the error %v is not a %T", err, tc.as)
			}
			var refusal *desired.Refusal
			if errors.As(err, &refusal) {
				t.Errorf("the API server's refusal came back as a decision's: %v", err)
			}
		})
	}
}

// TestRefNotFoundTellsToAddTheManifest: render reads what a targetRef names from its input only, so a
// target that is missing gets the hint to add its manifest; the error still wraps the operator's
// refusal, with its reason. Other refusals get no such hint.
func TestRefNotFoundTellsToAddTheManifest(t *testing.T) {
	const hint = "; render reads it from the input: add its manifest with -f"
	cases := []struct {
		name   string
		docs   []string
		prefix string
		reason string
	}{
		{"a tag on an Istio not given", []string{"apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata: {name: canary}\nspec: {targetRef: {kind: Istio, name: prod}}"},
			"IstioRevisionTag canary: the targetRef names Istio prod, which does not exist", v1.ReasonRefNotFound},
		{"a ZTunnel on a revision not given", []string{"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.27-latest, targetRef: {kind: IstioRevision, name: prod}}"},
			"ZTunnel default: the targetRef names IstioRevision prod, which does not exist", v1.ReasonRefNotFound},
		{"a ZTunnel too far behind its Istio", []string{
			"apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: prod}\nspec: {version: v1.27-latest, profile: ambient}",
			"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.25-latest, targetRef: {kind: Istio, name: prod}}"},
			"ZTunnel default: ZTunnel default runs Istio 1.25", v1.ReasonVersionSkew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newPlanner(t).Plan(manifests(t, tc.docs...))
			var refusal *desired.Refusal
			if !errors.As(err, &refusal) || refusal.Reason != tc.reason {
				t.Fatalf("error %v, want a %s refusal", err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), tc.prefix) {
				t.Errorf("error %q, want it to begin %q", err, tc.prefix)
			}
			if hinted := strings.HasSuffix(err.Error(), hint); hinted != (tc.reason == v1.ReasonRefNotFound) {
				t.Errorf("error %q: hint given %t, want %t", err, hinted, !hinted)
			}
		})
	}
}

// TestDeprecatedZTunnelRendersAsV1: a sailoperator.io/v1alpha1 ZTunnel renders exactly what the same
// ZTunnel as v1 without spec.profile does, as the API server serves it, with a note saying to move to
// v1 and drop the profile.
func TestDeprecatedZTunnelRendersAsV1(t *testing.T) {
	p := newPlanner(t)
	old, err := p.Plan(manifests(t, "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.27-latest, profile: ambient}"))
	if err != nil {
		t.Fatal(err)
	}
	current, err := p.Plan(manifests(t, "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {version: v1.27-latest}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 1 || len(old[0].Notes) != 1 || !strings.Contains(old[0].Notes[0], "sailoperator.io/v1alpha1 ZTunnel is deprecated: use sailoperator.io/v1 and remove spec.profile") {
		t.Fatalf("the v1alpha1 ZTunnel's notes: %+v", old)
	}
	if len(current[0].Notes) != 0 {
		t.Errorf("a v1 ZTunnel got notes %q", current[0].Notes)
	}
	a, b := objectNames(old[0]), objectNames(current[0])
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Errorf("v1alpha1 rendered %q, v1 rendered %q; want the same objects", a, b)
	}
}

// objectNames are a group's rendered objects, as kind/namespace/name@hash.
func objectNames(p plan.Planned) []string {
	var out []string
	for _, r := range p.Results {
		for _, o := range r.Objects {
			out = append(out, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()+"@"+o.GetAnnotations()[render.AnnotationHash])
		}
	}
	return out
}

// TestMeshIdentityReachesEveryComponent: an Istio's cluster name and network reach istiod (CLUSTER_ID)
// and the ZTunnel that follows it (the cluster ID and NETWORK of its DaemonSet), as an ambient
// multicluster mesh needs, with nothing written twice; the ZTunnel's own values win.
func TestMeshIdentityReachesEveryComponent(t *testing.T) {
	istio := `apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  version: v1.27-latest
  namespace: istio-system
  profile: ambient
  values:
    global:
      meshID: mesh1
      multiCluster: {clusterName: cluster1}
      network: network1`
	for _, tc := range []struct {
		name, ztunnel, cluster, network string
	}{
		{"from the Istio", "", "cluster1", "network1"},
		{"the ZTunnel's own", "\n  values: {ztunnel: {network: network2, multiCluster: {clusterName: cluster9}}}", "cluster9", "network2"},
	} {
		got, err := newPlanner(t).Plan(manifests(t, istio,
			"apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata: {name: default}\nspec:\n  version: v1.27-latest\n  targetRef: {kind: Istio, name: default}"+tc.ztunnel))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]map[string]string{}
		for _, p := range got {
			for _, r := range p.Results {
				for _, o := range r.Objects {
					if o.GetKind() == "Deployment" || o.GetKind() == "DaemonSet" {
						env[o.GetName()] = containerEnv(o)
					}
				}
			}
		}
		if e := env["istiod"]; e["CLUSTER_ID"] != "cluster1" {
			t.Errorf("%s: istiod's CLUSTER_ID %q, want cluster1", tc.name, e["CLUSTER_ID"])
		}
		if e := env["ztunnel"]; e["ISTIO_META_CLUSTER_ID"] != tc.cluster || e["NETWORK"] != tc.network {
			t.Errorf("%s: ztunnel's cluster %q and network %q, want %s and %s", tc.name, e["ISTIO_META_CLUSTER_ID"], e["NETWORK"], tc.cluster, tc.network)
		}
	}
}

// containerEnv is the literal environment of a workload's first container.
func containerEnv(o *unstructured.Unstructured) map[string]string {
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	out := map[string]string{}
	if len(containers) == 0 {
		return out
	}
	env, _ := containers[0].(map[string]any)["env"].([]any)
	for _, e := range env {
		m := e.(map[string]any)
		if v, ok := m["value"].(string); ok {
			out[m["name"].(string)] = v
		}
	}
	return out
}
