//go:build integration

package tag_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
	"github.com/bosun-mesh/bosun/internal/render"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
)

// tagStatus waits until the tag's status describes its latest spec and check passes.
func tagStatus(t *testing.T, c client.Client, name, what string, check func(*v1.IstioRevisionTag) error) {
	t.Helper()
	operatortest.WaitFor(t, "IstioRevisionTag "+name+": "+what, func(ctx context.Context) error {
		tag := &v1.IstioRevisionTag{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, tag); err != nil {
			return err
		}
		if tag.Status.ObservedGeneration != tag.Generation {
			return fmt.Errorf("status of generation %d, spec %d", tag.Status.ObservedGeneration, tag.Generation)
		}
		return check(tag)
	})
}

// pointsAt checks where a tag's webhook points, and its state.
func pointsAt(revision, state string) func(*v1.IstioRevisionTag) error {
	return func(tag *v1.IstioRevisionTag) error {
		if tag.Status.IstioRevision != revision || tag.Status.State != state {
			return fmt.Errorf("points at %q, state %q (%v)", tag.Status.IstioRevision, tag.Status.State, tag.Status.Conditions)
		}
		return nil
	}
}

// webhookRevision is the revision the tag's injection webhook sends to: the istio.io/rev label istiod's
// chart gives it.
func webhookRevision(ctx context.Context, c client.Client, tag string) (string, error) {
	var list admissionv1.MutatingWebhookConfigurationList
	if err := c.List(ctx, &list, client.MatchingLabels{render.LabelOwner: render.OwnerLabelValue(render.Owner{Kind: v1.KindIstioRevisionTag, Name: tag})}); err != nil {
		return "", err
	}
	if len(list.Items) != 1 {
		return "", fmt.Errorf("%d webhook configurations", len(list.Items))
	}
	return list.Items[0].Labels["istio.io/rev"], nil
}

// TestTagFollowsARevisionBasedUpdate is the documents' update with a tag (updating §2.2): the tag
// points at the Istio's revision; when the Istio moves to a new version, the tag stays on the old
// revision until the new one's istiod is ready, and then moves, so injection through the tag always
// has an istiod that answers. No row `kubectl get` prints on the way contradicts itself.
func TestTagFollowsARevisionBasedUpdate(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiorevisiontags")
	operatortest.Columns(t, "istiorevisions")
	operatortest.Columns(t, "istios")
	operatortest.Namespace(t, c, "follow-system", nil)
	grace := int64(0)
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "follow"}, Spec: v1.IstioSpec{Version: v125, Namespace: "follow-system",
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased, InactiveRevisionDeletionGracePeriodSeconds: &grace}}}
	operatortest.Create(t, c, istio)
	const old, next = "follow-v1-25-0-snapshot-be4b14ad", "follow-v1-27-0-snapshot-b9159ca3"
	operatortest.Create(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "follow-stable"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstio, Name: "follow"}}})
	tagStatus(t, c, "follow-stable", "on the first revision, its istiod not ready", pointsAt(old, v1.ReasonIstiodNotReady))
	operatortest.RollOut(t, c, "follow-system", "istiod-"+old)
	tagStatus(t, c, "follow-stable", "ready and unused", pointsAt(old, v1.ReasonNotReferencedByAnything))
	operatortest.Namespace(t, c, "follow-app", map[string]string{"istio.io/rev": "follow-stable"})
	tagStatus(t, c, "follow-stable", "in use", pointsAt(old, v1.StateHealthy))

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	tagStatus(t, c, "follow-stable", "staying on the old revision while the new one is not ready", func(tag *v1.IstioRevisionTag) error {
		if err := pointsAt(old, v1.StateHealthy)(tag); err != nil {
			return err
		}
		cond, err := operatortest.Condition(tag.Status.Conditions, v1.ConditionReconciled)
		if err != nil || !strings.Contains(cond.Message, "moves to IstioRevision "+next+" once that revision's istiod is ready") {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return nil
	})
	if rev, err := webhookRevision(t.Context(), c, "follow-stable"); err != nil || rev != old {
		t.Fatalf("while the new istiod is not ready, the tag's webhook points at %q (%v), want %s", rev, err, old)
	}
	operatortest.RollOut(t, c, "follow-system", "istiod-"+next)
	tagStatus(t, c, "follow-stable", "moved to the new revision", pointsAt(next, v1.StateHealthy))
	operatortest.WaitFor(t, "the tag's webhook to point at the new revision", func(ctx context.Context) error {
		rev, err := webhookRevision(ctx, c, "follow-stable")
		if err != nil || rev != next {
			return fmt.Errorf("points at %q (%v)", rev, err)
		}
		return nil
	})
	operatortest.WaitFor(t, "the old revision, unused, to be removed", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Name: old}, &v1.IstioRevision{})
		if err == nil {
			return fmt.Errorf("%s is still there", old)
		}
		return client.IgnoreNotFound(err)
	})
}

