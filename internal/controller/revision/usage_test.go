package revision

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
)

// TestATagOfARefusedIstioBlocksNoOtherRevision: a tag whose Istio bosun refuses (a version the catalog
// no longer has, after an upgrade of bosun) points nowhere new. It must not make every other
// revision's use Unknown, which would stop all pruning (field lesson #27 is about lookups failing,
// not about a refused target); it still counts for the revision its status names.
func TestATagOfARefusedIstioBlocksNoOtherRevision(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: v1.IstioSpec{Version: "v1.99.0"}},
		&v1.IstioRevisionTag{
			ObjectMeta: metav1.ObjectMeta{Name: "canary"},
			Spec:       v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstio, Name: "broken"}},
			Status:     v1.IstioRevisionTagStatus{IstioRevision: "old"},
		},
	).Build()
	r := &UsageReconciler{Client: c, Env: desired.Env{Catalog: catalog.Embedded()}}
	for rev, wantTags := range map[string]int{"unrelated": 0, "old": 1} {
		target, err := r.target(context.Background(), &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: rev}})
		if err != nil {
			t.Errorf("revision %s: the refused Istio of a tag made its use unknown: %v", rev, err)
		}
		if len(target.Tags) != wantTags {
			t.Errorf("revision %s is selected by tags %v, want %d", rev, target.Tags, wantTags)
		}
	}
}
