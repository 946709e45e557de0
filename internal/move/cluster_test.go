package move

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// droppingWriter answers every patch as an API server whose admission drops the labels written: the
// object comes back as it was.
type droppingWriter struct{ client.Writer }

func (droppingWriter) Patch(context.Context, client.Object, client.Patch, ...client.PatchOption) error {
	return nil
}

// TestARelabelTheAPIServerDoesNotKeepIsAnError: when the object the API server returns after a relabel
// lacks the istio.io/rev label written (an admission policy or webhook changed it), the move reports
// an error naming the label, rather than going on and relabelling it again at once.
func TestARelabelTheAPIServerDoesNotKeepIsAnError(t *testing.T) {
	m := &Mover{Writer: droppingWriter{}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	err := m.mark(t.Context(), ns, Record{Target: target.Key(), State: StateMoving}, target.Revision)
	if err == nil || !strings.Contains(err.Error(), "the API server kept istio.io/rev=\"\", not "+target.Revision) {
		t.Errorf("mark = %v, want an error saying the label was not kept", err)
	}
	if err := m.mark(t.Context(), ns, Record{Target: target.Key(), State: StateMoved}, ""); err != nil {
		t.Errorf("a record written without a label: %v", err)
	}
}
