package crds

import (
	"testing"
	"testing/fstest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/render"
)

// TestUnrenderableCRDsAreAWarning: when the CRDs of the newest version in use cannot be rendered (its
// charts are missing from the resources folder), the reconcile ends without an error or a retry and a Warning
// Event on a revision of that version says why: a refusal that only the log told of would go unseen.
func TestUnrenderableCRDsAreAWarning(t *testing.T) {
	const version = "v1.27.0-snapshot.b9159ca3"
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.IstioRevisionSpec{Version: version, Namespace: "istio-system"}},
	).Build()
	renderer, err := render.New(fstest.MapFS{}, render.Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	recorder := &recorder{}
	r := &Reconciler{Client: c, Env: desired.Env{Catalog: catalog.Embedded()}, Renderer: renderer, Recorder: recorder}

	res, err := r.Reconcile(t.Context(), request)
	if err != nil || !res.IsZero() {
		t.Errorf("Reconcile returned %v, %+v; want no retry", err, res)
	}
	want := "IstioRevision/default Warning " + v1.ReasonReconcileError
	if len(recorder.events) != 1 || recorder.events[0] != want {
		t.Errorf("Events %q, want one %q", recorder.events, want)
	}
}

// recorder keeps the Events recorded through it as "Kind/name type reason".
type recorder struct{ events []string }

func (r *recorder) Eventf(regarding, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	kind := regarding.GetObjectKind().GroupVersionKind().Kind
	name := ""
	if o, ok := regarding.(metav1.Object); ok {
		name = o.GetName()
	}
	r.events = append(r.events, kind+"/"+name+" "+eventtype+" "+reason)
}
