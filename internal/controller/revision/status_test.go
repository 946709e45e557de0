package revision

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/values"
)

// cached is a cache holding at most one istiod Deployment; its lists of pods and namespaces are
// empty, or fail with listErr.
type cached struct {
	deployment *unstructured.Unstructured
	listErr    error
}

func (c cached) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if u, ok := obj.(*unstructured.Unstructured); ok && c.deployment != nil && key == client.ObjectKeyFromObject(c.deployment) {
		c.deployment.DeepCopyInto(u)
		return nil
	}
	return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
}

func (c cached) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return c.listErr
}

// testEnv has the built-in catalog and a default profile for each of its versions.
func testEnv() desired.Env {
	resources := fstest.MapFS{}
	for _, v := range catalog.Embedded().Versions() {
		resources[v.Name+"/profiles/default.yaml"] = &fstest.MapFile{Data: []byte("spec:\n  values: {}\n")}
	}
	return desired.Env{Catalog: catalog.Embedded(), Resources: resources, Platform: values.Kubernetes}
}

// TestRevisionStatus: a local revision's Ready comes from istiod's Deployment, whether its spec was
// applied, refused or its apply failed (an istiod that serves keeps serving, and what points at it must
// not see it go Unknown); a remote revision is never Ready here; a refusal or failure shows in
// Reconciled and the state; InUse is evaluated whatever else happened, and a usage that cannot be told
// is Unknown without making the revision unhealthy.
func TestRevisionStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	remote := "remote"
	istiod := deployment(t, "spec: {replicas: 1}\nstatus: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, "+
		"conditions: [{type: Available, status: 'True'}, {type: Progressing, status: 'True', reason: NewReplicaSetAvailable}]}")
	istiod.SetNamespace("istio-system")
	istiod.SetName("istiod-prod")
	noNamespace := &desired.Refusal{Reason: v1.ReasonNamespaceNotFound, Err: errors.New("namespace istio-system does not exist")}
	cases := []struct {
		name    string
		values  *v1.Values
		cache   cached
		outcome controller.Outcome
		// want are the status and reason of Reconciled, Ready, DependenciesHealthy and InUse.
		want      [4]string
		wantType  string
		wantState string
	}{
		{"applied, istiod rolled out", nil, cached{deployment: istiod}, controller.Outcome{},
			[4]string{"True/" + v1.ReasonReconciled, "True/" + v1.ReasonReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeLocal, v1.StateHealthy},
		{"applied, istiod missing", nil, cached{}, controller.Outcome{},
			[4]string{"True/" + v1.ReasonReconciled, "False/" + v1.ReasonIstiodNotReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeLocal, v1.ReasonIstiodNotReady},
		{"a remote revision", &v1.Values{Profile: &remote}, cached{}, controller.Outcome{},
			[4]string{"True/" + v1.ReasonReconciled, "False/" + v1.ReasonRemoteIstiodNotReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeRemote, v1.ReasonRemoteIstiodNotReady},
		{"refused while its istiod serves: Ready says so", nil, cached{deployment: istiod}, controller.Outcome{Refusal: noNamespace},
			[4]string{"False/" + v1.ReasonNamespaceNotFound, "True/" + v1.ReasonReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeLocal, v1.ReasonNamespaceNotFound},
		{"refused with nothing running", nil, cached{}, controller.Outcome{Refusal: noNamespace},
			[4]string{"False/" + v1.ReasonNamespaceNotFound, "False/" + v1.ReasonIstiodNotReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeLocal, v1.ReasonNamespaceNotFound},
		{"an apply that failed, retried: istiod still serves", nil, cached{deployment: istiod}, controller.Outcome{Err: errors.New("the API server is unavailable")},
			[4]string{"False/" + v1.ReasonReconcileError, "True/" + v1.ReasonReady, "True/" + v1.ReasonDependenciesHealthy, "False/" + v1.ReasonNotReferencedByAnything},
			v1.RevisionTypeLocal, v1.ReasonReconcileError},
		{"usage cannot be told", nil, cached{deployment: istiod, listErr: errors.New("the cache is not synced")}, controller.Outcome{},
			[4]string{"True/" + v1.ReasonReconciled, "True/" + v1.ReasonReady, "True/" + v1.ReasonDependenciesHealthy, "Unknown/" + v1.ReasonUsageCheckFailed},
			v1.RevisionTypeLocal, v1.StateHealthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "uid-prod", Generation: 2},
				Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system", Values: tc.values}}
			if tc.values == nil {
				name := "prod"
				rev.Spec.Values = &v1.Values{Revision: &name}
			}
			tc.outcome.Now, tc.outcome.Facts = now, &desired.Facts{}
			kind := Kind{Reader: tc.cache, Env: testEnv(), Usage: &controller.Usage{Clock: clock.RealClock{}}}
			got, _, _, err := kind.Status(t.Context(), rev, tc.outcome)
			if err != nil {
				t.Fatal(err)
			}
			st := got.(v1.IstioRevisionStatus)
			for i, ct := range Conditions {
				c := meta.FindStatusCondition(st.Conditions, ct)
				if c == nil {
					t.Errorf("no %s condition", ct)
					continue
				}
				if g := string(c.Status) + "/" + c.Reason; g != tc.want[i] {
					t.Errorf("%s %s (%s), want %s", ct, g, c.Message, tc.want[i])
				}
			}
			if st.Type != tc.wantType || st.State != tc.wantState || st.ObservedGeneration != 2 {
				t.Errorf("type %q, state %q, generation %d; want %q, %q, 2", st.Type, st.State, st.ObservedGeneration, tc.wantType, tc.wantState)
			}
		})
	}
}

// registry is a cache holding bosun's resources.
func registry(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// names are the revision names of requests.
func names[T interface{ comparable }](reqs []T, name func(T) string) []string {
	var out []string
	for _, r := range reqs {
		if n := name(r); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// TestTagEventsWakeTheRevisionsItConcerns: a tag event reconciles the revision of its name (which the
// tag may keep out or let in), the revision its webhook points at (status), and the one its spec
// resolves to, decided from the Istio's spec rather than the lagging status
// (docs/architecture.md#lesson-follow-the-spec). When the facts cannot be read, the first two still are.
func TestTagEventsWakeTheRevisionsItConcerns(t *testing.T) {
	prod := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1.IstioSpec{Version: "v1.27.0-snapshot.b9159ca3",
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased}}}
	onIstio := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "canary"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}}}
	onIstio.Status.IstioRevision = "prod-v1-25-0-snapshot-be4b14ad"
	onRevision := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: "blue"}}}
	failing := interceptor.NewClient(registry(t), interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("the cache is not synced")
		},
	})
	cases := []struct {
		name   string
		reader client.Reader
		tag    *v1.IstioRevisionTag
		want   []string
	}{
		{"a tag on an Istio that moved on", registry(t, prod), onIstio, []string{"canary", "prod-v1-25-0-snapshot-be4b14ad", "prod-v1-27-0-snapshot-b9159ca3"}},
		{"a tag on a revision, pointing nowhere yet", registry(t), onRevision, []string{"blue", "default"}},
		{"a tag on an Istio that does not exist", registry(t), onIstio, []string{"canary", "prod-v1-25-0-snapshot-be4b14ad"}},
		{"the facts cannot be read", failing, onIstio, []string{"canary", "prod-v1-25-0-snapshot-be4b14ad"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind := Kind{Reader: tc.reader, Env: testEnv()}
			got := names(kind.tagRevisions(t.Context(), tc.tag), func(r reconcile.Request) string { return r.Name })
			if !slices.Equal(got, tc.want) {
				t.Errorf("woken %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWorkloadEventsWakeTheRevisionsTheyReference: a namespace or pod event evaluates the use of each
// name it references and, where a tag has that name, of the revision the tag's webhook points at:
// istio-injection=enabled references default, and wins over istio.io/rev as Istio's webhooks let it
// (docs/architecture.md#lesson-default-tag).
func TestWorkloadEventsWakeTheRevisionsTheyReference(t *testing.T) {
	tag := func(name string, target v1.TargetReference, points string) *v1.IstioRevisionTag {
		tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionTagSpec{TargetRef: target}}
		tag.Status.IstioRevision = points
		return tag
	}
	revision := func(name, istio string) *v1.IstioRevision {
		rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if istio != "" {
			rev.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio,
				Name: istio, UID: "1", Controller: ptr.To(true)}}
		}
		return rev
	}
	// canary's spec names the Istio prod, whose next revision prod-4 its webhook does not point at yet;
	// the workloads on canary count for it as soon as the tag's spec says so.
	reader := registry(t,
		tag("default", v1.TargetReference{Kind: v1.KindIstioRevision, Name: "prod-2"}, "prod-2"),
		tag("canary", v1.TargetReference{Kind: v1.KindIstio, Name: "prod"}, "prod-3"),
		revision("prod-3", "prod"), revision("prod-4", "prod"), revision("other", "staging"), revision("lone", ""))
	object := func(namespace string, labels, annotations map[string]string) client.Object {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: namespace, Labels: labels, Annotations: annotations}}
	}
	cases := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"a namespace on a revision", object("", map[string]string{"istio.io/rev": "prod-1"}, nil), []string{"prod-1"}},
		{"a namespace on a tag", object("", map[string]string{"istio.io/rev": "canary"}, nil), []string{"canary", "prod-3", "prod-4"}},
		{"istio-injection=enabled wins over istio.io/rev", object("", map[string]string{"istio-injection": "enabled", "istio.io/rev": "prod-1"}, nil), []string{"default", "prod-2"}},
		{"a namespace that opted out", object("", map[string]string{"istio-injection": "disabled", "istio.io/rev": "prod-1"}, nil), nil},
		{"a pod injected by one revision, selecting a tag", object("app", map[string]string{"istio.io/rev": "canary"}, map[string]string{"istio.io/rev": "prod-1"}),
			[]string{"canary", "prod-1", "prod-3", "prod-4"}},
		{"a pod asking for injection by default", object("app", map[string]string{"sidecar.istio.io/inject": "true"}, nil), []string{"default", "prod-2"}},
		{"a pod that references nothing", object("app", map[string]string{"app": "web"}, nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := names(Kind{Reader: reader}.referencedRevisions(t.Context(), tc.obj), func(s string) string { return s })
			if !slices.Equal(got, tc.want) {
				t.Errorf("woken %v, want %v", got, tc.want)
			}
		})
	}
}
