package revision

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/controller/status"
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

// TestInUseCountsAreHeldBackForTheRefreshInterval: during a rollout the counts in the InUse message
// change with every pod; the writer rewrites them at most once per RefreshInterval and says when to
// try again, while a change of the condition's status (which pruning reads) is written at once.
func TestInUseCountsAreHeldBackForTheRefreshInterval(t *testing.T) {
	var applies []string
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, sub string, _ runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
			applies = append(applies, sub)
			return nil
		},
	}).Build()
	w := &InUseWriter{Status: &status.Writer{Client: c, Manager: UsageFieldManager}, RefreshInterval: 5 * time.Second}
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "u1"}}
	rev.SetGroupVersionKind(v1.GroupVersion.WithKind(v1.KindIstioRevision))
	t0 := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	write := func(at time.Duration, st metav1.ConditionStatus, message string) ctrl.Result {
		t.Helper()
		cond := metav1.Condition{Type: v1.ConditionInUse, Status: st, Reason: "Reason" + string(st), Message: message}
		res, err := w.Write(context.Background(), rev, nil, cond, t0.Add(at), func(written metav1.Condition) (any, bool) {
			return map[string]any{"conditions": []metav1.Condition{written}}, false
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	steps := []struct {
		at      time.Duration
		status  metav1.ConditionStatus
		message string
		writes  int
		requeue time.Duration
	}{
		{0, metav1.ConditionTrue, "Referenced by 1 namespace (a) and 1 pods", 1, 0},
		{2 * time.Second, metav1.ConditionTrue, "Referenced by 1 namespace (a) and 2 pods", 1, 3 * time.Second},
		{4 * time.Second, metav1.ConditionTrue, "Referenced by 1 namespace (a) and 3 pods", 1, time.Second},
		{5 * time.Second, metav1.ConditionTrue, "Referenced by 1 namespace (a) and 3 pods", 2, 0},
		{6 * time.Second, metav1.ConditionFalse, "Not referenced by any namespace, pod or tag", 3, 0},
	}
	for _, s := range steps {
		res := write(s.at, s.status, s.message)
		if len(applies) != s.writes || res.RequeueAfter != s.requeue {
			t.Errorf("at %s, %s %q: %d writes and a retry after %s, want %d and %s", s.at, s.status, s.message, len(applies), res.RequeueAfter, s.writes, s.requeue)
		}
	}
}
