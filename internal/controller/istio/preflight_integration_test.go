//go:build integration

package istio_test

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

// TestPreflightRefusesAChangeTheCNIWouldBreak: a RevisionBased change to 1.27 of a control plane that
// needs the Istio CNI plugin, while the IstioCNI runs 1.25 (two minor versions behind), is refused
// before anything is written: no new revision, the old one active and Healthy, Reconciled=False
// PreflightFailed saying to update the IstioCNI, one Warning Event and one count in
// bosun_refusals_total however often the Istio is reconciled. Updating the IstioCNI lifts it: the new
// revision is created, with nothing else changed.
func TestPreflightRefusesAChangeTheCNIWouldBreak(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istios")
	operatortest.Namespace(t, c, "pfcni-system", nil)
	operatortest.Namespace(t, c, "istio-cni", nil)
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: v125, Namespace: "istio-cni"}}
	operatortest.Create(t, c, cni)
	operatortest.RollOutDaemonSet(t, c, "istio-cni", "istio-cni-node", 1)
	istio := newIstio("pfcni", "pfcni-system", v1.UpdateStrategyRevisionBased, v125)
	istio.Spec.Values = &v1.Values{Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: ptr.To(true)}}}
	operatortest.Create(t, c, istio)
	const old, next = "pfcni-v1-25-0-snapshot-be4b14ad", "pfcni-v1-27-0-snapshot-b9159ca3"
	operatortest.RollOut(t, c, "pfcni-system", "istiod-"+old)
	istioStatus(t, c, "pfcni", "Healthy", state(old, v1.StateHealthy))
	refusals := refusalCount(t, v1.ReasonPreflightFailed)

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	istioStatus(t, c, "pfcni", "the change refused, the old revision serving", func(i *v1.Istio) error {
		if err := reconciled(metav1.ConditionFalse, v1.ReasonPreflightFailed, "the change from "+v125+" to "+v127+
			" is refused until its pre-flight checks pass; nothing of it was applied and IstioRevision "+old+" keeps serving "+v125+
			": IstioCNI default runs Istio 1.25, which must be the control plane's minor version (1.27, IstioRevision "+next+") or one behind; set its spec.version to v1.27-latest")(i); err != nil {
			return err
		}
		if err := operatortest.HasCondition(i.Status.Conditions, v1.ConditionUpdatePreflight, metav1.ConditionFalse, v1.ReasonPreflightFailed); err != nil {
			return err
		}
		if err := operatortest.HasCondition(i.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ConditionReady); err != nil {
			return err
		}
		if i.Status.ActiveRevisionName != old {
			return fmt.Errorf("active revision %s, want %s", i.Status.ActiveRevisionName, old)
		}
		return nil
	})
	if err := c.Get(t.Context(), client.ObjectKey{Name: next}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
		t.Fatalf("IstioRevision %s: %v, want it not created while the change is refused", next, err)
	}
	// Another reconcile of the refused Istio tells nothing again, and writes nothing.
	n := istioReconciles(t)
	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Annotations = map[string]string{"example.com/poke": "1"} })
	poked := istio.ResourceVersion
	operatortest.WaitFor(t, "another reconcile of the Istios", func(context.Context) error {
		if got := istioReconciles(t); got <= n {
			return fmt.Errorf("%v reconciles, want more than %v", got, n)
		}
		return nil
	})
	if err := c.Get(t.Context(), client.ObjectKey{Name: "pfcni"}, istio); err != nil || istio.ResourceVersion != poked {
		t.Errorf("the Istio went from resourceVersion %s to %s (%v): a reconcile of a refusal that stands wrote it", poked, istio.ResourceVersion, err)
	}
	if got := refusalCount(t, v1.ReasonPreflightFailed) - refusals; got != 1 {
		t.Errorf("bosun_refusals_total{kind=Istio,reason=PreflightFailed} grew by %v, want 1", got)
	}
	events, err := operatortest.Events(t.Context(), c, v1.KindIstio, "pfcni")
	if err != nil || count(events, "Warning "+v1.ReasonPreflightFailed) != 1 || count(events, "Warning "+v1.ConditionUpdatePreflight) != 0 {
		t.Errorf("Events %v (%v), want one Warning %s and no %s for the hard finding", events, err, v1.ReasonPreflightFailed, v1.ConditionUpdatePreflight)
	}

	// The IstioCNI updated (the retiring revision no longer holds it back), the change goes ahead.
	operatortest.Update(t, c, cni, func(a *v1.IstioCNI) { a.Spec.Version = v127 })
	operatortest.WaitFor(t, "IstioRevision "+next+" created", func(ctx context.Context) error {
		return c.Get(ctx, client.ObjectKey{Name: next}, &v1.IstioRevision{})
	})
	operatortest.RollOut(t, c, "pfcni-system", "istiod-"+next)
	istioStatus(t, c, "pfcni", "the change made and checked", func(i *v1.Istio) error {
		if i.Status.ActiveRevisionName != next {
			return fmt.Errorf("active revision %s, want %s", i.Status.ActiveRevisionName, next)
		}
		if err := operatortest.HasCondition(i.Status.Conditions, v1.ConditionReconciled, metav1.ConditionTrue, v1.ReasonReconciled); err != nil {
			return err
		}
		return operatortest.HasCondition(i.Status.Conditions, v1.ConditionUpdatePreflight, metav1.ConditionTrue, v1.ReasonPreflightPassed)
	})
}

