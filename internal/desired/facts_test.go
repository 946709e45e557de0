package desired

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// reader is a cache holding objs.
func reader(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), v1.AddToScheme(scheme)); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// TestReadTellsWhichNamespacesExist: Read answers for exactly the namespaces it is asked about: one
// that exists, one being deleted, and one missing from the map because it does not exist; the node
// agents are the ones named default, and every Istio, revision and tag is there by name.
func TestReadTellsWhichNamespacesExist(t *testing.T) {
	leaving := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "leaving", Finalizers: []string{"kubernetes"}}}
	r := reader(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}},
		leaving,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-asked"}},
		&v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod"}},
		&v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod"}},
		&v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "canary"}},
		&v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}},
	)
	if err := r.Delete(t.Context(), leaving); err != nil {
		t.Fatal(err)
	}
	f, err := Read(t.Context(), r, "istio-system", "leaving", "missing")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Namespace{"istio-system": {}, "leaving": {Terminating: true}}
	if len(f.Namespaces) != len(want) || f.Namespaces["istio-system"] != want["istio-system"] || f.Namespaces["leaving"] != want["leaving"] {
		t.Errorf("namespaces %+v, want %+v", f.Namespaces, want)
	}
	if r := (&Facts{Namespaces: f.Namespaces}).namespaceRefusal("leaving", "istiod"); r == nil || r.Reason != v1.ReasonNamespaceNotFound ||
		r.Error() != "namespace leaving is being deleted: wait for it to be gone and create it again" {
		t.Errorf("a namespace being deleted gave the refusal %v", r)
	}
	if len(f.Istios) != 1 || f.Istios["prod"] == nil || len(f.Revisions) != 2 || f.Revisions["canary"] == nil || len(f.Tags) != 1 || f.Tags["default"] == nil {
		t.Errorf("Istios %v, revisions %v, tags %v", f.Istios, f.Revisions, f.Tags)
	}
	if f.CNI == nil || f.ZTunnel != nil {
		t.Errorf("CNI %v, ZTunnel %v; want the IstioCNI and no ZTunnel", f.CNI, f.ZTunnel)
	}
}

// TestReadFailuresAreErrors: a failure to read any part of the facts is an error that says what could
// not be read, never an answer: a namespace that cannot be read is not taken for missing, and a node
// agent that cannot be read is not taken for absent (docs/architecture.md#lesson-unknown-is-in-use).
func TestReadFailuresAreErrors(t *testing.T) {
	unavailable := errors.New("the cache is not synced")
	cases := []struct {
		name string
		fail func(runtime.Object) bool
		want string
	}{
		{"Istios", func(o runtime.Object) bool { _, ok := o.(*v1.IstioList); return ok }, "listing Istios"},
		{"IstioRevisions", func(o runtime.Object) bool { _, ok := o.(*v1.IstioRevisionList); return ok }, "listing IstioRevisions"},
		{"IstioRevisionTags", func(o runtime.Object) bool { _, ok := o.(*v1.IstioRevisionTagList); return ok }, "listing IstioRevisionTags"},
		{"the IstioCNI", func(o runtime.Object) bool { _, ok := o.(*v1.IstioCNI); return ok }, "reading IstioCNI default"},
		{"the ZTunnel", func(o runtime.Object) bool { _, ok := o.(*v1.ZTunnel); return ok }, "reading ZTunnel default"},
		{"a namespace", func(o runtime.Object) bool { _, ok := o.(*metav1.PartialObjectMetadata); return ok }, "reading namespace istio-system"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := interceptor.NewClient(reader(t), interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if tc.fail(obj) {
						return unavailable
					}
					return c.Get(ctx, key, obj, opts...)
				},
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					if tc.fail(list) {
						return unavailable
					}
					return c.List(ctx, list, opts...)
				},
			})
			f, err := Read(t.Context(), r, "istio-system")
			if f != nil || !errors.Is(err, unavailable) || !strings.HasPrefix(err.Error(), tc.want+": ") {
				t.Errorf("Read = %v, %v; want no facts and an error saying %q", f, err, tc.want)
			}
		})
	}
	// Not found is an answer: the agents do not exist.
	r := interceptor.NewClient(reader(t), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return apierrors.NewNotFound(schema.GroupResource{}, "default")
		},
	})
	f, err := Read(t.Context(), r, "istio-system")
	if err != nil || f.CNI != nil || f.ZTunnel != nil || len(f.Namespaces) != 0 {
		t.Errorf("with nothing found: %+v, %v; want empty facts", f, err)
	}
}

