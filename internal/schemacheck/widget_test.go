package schemacheck_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/schemacheck"
)

// readWidgetCRD reads testdata/widgets.yaml.
func readWidgetCRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile("testdata/widgets.yaml")
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	return crd, yaml.UnmarshalStrict(data, crd)
}

// widgetCRD is testdata/widgets.yaml.
func widgetCRD(t testing.TB) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd, err := readWidgetCRD()
	if err != nil {
		t.Fatal(err)
	}
	return crd
}

// widgetChecker is a Checker of testdata/widgets.yaml.
func widgetChecker(t testing.TB) *schemacheck.Checker {
	t.Helper()
	c, err := schemacheck.New([]*apiextensionsv1.CustomResourceDefinition{widgetCRD(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// widget is a Widget named w with spec, written in YAML.
func widget(spec string) string {
	m := "apiVersion: schemacheck.bosun.test/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n"
	if spec != "" {
		m += "spec:\n" + spec
	}
	return m
}

// checkSpec checks manifest and returns the spec Check would have the API server store.
func checkSpec(t *testing.T, c *schemacheck.Checker, obj *unstructured.Unstructured) map[string]any {
	t.Helper()
	got, err := c.Check(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(got.Object, "spec")
	return spec
}

// TestStoredAsTheAPIServerStoresIt: what Check returns is the object after the API server's pruning,
// null dropping and defaulting, which is what `bosun render` decides on.
func TestStoredAsTheAPIServerStoresIt(t *testing.T) {
	c := widgetChecker(t)
	cases := []struct {
		name, spec string
		want       map[string]any
	}{
		{name: "no spec: nothing defaulted beneath it", want: nil},
		{name: "an empty spec: its defaults, and those of a defaulted object", spec: "  {}\n",
			want: map[string]any{"size": int64(3), "mode": "Safe", "nested": map[string]any{"level": "info"}}},
		{name: "an object without a default gets its fields' defaults only when present", spec: "  optional: {}\n",
			want: map[string]any{"size": int64(3), "mode": "Safe", "nested": map[string]any{"level": "info"}, "optional": map[string]any{"enabled": true}}},
		{name: "a null is dropped, then defaulted", spec: "  size: null\n  mode: null\n  ratio: null\n",
			want: map[string]any{"size": int64(3), "mode": "Safe", "nested": map[string]any{"level": "info"}}},
		{name: "a nullable field keeps its null", spec: "  note: null\n",
			want: map[string]any{"size": int64(3), "mode": "Safe", "nested": map[string]any{"level": "info"}, "note": nil}},
		{name: "a subtree that keeps unknown fields keeps them", spec: "  free:\n    anything:\n      deep: [1, two]\n",
			want: map[string]any{"size": int64(3), "mode": "Safe", "nested": map[string]any{"level": "info"},
				"free": map[string]any{"anything": map[string]any{"deep": []any{int64(1), "two"}}}}},
		{name: "set values win over defaults", spec: "  size: 7\n  mode: Fast\n  nested: {level: debug}\n",
			want: map[string]any{"size": int64(7), "mode": "Fast", "nested": map[string]any{"level": "debug"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkSpec(t, c, parse(t, widget(tc.spec))); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestNumbersWhicheverDecoderReadThem: a manifest read by a JSON decoder (float64, json.Number) or a
// YAML one (int64) is judged as the API server judges the same bytes: whole numbers are integers.
func TestNumbersWhicheverDecoderReadThem(t *testing.T) {
	c := widgetChecker(t)
	for _, tc := range []struct {
		name        string
		size, ratio any
		wantSize    int64
		wantRatio   any
	}{
		{name: "float64", size: float64(2), ratio: float64(0.5), wantSize: 2, wantRatio: 0.5},
		{name: "float64 of a whole number", size: float64(2), ratio: float64(1), wantSize: 2, wantRatio: int64(1)},
		{name: "int64", size: int64(2), ratio: int64(1), wantSize: 2, wantRatio: int64(1)},
		{name: "json.Number", size: json.Number("2"), ratio: json.Number("0.25"), wantSize: 2, wantRatio: 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, widget(""))
			obj.Object["spec"] = map[string]any{"size": tc.size, "ratio": tc.ratio}
			spec := checkSpec(t, c, obj)
			if spec["size"] != tc.wantSize || spec["ratio"] != tc.wantRatio {
				t.Errorf("size %#v, ratio %#v; want %#v, %#v", spec["size"], spec["ratio"], tc.wantSize, tc.wantRatio)
			}
		})
	}
	obj := parse(t, widget(""))
	obj.Object["spec"] = map[string]any{"size": 2.5}
	if _, err := c.Check(context.Background(), obj); err == nil || !strings.Contains(err.Error(), `spec.size: Invalid value: "number": spec.size in body must be of type integer: "number"`) {
		t.Errorf("a fraction where an integer belongs gave %v", err)
	}
}

// TestRefusalsInTheServersWords: every problem of a manifest is reported at once, in the API server's
// words, and CEL rules are not judged on values of the wrong type, as the API server does not.
func TestRefusalsInTheServersWords(t *testing.T) {
	c := widgetChecker(t)
	cases := []struct {
		name, spec string
		want       []string
		notWant    string
	}{
		{name: "a CEL rule", spec: "  min: 5\n  max: 1\n",
			want: []string{`Widget "w" is invalid: spec: Invalid value: min must not exceed max`}},
		{name: "a value of the wrong type hides the CEL rule", spec: "  min: 5\n  max: 1\n  size: \"2\"\n",
			want: []string{`spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"`}, notWant: "min must not exceed max"},
		{name: "several problems", spec: "  size: 0\n  mode: Slow\n  items: [a, b, c]\n  colour: red\n",
			want: []string{
				`spec.colour: Invalid value: null: unknown field "spec.colour"`,
				"spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
				`spec.mode: Unsupported value: "Slow": supported values: "Fast", "Safe"`,
				"spec.items: Too many: 3: must have at most 2 items",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Check(context.Background(), parse(t, widget(tc.spec)))
			var invalid *schemacheck.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v, want an InvalidError", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%v\ndoes not say\n%s", err, want)
				}
			}
			if len(invalid.Errors) != len(tc.want) {
				t.Errorf("%d problems reported, want %d: %v", len(invalid.Errors), len(tc.want), err)
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %v says %q", err, tc.notWant)
			}
		})
	}
}

// TestWhatTheServerNeverStores: a manifest taken from a cluster (with status and managedFields) is
// checked as a new object: both are dropped, and the status is never checked.
func TestWhatTheServerNeverStores(t *testing.T) {
	manifest := widget("  size: 2\n") + "status:\n  phase: 42\n  unknown: x\n"
	manifest = strings.Replace(manifest, "  namespace: default\n", "  namespace: default\n  managedFields:\n    - manager: kubectl\n      operation: Apply\n", 1)
	got, err := widgetChecker(t).Check(context.Background(), parse(t, manifest))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if _, ok := got.Object["status"]; ok {
		t.Error("status survived")
	}
	if got.GetManagedFields() != nil {
		t.Errorf("managedFields survived: %v", got.GetManagedFields())
	}
	if got.GetNamespace() != "default" {
		t.Errorf("the namespace of a namespaced object was changed to %q", got.GetNamespace())
	}
}

// TestNewRefusesAVersionWithoutASchema: a CRD version without a schema stops New with the CRD and
// version named, rather than let every manifest of it pass unchecked.
func TestNewRefusesAVersionWithoutASchema(t *testing.T) {
	crd := widgetCRD(t)
	crd.Spec.Versions[0].Schema = nil
	if _, err := schemacheck.New([]*apiextensionsv1.CustomResourceDefinition{crd}); err == nil || err.Error() != "widgets.schemacheck.bosun.test v1 has no schema" {
		t.Errorf("New gave %v, want it to name the CRD and version without a schema", err)
	}
}
