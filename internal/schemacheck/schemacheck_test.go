package schemacheck_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
)

// These tests need no cluster: they check bosun's own CRDs offline. config/crd's tests run the same
// cases against a real API server and compare the messages.

var (
	checkerOnce sync.Once
	checker     *schemacheck.Checker
	checkerErr  error
)

// bosunChecker is a Checker of bosun's CRDs, built once: building compiles every schema and CEL rule.
func bosunChecker(t *testing.T) *schemacheck.Checker {
	t.Helper()
	checkerOnce.Do(func() {
		crds, err := crd.CRDs()
		if err != nil {
			checkerErr = err
			return
		}
		checker, checkerErr = schemacheck.New(crds)
	})
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return checker
}

func parse(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestValidManifestIsDefaulted(t *testing.T) {
	in := parse(t, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: bare\nstatus:\n  state: Healthy\n")
	got, err := bosunChecker(t).Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// spec.version has no default in the CRD: the operator's mutating admission policy writes its
	// catalog's default (internal/versionpolicy), so the offline check leaves it empty.
	for path, want := range map[string]string{
		"spec.version":             "",
		"spec.namespace":           "istio-system",
		"spec.updateStrategy.type": "InPlace",
	} {
		if v, _, _ := unstructured.NestedString(got.Object, strings.Split(path, ".")...); v != want {
			t.Errorf("%s = %q, want the API server's default %q", path, v, want)
		}
	}
	if _, ok := got.Object["status"]; ok {
		t.Error("status survived; the API server never stores it on create")
	}
	if _, ok := in.Object["spec"]; ok {
		t.Error("Check changed the object it was given")
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name, manifest, want string
	}{
		{
			name:     "an unknown field",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: x\nspec:\n  meshConfig:\n    accessLogFile: /dev/stdout\n",
			want:     `unknown field "spec.meshConfig"`,
		},
		{
			name:     "an unknown field deep in the values",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: x\nspec:\n  values:\n    pilot:\n      replicas: 2\n",
			want:     `unknown field "spec.values.pilot.replicas"`,
		},
		{
			name:     "a CEL rule",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: cni\n",
			want:     "an IstioCNI must be named 'default'",
		},
		{
			name:     "a whole number where a type is wrong keeps the API server's wording",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: x\nspec:\n  updateStrategy:\n    inactiveRevisionDeletionGracePeriodSeconds: -5\n",
			want:     "spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds: Invalid value: -5:",
		},
		{
			name:     "a v1alpha1 ZTunnel with a field only v1 has",
			manifest: "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default\n",
			want:     `unknown field "spec.targetRef"`,
		},
		{
			name:     "a v1alpha1 ZTunnel's own CEL rule",
			manifest: "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: ztunnel\n",
			want:     "a ZTunnel must be named 'default'",
		},
		{
			name:     "a name that is not a DNS subdomain",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: Prod_1\n",
			want:     `metadata.name: Invalid value: "Prod_1": a lowercase RFC 1123 subdomain`,
		},
		{
			name:     "a label value longer than a label holds",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: x\n  labels:\n    team: " + strings.Repeat("t", 64) + "\n",
			want:     "metadata.labels: Invalid value: \"" + strings.Repeat("t", 64) + "\": must be no more than 63 bytes",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bosunChecker(t).Check(context.Background(), parse(t, tc.manifest))
			var invalid *schemacheck.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want an InvalidError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// TestV1alpha1ZTunnelIsCheckedAgainstItsOwnSchema: the deprecated version keeps spec.profile, which
// v1 dropped; each version is checked against its own schema.
func TestV1alpha1ZTunnelIsCheckedAgainstItsOwnSchema(t *testing.T) {
	alpha := "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  profile: ambient\n"
	got, err := bosunChecker(t).Check(context.Background(), parse(t, alpha))
	if err != nil {
		t.Fatalf("a valid v1alpha1 ZTunnel was refused: %v", err)
	}
	if p, _, _ := unstructured.NestedString(got.Object, "spec", "profile"); p != "ambient" {
		t.Errorf("spec.profile = %q, want the v1alpha1 field kept", p)
	}
	v1 := strings.Replace(alpha, "v1alpha1", "v1", 1)
	if _, err := bosunChecker(t).Check(context.Background(), parse(t, v1)); err == nil || !strings.Contains(err.Error(), `unknown field "spec.profile"`) {
		t.Errorf("a v1 ZTunnel with spec.profile gave %v, want it refused as an unknown field", err)
	}
}

// TestNamespaceOfAClusterScopedKindIsCleared: the API server stores a cluster-scoped object given with
// a namespace without it, rather than refuse it.
func TestNamespaceOfAClusterScopedKindIsCleared(t *testing.T) {
	got, err := bosunChecker(t).Check(context.Background(), parse(t, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: x\n  namespace: istio-system\n"))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if ns := got.GetNamespace(); ns != "" {
		t.Errorf("namespace = %q, want it cleared", ns)
	}
}

func TestUnknownKind(t *testing.T) {
	for _, manifest := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		"apiVersion: sailoperator.io/v2\nkind: Istio\nmetadata:\n  name: x\n",
	} {
		if _, err := bosunChecker(t).Check(context.Background(), parse(t, manifest)); !errors.Is(err, schemacheck.ErrUnknownKind) {
			t.Errorf("%s: error = %v, want ErrUnknownKind", strings.SplitN(manifest, "\n", 3)[:2], err)
		}
	}
}
