//go:build integration

package versionpolicy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
	"github.com/bosun-mesh/bosun/internal/versionpolicy"
)

// cfg reaches the real kube-apiserver (with etcd) that TestMain starts once for every test here, with
// bosun's CRDs installed. Each test installs the policies of the catalog it needs; they run one after
// another.
var cfg *rest.Config

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(c *rest.Config) error {
		cfg = c
		cfg.WarningHandler = rest.NoWarnings{}
		// The agreement test sends a few hundred dry-run requests; client-go's default rate limit (5 a
		// second) would make it take minutes.
		cfg.QPS, cfg.Burst = 500, 1000
		return crd.Install(context.Background(), cfg, time.Minute)
	}))
}

// install makes c the catalog the API server enforces, as the operator does when it starts.
func install(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	if err := versionpolicy.Install(context.Background(), cfg, c, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
}

func resource(t *testing.T, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := obj.GroupVersionKind()
	return dynamic.NewForConfigOrDie(cfg).Resource(gvk.GroupVersion().WithResource(strings.ToLower(gvk.Kind) + "s"))
}

// create sends obj as `kubectl create` does; dryRun leaves nothing behind.
func create(t *testing.T, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	t.Helper()
	opts := metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return resource(t, obj).Create(context.Background(), obj.DeepCopy(), opts)
}

// mustCreate creates obj and deletes it when the test ends.
func mustCreate(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := create(t, obj, false)
	if err != nil {
		t.Fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	t.Cleanup(func() {
		err := resource(t, obj).Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	})
	return got
}

func mergePatch(t *testing.T, obj *unstructured.Unstructured, patch string) error {
	t.Helper()
	_, err := resource(t, obj).Patch(context.Background(), obj.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func versionOf(obj *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(obj.Object, "spec", "version")
	return v
}

// TestTheBuiltInCatalog checks what a user of the built-in catalog sees at kubectl apply.
func TestTheBuiltInCatalog(t *testing.T) {
	install(t, catalog.Embedded())

	_, err := create(t, parse(t, istio("v1.99.0")), true)
	want := `spec.version "v1.99.0" is not a version bosun knows; set it to one of: ` + builtInList
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("an unknown version gave %v\nwant Invalid with %q", err, want)
	}

	if _, err := create(t, parse(t, istio("v1.24.3")), true); err != nil {
		t.Errorf("an end-of-life version is refused at apply, which breaks existing manifests: %v", err)
	}

	for _, m := range []string{
		"apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default",
		"apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default",
		"apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: \"\"",
	} {
		got, err := create(t, parse(t, m), true)
		if err != nil {
			t.Errorf("a manifest without a version is refused: %v\n%s", err, m)
			continue
		}
		if v := versionOf(got); v != "v1.27-latest" {
			t.Errorf("%s without a version gets %q, want the catalog's default v1.27-latest", got.GetKind(), v)
		}
	}
}

// TestAVendorCatalog switches the API server to a vendor's catalog, as restarting the operator with
// --versions-file does, and back.
func TestAVendorCatalog(t *testing.T) {
	install(t, catalog.Embedded())
	// An Istio written while the built-in catalog was in force, on a name the vendor does not have.
	before := mustCreate(t, parse(t, strings.Replace(istio("v1.27-latest"), "name: default", "name: before-the-switch", 1)))

	vendor := vendorCatalog(t)
	install(t, vendor)
	t.Cleanup(func() { install(t, catalog.Embedded()) })

	for _, m := range []string{istio("v1.29-latest"), istio("1.29.6"), kind("IstioCNI", "v1.28-latest"), kind("ZTunnel", "v1.29.6"), revision("v1.28.9"), istio("v1.27.0")} {
		if _, err := create(t, parse(t, m), true); err != nil {
			t.Errorf("a name of the vendor's catalog is refused: %v\n%s", err, m)
		}
	}
	for _, m := range []string{istio("v1.27-latest"), istio("latest"), kind("ZTunnel", "v1.31.0-snapshot.eed52ebb"), revision("v1.27.0-snapshot.b9159ca3")} {
		_, err := create(t, parse(t, m), true)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "v1.29.6, v1.28.9") {
			t.Errorf("a name only the built-in catalog has gave %v, want a refusal listing the vendor's versions\n%s", err, m)
		}
	}
	got, err := create(t, parse(t, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default"), true)
	if err != nil || versionOf(got) != "v1.29-latest" {
		t.Errorf("an Istio without a version gave %v, version %q; want the vendor's default v1.29-latest", err, versionOf(got))
	}

	// The Istio from before keeps its version, which the vendor does not have: it can still be
	// labelled and deleted, but its version can only move to one the vendor has.
	if err := mergePatch(t, before, `{"metadata":{"labels":{"team":"payments"}}}`); err != nil {
		t.Errorf("labelling an Istio whose version the new catalog lacks is refused: %v", err)
	}
	if err := mergePatch(t, before, `{"spec":{"version":"v1.25-latest"}}`); !apierrors.IsInvalid(err) {
		t.Errorf("moving it to another name the vendor lacks gave %v, want a refusal", err)
	}
	if err := mergePatch(t, before, `{"spec":{"version":"v1.29-latest"}}`); err != nil {
		t.Errorf("moving it to the vendor's version is refused: %v", err)
	}
}

// TestPoliciesAgreeWithAdmit sends manifests to the API server under each catalog's policies and
// through the checks `bosun render` makes (schemacheck, then Admit): both must accept the same ones,
// with the same spec.version stored, and refuse the others with the same message. The manifests name
// every name of both catalogs, for every kind, and names neither has.
func TestPoliciesAgreeWithAdmit(t *testing.T) {
	manifests := []string{
		istio("v1.27-latest"), istio("1.27.0-snapshot.b9159ca3"), istio("v1.24.3"), istio("v1.99.0"),
		istio("v1.29-latest"), istio("v1.28.9"), istio("latest"), istio("v1.23.6"),
		kind("Istio", ""), kind("IstioCNI", "v1.29.6"), kind("IstioCNI", "v1.27-latest"), kind("IstioCNI", ""),
		kind("ZTunnel", "v1.24.3"), kind("ZTunnel", "v1.29-latest"), kind("ZTunnel", "latest"), kind("ZTunnel", ""),
		strings.Replace(kind("ZTunnel", "v1.30.0"), "/v1\n", "/v1alpha1\n", 1),
		strings.Replace(kind("ZTunnel", "v1.28-latest"), "/v1\n", "/v1alpha1\n", 1),
		revision("v1.29.6"), revision("v1.27.0-snapshot.b9159ca3"), revision("v1.26.1"), revision("v1.99.0"),
	}
	for _, c := range []struct {
		name    string
		catalog *catalog.Catalog
	}{{"built in", catalog.Embedded()}, {"vendor", vendorCatalog(t)}} {
		t.Run(c.name, func(t *testing.T) {
			install(t, c.catalog)
			all := slices.Clone(manifests)
			for _, cat := range []*catalog.Catalog{catalog.Embedded(), vendorCatalog(t)} {
				for _, name := range sweep(cat) {
					all = append(all, istio(name), kind("IstioCNI", name), kind("ZTunnel", name), revision(name))
				}
			}
			for _, m := range all {
				obj := parse(t, m)
				stored, serverErr := create(t, obj, true)
				offline, err := checker(t).Check(context.Background(), obj)
				if err != nil {
					// The CRD refuses the shape (an alias for a revision, a ZTunnel older than
					// ambient mode), whatever the catalog.
					if serverErr == nil {
						t.Errorf("%q: the API server accepts what the offline check refuses: %v", m, err)
					}
					continue
				}
				admitErr := versionpolicy.Admit(c.catalog, offline)
				var refused *versionpolicy.RefusedError
				switch {
				case serverErr == nil && admitErr == nil:
					if versionOf(stored) != versionOf(offline) {
						t.Errorf("%q: the API server stores version %q, Admit %q", m, versionOf(stored), versionOf(offline))
					}
				case serverErr != nil && errors.As(admitErr, &refused):
					if !strings.Contains(serverErr.Error(), refused.Message) {
						t.Errorf("%q: the API server says\n%v\nAdmit says\n%s", m, serverErr, refused.Message)
					}
				default:
					t.Errorf("%q: the API server gives %v, Admit %v", m, serverErr, admitErr)
				}
			}
		})
	}
	install(t, catalog.Embedded())
}

// checker checks manifests offline against bosun's CRDs, as `bosun render` does.
func checker(t *testing.T) *schemacheck.Checker {
	t.Helper()
	checkerOnce.Do(func() {
		crds, err := crd.CRDs()
		if err == nil {
			sharedChecker, err = schemacheck.New(crds)
		}
		checkerErr = err
	})
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return sharedChecker
}

// The Checker compiles the CRDs' schemas and CEL rules, which takes a while: the tests share one.
var (
	checkerOnce   sync.Once
	sharedChecker *schemacheck.Checker
	checkerErr    error
)

// sweep is the names of a catalog the agreement test sends: every supported name (each alias and
// version is a rule of its own in the policies), and every fourth end-of-life name, which all share one
// rule. Each request costs the API server a validation against the large CRD schemas (about 0.1 s on
// two cores), so sending all of them would take minutes.
func sweep(c *catalog.Catalog) []string {
	names := c.Supported()
	eol := c.Names()[len(names):]
	for i := 0; i < len(eol); i += 4 {
		names = append(names, eol[i])
	}
	return names
}

// TestInstallingAgainWritesNothing: the operator installs its policies each time it becomes leader;
// when they are already there as they are, that costs reads, not writes.
func TestInstallingAgainWritesNothing(t *testing.T) {
	install(t, catalog.Embedded())

	counting := rest.CopyConfig(cfg)
	var writes []string
	counting.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodGet && req.URL.Query().Get("dryRun") == "" {
				writes = append(writes, req.Method+" "+req.URL.Path)
			}
			return rt.RoundTrip(req)
		})
	})
	recorder := &recorder{}
	if err := versionpolicy.Install(context.Background(), counting, catalog.Embedded(), time.Minute, recorder); err != nil {
		t.Fatal(err)
	}
	if len(writes) != 0 {
		t.Errorf("installing the policies again sent %d writes, want none:\n%s", len(writes), strings.Join(writes, "\n"))
	}
	if len(recorder.events) != 0 {
		t.Errorf("installing the policies again recorded Events %q, want none", recorder.events)
	}

	// A policy someone changed is put back.
	client := dynamic.NewForConfigOrDie(cfg).Resource(admissionregistrationv1.SchemeGroupVersion.WithResource("validatingadmissionpolicybindings"))
	if _, err := client.Patch(context.Background(), versionpolicy.IstioPolicy, types.MergePatchType, []byte(`{"metadata":{"annotations":{"bosun.dev/hash":"changed"}},"spec":{"policyName":"something-else"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	writes = nil
	if err := versionpolicy.Install(context.Background(), counting, catalog.Embedded(), time.Minute, recorder); err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(context.Background(), versionpolicy.IstioPolicy, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	policy, _, _ := unstructured.NestedString(got.Object, "spec", "policyName")
	if len(writes) != 1 || policy != versionpolicy.IstioPolicy {
		t.Errorf("after a change to the binding, installing again sent %q and left policyName %q; want one apply and %s", writes, policy, versionpolicy.IstioPolicy)
	}
	// The change bosun made is recorded, on the object it changed.
	if want := []string{"ValidatingAdmissionPolicyBinding/" + versionpolicy.IstioPolicy + " Normal Applied"}; !slices.Equal(recorder.events, want) {
		t.Errorf("putting the binding back recorded Events %q, want %q", recorder.events, want)
	}
}

// recorder keeps the Events recorded through it as "Kind/name type reason".
type recorder struct{ events []string }

func (r *recorder) Eventf(regarding, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	u, ok := regarding.(*unstructured.Unstructured)
	if !ok {
		r.events = append(r.events, fmt.Sprintf("%T %s %s", regarding, eventtype, reason))
		return
	}
	r.events = append(r.events, u.GetKind()+"/"+u.GetName()+" "+eventtype+" "+reason)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