// TestTagRefusals: a tag bosun cannot act on says why in its Reconciled condition and one Warning
// Event, applies nothing, and acts once what it names is there.
func TestTagRefusals(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiorevisiontags")
	operatortest.Namespace(t, c, "refused-system", nil)
	remote := "remote"
	cases := []struct {
		name, target, reason, message string
	}{
		{"refused-missing", "refused-nowhere", v1.ReasonRefNotFound, "the targetRef names IstioRevision refused-nowhere, which does not exist"},
		{"refused-remote", "refused-far", v1.ReasonReconcileError, "a tag cannot point at a remote revision"},
	}
	far := revision("refused-far", "refused-system")
	far.Spec.Values.Profile = &remote
	operatortest.Create(t, c, far)
	for _, tc := range cases {
		operatortest.Create(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: tc.name},
			Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: tc.target}}})
	}
	for _, tc := range cases {
		tagStatus(t, c, tc.name, "refused", func(tag *v1.IstioRevisionTag) error {
			cond, err := operatortest.Condition(tag.Status.Conditions, v1.ConditionReconciled)
			if err != nil {
				return err
			}
			if cond.Reason != tc.reason || !strings.Contains(cond.Message, tc.message) || tag.Status.State != tc.reason {
				return fmt.Errorf("Reconciled %s/%s %q, state %q", cond.Status, cond.Reason, cond.Message, tag.Status.State)
			}
			return nil
		})
		operatortest.WaitFor(t, "a Warning Event on "+tc.name, func(ctx context.Context) error {
			events, err := operatortest.Events(ctx, c, v1.KindIstioRevisionTag, tc.name)
			if err != nil {
				return err
			}
			if len(events) != 1 || events[0] != "Warning "+tc.reason {
				return fmt.Errorf("Events %v, want one Warning %s", events, tc.reason)
			}
			return nil
		})
		if _, err := webhookRevision(t.Context(), c, tc.name); err == nil || !strings.Contains(err.Error(), "0 webhook") {
			t.Errorf("the refused tag %s applied a webhook (%v)", tc.name, err)
		}
	}

	operatortest.Create(t, c, revision("refused-nowhere", "refused-system"))
	tagStatus(t, c, "refused-missing", "applied once its revision exists", func(tag *v1.IstioRevisionTag) error {
		return operatortest.HasCondition(tag.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled)
	})
}

// TestTagAndOlderRevisionOfItsName: a revision that is older holds the name; the tag is refused.
func TestTagAndOlderRevisionOfItsName(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "named-system", nil)
	rev := revision("named", "named-system")
	operatortest.Create(t, c, rev)
	operatortest.NextSecond(t, c, rev)
	operatortest.Create(t, c, &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "named"},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: "named"}}})
	tagStatus(t, c, "named", "refused for its name", func(tag *v1.IstioRevisionTag) error {
		return operatortest.HasCondition(tag.Status.Conditions, v1.ConditionReconciled, metav1.ConditionFalse, v1.ReasonNameAlreadyExists)
	})
}

// revision is an IstioRevision of v127 with the fewest values the API accepts.
func revision(name, namespace string) *v1.IstioRevision {
	return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v127, Namespace: namespace,
		Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: &namespace}}}}
}
