//go:build integration

package plan_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/plan"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/values"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

// planner is `bosun render`'s planner, for the platform and catalog the operator runs with.
func planner(t *testing.T) *plan.Planner {
	t.Helper()
	dir, err := charts.Ensure(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := render.New(os.DirFS(dir), render.Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := schemacheck.New(crds)
	if err != nil {
		t.Fatal(err)
	}
	return &plan.Planner{Env: desired.Env{Catalog: catalog.Embedded(), Resources: os.DirFS(dir), Platform: values.Kubernetes}, Renderer: renderer, Checker: checker}
}

func decode(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifests)), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

// objectID names an object and its rendered hash, which changes with anything rendered differently.
func objectID(obj metav1.Object, kind string) string {
	return fmt.Sprintf("%s %s/%s %s", kind, obj.GetNamespace(), obj.GetName(), obj.GetAnnotations()[render.AnnotationHash])
}

// rendered groups what render planned by owner label value: the objects each resource owns.
func rendered(results []plan.Planned) map[string][]string {
	out := map[string][]string{}
	for _, pl := range results {
		for _, res := range pl.Results {
			for _, obj := range res.Objects {
				key := obj.GetLabels()[render.LabelOwner]
				out[key] = append(out[key], objectID(obj, obj.GetKind()))
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// applied lists what the operator applied for the owner, from the API server.
func applied(ctx context.Context, c client.Client, ownerValue string) ([]string, error) {
	var out []string
	for _, gvk := range apply.Kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := c.List(ctx, list, client.MatchingLabels{render.LabelOwner: ownerValue})
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, objectID(&list.Items[i], gvk.Kind))
		}
	}
	slices.Sort(out)
	return out, nil
}

// reconciled reads a resource's Reconciled condition once its status describes its latest spec.
func reconciled(ctx context.Context, c client.Client, kind, name string) (metav1.Condition, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(v1.GroupVersion.WithKind(kind))
	if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
		return metav1.Condition{}, err
	}
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	if observed != obj.GetGeneration() {
		return metav1.Condition{}, fmt.Errorf("%s %s: status of generation %d, spec %d", kind, name, observed, obj.GetGeneration())
	}
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, r := range raw {
		m, _ := r.(map[string]any)
		if m["type"] == v1.ConditionReconciled {
			c := metav1.Condition{Type: v1.ConditionReconciled, Status: metav1.ConditionStatus(fmt.Sprint(m["status"])), Reason: fmt.Sprint(m["reason"]), Message: fmt.Sprint(m["message"])}
			return c, nil
		}
	}
	return metav1.Condition{}, fmt.Errorf("%s %s: no Reconciled condition yet", kind, name)
}

// TestRenderDecidesAsTheOperator runs the same manifests through `bosun render`'s path and through the
// operator's, and requires the same answer: for a case render accepts, the same objects (by name and
// rendered hash); for a case render refuses, the same refusal (reason and message) on the resource it
// names, the case's other resources being only required to reach a Reconciled condition. The
// cases are those where a CLI that decides on its own would disagree with the operator: a tag on a
// remote revision, node agents ahead of or too far behind their control plane, names held by another
// resource, targets that do not exist.
func TestRenderDecidesAsTheOperator(t *testing.T) {
	const istio = `apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: %s}
spec: {version: %s, namespace: %s%s}
`
	cases := []struct {
		name       string
		namespaces []string
		manifests  string
		// refused is the kind and name of the resource render refuses, if any.
		refused string
	}{
		{name: "an InPlace Istio named default", namespaces: []string{"istio-system"},
			manifests: fmt.Sprintf(istio, "default", "v1.27-latest", "istio-system", "")},
		{name: "a RevisionBased Istio and a tag on it", namespaces: []string{"rb-system"},
			manifests: fmt.Sprintf(istio, "rb", "v1.25-latest", "rb-system", ", updateStrategy: {type: RevisionBased}") + `---
apiVersion: sailoperator.io/v1
kind: IstioRevisionTag
metadata: {name: default}
spec: {targetRef: {kind: Istio, name: rb}}
`},
		{name: "a tag on a remote revision", namespaces: []string{"remote-system"},
			manifests: fmt.Sprintf(istio, "far", "v1.27-latest", "remote-system", ", profile: remote") + `---
apiVersion: sailoperator.io/v1
kind: IstioRevisionTag
metadata: {name: to-far}
spec: {targetRef: {kind: IstioRevision, name: far}}
`, refused: "IstioRevisionTag to-far"},
		{name: "a CNI two minors ahead of a control plane that needs it", namespaces: []string{"cp-system", "cp-cni"},
			manifests: fmt.Sprintf(istio, "cp", "v1.25-latest", "cp-system", ", values: {pilot: {cni: {enabled: true}}}") + `---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata: {name: default}
spec: {version: v1.27-latest, namespace: cp-cni}
`, refused: "IstioCNI default"},
		{name: "a CNI and an ambient control plane", namespaces: []string{"amb-system", "amb-cni", "amb-ztunnel"},
			manifests: fmt.Sprintf(istio, "amb", "v1.27-latest", "amb-system", ", profile: ambient") + `---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata: {name: default}
spec: {version: v1.27-latest, namespace: amb-cni, profile: ambient}
---
apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata: {name: default}
spec: {version: v1.27-latest, namespace: amb-ztunnel, targetRef: {kind: Istio, name: amb}}
`},
		{name: "a ZTunnel two minors behind the Istio it follows", namespaces: []string{"behind-system", "behind-ztunnel"},
			manifests: fmt.Sprintf(istio, "behind", "v1.27-latest", "behind-system", ", profile: ambient") + `---
apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata: {name: default}
spec: {version: v1.25-latest, namespace: behind-ztunnel, targetRef: {kind: Istio, name: behind}}
`, refused: "ZTunnel default"},
		{name: "a ZTunnel whose target does not exist", namespaces: []string{"lost-ztunnel"}, manifests: `apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata: {name: default}
spec: {version: v1.27-latest, namespace: lost-ztunnel, targetRef: {kind: IstioRevision, name: nowhere}}
`, refused: "ZTunnel default"},
		{name: "a tag named as a revision, applied together", namespaces: []string{"held-system"},
			manifests: fmt.Sprintf(istio, "held", "v1.27-latest", "held-system", "") + `---
apiVersion: sailoperator.io/v1
kind: IstioRevisionTag
metadata: {name: held}
spec: {targetRef: {kind: Istio, name: held}}
`, refused: "IstioRevisionTag held"},
		{name: "an Istio whose revision name is too long", namespaces: []string{"long-system"},
			manifests: fmt.Sprintf(istio, strings.Repeat("l", 40), "v1.27-latest", "long-system", ", updateStrategy: {type: RevisionBased}"),
			refused:   "Istio " + strings.Repeat("l", 40)},
	}
	p := planner(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := operatortest.Client(t)
			objs := decode(t, tc.manifests)
			results, planErr := p.Plan(decode(t, tc.manifests))
			var refusal *desired.Refusal
			switch {
			case tc.refused == "" && planErr != nil:
				t.Fatalf("render refused: %v", planErr)
			case tc.refused != "" && !errors.As(planErr, &refusal):
				t.Fatalf("render gave %v, want a refusal of %s", planErr, tc.refused)
			case tc.refused != "" && !strings.HasPrefix(planErr.Error(), tc.refused+": "):
				t.Fatalf("render refused %q, want %s refused", planErr, tc.refused)
			}

			for _, ns := range tc.namespaces {
				operatortest.Namespace(t, c, ns, nil)
			}
			for _, obj := range objs {
				operatortest.Create(t, c, obj)
			}
			// Every input resource, and each Istio's revision, reaches a Reconciled condition for its
			// spec.
			for _, obj := range objs {
				kind, name := obj.GetKind(), obj.GetName()
				operatortest.WaitFor(t, kind+" "+name+" reconciled", func(ctx context.Context) error {
					_, err := reconciled(ctx, c, kind, name)
					return err
				})
			}
			if refusal != nil {
				kind, name, _ := strings.Cut(tc.refused, " ")
				cond, err := reconciled(t.Context(), c, kind, name)
				if err != nil {
					t.Fatal(err)
				}
				if cond.Status != metav1.ConditionFalse || cond.Reason != refusal.Reason || cond.Message != refusal.Error() {
					t.Errorf("the operator says %s/%s %q; render refused with %s %q", cond.Status, cond.Reason, cond.Message, refusal.Reason, refusal.Error())
				}
				return
			}
			want := rendered(results)
			for _, pl := range results {
				for _, gen := range pl.Generated {
					operatortest.WaitFor(t, "the Istio's revision reconciled", func(ctx context.Context) error {
						_, err := reconciled(ctx, c, gen.GetKind(), gen.GetName())
						return err
					})
				}
			}
			if len(want) == 0 {
				t.Fatal("render planned no object")
			}
			// A tag or ZTunnel that follows an Istio waits for its revision, so the objects are compared once
			// the operator is done.
			for ownerValue, objects := range want {
				operatortest.WaitFor(t, "the operator to apply what render printed for "+ownerValue, func(ctx context.Context) error {
					got, err := applied(ctx, c, ownerValue)
					if err != nil {
						return err
					}
					if !slices.Equal(got, objects) {
						return fmt.Errorf("the operator applied\n  %s\nrender printed\n  %s", strings.Join(got, "\n  "), strings.Join(objects, "\n  "))
					}
					return nil
				})
			}
		})
	}
}