// TestPreflightRefusesValuesTheNewChartsRefuse: an InPlace change to 1.27 of an Istio whose values ask
// for compatibilityVersion 1.23, which 1.27's charts no longer know, is refused with the chart's words
// and the running revision keeps its spec; dropping the value lets the change go ahead.
func TestPreflightRefusesValuesTheNewChartsRefuse(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Namespace(t, c, "pfvals-system", nil)
	istio := newIstio("pfvals", "pfvals-system", v1.UpdateStrategyInPlace, v125)
	istio.Annotations = map[string]string{desired.AnnotationAllowMinorSkip: "true"}
	istio.Spec.Values = &v1.Values{CompatibilityVersion: ptr.To("1.23")}
	operatortest.Create(t, c, istio)
	operatortest.RollOut(t, c, "pfvals-system", "istiod-pfvals")
	istioStatus(t, c, "pfvals", "Healthy", state("pfvals", v1.StateHealthy))
	rev := &v1.IstioRevision{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "pfvals"}, rev); err != nil {
		t.Fatal(err)
	}
	generation := rev.Generation

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Version = v127 })
	istioStatus(t, c, "pfvals", "the change refused", reconciled(metav1.ConditionFalse, v1.ReasonPreflightFailed,
		"nothing of it was applied and IstioRevision pfvals keeps serving "+v125+": the charts of "+v127+" refuse the Istio's values"))
	istioStatus(t, c, "pfvals", "the chart's words", reconciled(metav1.ConditionFalse, v1.ReasonPreflightFailed, "unknown compatibility version 1.23"))
	if err := c.Get(t.Context(), client.ObjectKey{Name: "pfvals"}, rev); err != nil {
		t.Fatal(err)
	}
	if rev.Generation != generation || rev.Spec.Version != v125 {
		t.Fatalf("IstioRevision pfvals went to generation %d (from %d), version %s, while the change was refused", rev.Generation, generation, rev.Spec.Version)
	}

	operatortest.Update(t, c, istio, func(i *v1.Istio) { i.Spec.Values.CompatibilityVersion = nil })
	operatortest.WaitFor(t, "IstioRevision pfvals updated to "+v127, func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: "pfvals"}, rev); err != nil {
			return err
		}
		if rev.Spec.Version != v127 {
			return fmt.Errorf("version %s", rev.Spec.Version)
		}
		return nil
	})
}

// refusalCount is bosun_refusals_total for Istios with reason.
func refusalCount(t *testing.T, reason string) float64 {
	t.Helper()
	return operatortest.CounterSum(t, "bosun_refusals_total", map[string]string{"kind": v1.KindIstio, "reason": reason})
}

// istioReconciles counts the Istio controller's reconciles.
func istioReconciles(t *testing.T) float64 {
	t.Helper()
	return operatortest.CounterSum(t, "controller_runtime_reconcile_total", map[string]string{"controller": "istio"})
}