// TestFromManifests: the facts of manifests not yet applied hold their Istios, each Istio's revision
// owned by it (by name: manifests have no UIDs), the revisions given, and the node agents named
// default; not the tags, and no knowledge of namespaces (every one is taken to exist).
func TestFromManifests(t *testing.T) {
	prod := istio("prod", v1.UpdateStrategyRevisionBased, v127)
	standalone := revision("standalone", v125, 0)
	other := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}
	f, err := testEnv().FromManifests(Manifests{
		Istios:    []*v1.Istio{prod},
		Revisions: []*v1.IstioRevision{standalone},
		Tags:      []*v1.IstioRevisionTag{tagOf("prod-v1-27-0-snapshot-b9159ca3", v1.KindIstio, "prod", 0)},
		CNIs:      []*v1.IstioCNI{cni, other},
		ZTunnels:  []*v1.ZTunnel{zt, {ObjectMeta: metav1.ObjectMeta{Name: "other"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rev := f.Revisions["prod-v1-27-0-snapshot-b9159ca3"]
	if rev == nil || len(f.Revisions) != 2 || f.Revisions["standalone"] != standalone {
		t.Fatalf("revisions %v, want prod's and standalone", f.Revisions)
	}
	if ref := metav1.GetControllerOf(rev); ref == nil || ref.Kind != v1.KindIstio || ref.Name != "prod" || !refersTo(*ref, prod) {
		t.Errorf("prod's revision is controlled by %+v, want Istio prod", ref)
	}
	if plan := testEnv().ForIstio(prod, f); plan.Refusal != nil || plan.Existing != rev {
		t.Errorf("deciding prod over its own manifests' facts: %+v", plan)
	}
	if len(f.Tags) != 0 || f.Namespaces != nil || f.Istios["prod"] != prod || f.CNI != cni || f.ZTunnel != zt {
		t.Errorf("tags %v, namespaces %v, Istios %v, CNI %v, ZTunnel %v", f.Tags, f.Namespaces, f.Istios, f.CNI, f.ZTunnel)
	}
}

// TestFromManifestsRefusesWhatCannotBeApplied: two revisions of one name in the input would be
// applied over each other, and an Istio whose revision cannot be decided has no facts to give; each
// error names the input and, for a refusal, wraps it.
func TestFromManifestsRefusesWhatCannotBeApplied(t *testing.T) {
	cases := []struct {
		name string
		m    Manifests
		want string
		// refusal is whether the error wraps a *Refusal.
		refusal bool
	}{
		{"two Istios that make one revision", Manifests{Istios: []*v1.Istio{
			istio("prod-v1-27-0-snapshot-b9159ca3", v1.UpdateStrategyInPlace, v127), istio("prod", v1.UpdateStrategyRevisionBased, v127),
		}}, "Istio prod: the input already has an IstioRevision named prod-v1-27-0-snapshot-b9159ca3 (an Istio's revision or one given directly); rename one of them", false},
		{"an Istio's revision given as well", Manifests{Istios: []*v1.Istio{istio("prod", "", v127)}, Revisions: []*v1.IstioRevision{revision("prod", v127, 0)}},
			"IstioRevision prod: the input already has an IstioRevision named prod", false},
		{"two revisions of one name", Manifests{Revisions: []*v1.IstioRevision{revision("prod", v127, 0), revision("prod", v125, 0)}},
			"IstioRevision prod: the input already has an IstioRevision named prod", false},
		{"an Istio of an end-of-life version", Manifests{Istios: []*v1.Istio{istio("old", "", "v1.24.3")}}, "Istio old: ", true},
		{"an Istio whose revision name is too long", Manifests{Istios: []*v1.Istio{istio(strings.Repeat("x", 57), "", v127)}},
			"shorten the Istio's name", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := testEnv().FromManifests(tc.m)
			if f != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromManifests = %v, %v; want an error saying %q", f, err, tc.want)
			}
			var refusal *Refusal
			if errors.As(err, &refusal) != tc.refusal {
				t.Errorf("the error %v wraps a refusal: %t, want %t", err, !tc.refusal, tc.refusal)
			}
		})
	}
}

// TestMissingNamespaceSaysWhatWaits: each kind refused for a namespace that does not exist says how
// to create it and what bosun installs there once it does.
func TestMissingNamespaceSaysWhatWaits(t *testing.T) {
	none := facts([]string{})
	for _, tc := range []struct {
		kind    string
		refusal *Refusal
		want    string
	}{
		{v1.KindIstioRevision, testEnv().ForRevision(revision("prod", v127, 1), none).Refusal,
			"namespace istio-system does not exist: create it (kubectl create namespace istio-system); bosun installs istiod as soon as it exists"},
		{v1.KindIstioCNI, testEnv().ForCNI(&v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}, none).Refusal,
			"namespace istio-cni does not exist: create it (kubectl create namespace istio-cni); bosun installs istio-cni-node as soon as it exists"},
		{v1.KindZTunnel, testEnv().ForZTunnel(&v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}}, none).Refusal,
			"namespace ztunnel does not exist: create it (kubectl create namespace ztunnel); bosun installs ztunnel as soon as it exists"},
	} {
		if tc.refusal == nil || tc.refusal.Reason != v1.ReasonNamespaceNotFound || tc.refusal.Error() != tc.want {
			t.Errorf("%s: refusal %v, want %s %q", tc.kind, tc.refusal, v1.ReasonNamespaceNotFound, tc.want)
		}
	}
}
