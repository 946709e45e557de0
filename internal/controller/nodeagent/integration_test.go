//go:build integration

package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/operator/operatortest"
)

func TestMain(m *testing.M) { os.Exit(operatortest.Main(m, nil)) }

const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
)

// agentState waits until a node agent's status describes its latest spec and has the state.
func agentState(t *testing.T, c client.Client, obj client.Object, state string, check func() error) {
	t.Helper()
	operatortest.WaitFor(t, fmt.Sprintf("%T %s: %s", obj, obj.GetName(), state), func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		var observed int64
		var got string
		switch o := obj.(type) {
		case *v1.IstioCNI:
			observed, got = o.Status.ObservedGeneration, o.Status.State
		case *v1.ZTunnel:
			observed, got = o.Status.ObservedGeneration, o.Status.State
		}
		if observed != obj.GetGeneration() || got != state {
			return fmt.Errorf("state %q of generation %d, spec %d", got, observed, obj.GetGeneration())
		}
		if check != nil {
			return check()
		}
		return nil
	})
}

// TestCNI: an IstioCNI installs its DaemonSet into its namespace once the namespace exists, is Ready
// when every node runs the current template, and refuses a version ahead of a control plane that needs
// it while its DaemonSet keeps running. No row `kubectl get istiocni` prints contradicts itself.
func TestCNI(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "istiocnis")
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.IstioCNISpec{Version: "v1.25-latest", Namespace: "cni-later"}}
	operatortest.Create(t, c, cni)
	agentState(t, c, cni, v1.ReasonNamespaceNotFound, nil)
	operatortest.Namespace(t, c, "cni-later", nil)
	agentState(t, c, cni, v1.ReasonDaemonSetRollingOut, nil)
	operatortest.RollOutDaemonSet(t, c, "cni-later", "istio-cni-node", 2)
	agentState(t, c, cni, v1.StateHealthy, nil)

	// A control plane of 1.25 that needs the CNI: the CNI may not move two minors ahead of it.
	operatortest.Namespace(t, c, "cni-cp", nil)
	yes := true
	namespace, revision := "cni-cp", "cni-cp"
	operatortest.Create(t, c, &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: "cni-cp"}, Spec: v1.IstioRevisionSpec{Version: v125, Namespace: "cni-cp",
		Values: &v1.Values{Revision: &revision, Global: &v1.GlobalConfig{IstioNamespace: &namespace}, Pilot: &v1.PilotConfig{Cni: &v1.CNIUsageConfig{Enabled: &yes}}}}})
	before := &appsv1.DaemonSet{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "cni-later", Name: "istio-cni-node"}, before); err != nil {
		t.Fatal(err)
	}
	operatortest.Update(t, c, cni, func(o *v1.IstioCNI) { o.Spec.Version = "v1.27-latest" })
	agentState(t, c, cni, v1.ReasonVersionSkew, func() error {
		cond, err := operatortest.Condition(cni.Status.Conditions, v1.ConditionReconciled)
		if err != nil || !strings.Contains(cond.Message, "IstioCNI default runs Istio 1.27, which must be the control plane's minor version (1.25, IstioRevision cni-cp) or one behind") {
			return fmt.Errorf("Reconciled %+v %v", cond, err)
		}
		return operatortest.HasCondition(cni.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReady)
	})
	after := &appsv1.DaemonSet{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "cni-later", Name: "istio-cni-node"}, after); err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a refused version change touched the DaemonSet: resourceVersion %s, was %s (%v)", after.ResourceVersion, before.ResourceVersion, err)
	}
}

// TestZTunnelFollowsItsTarget: a ZTunnel with a targetRef waits while its Istio has not created its
// revision, then renders for that revision, and names it in its status.
func TestZTunnelFollowsItsTarget(t *testing.T) {
	c := operatortest.Client(t)
	operatortest.Columns(t, "ztunnels")
	operatortest.Namespace(t, c, "zt", nil)
	zt := &v1.ZTunnel{ObjectMeta: metav1.ObjectMeta{Name: v1.SingletonName}, Spec: v1.ZTunnelSpec{Version: "v1.27-latest", Namespace: "zt",
		TargetRef: &v1.TargetReference{Kind: v1.KindIstio, Name: "amb"}}}
	operatortest.Create(t, c, zt)
	agentState(t, c, zt, v1.ReasonRefNotFound, nil)
	// Events are sent apart from the status, a moment later.
	operatortest.WaitFor(t, "one Warning "+v1.ReasonRefNotFound+" for a targetRef that names nothing", func(ctx context.Context) error {
		events, err := operatortest.Events(ctx, c, v1.KindZTunnel, v1.SingletonName)
		if err != nil {
			return err
		}
		if len(events) != 1 || events[0] != "Warning "+v1.ReasonRefNotFound {
			return fmt.Errorf("Events %v", events)
		}
		return nil
	})
	operatortest.Namespace(t, c, "amb-system", nil)
	ambient := "ambient"
	operatortest.Create(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "amb"}, Spec: v1.IstioSpec{Version: v127, Namespace: "amb-system", Profile: ambient}})
	agentState(t, c, zt, v1.ReasonDaemonSetRollingOut, func() error {
		if zt.Status.IstioRevision != "amb" {
			return fmt.Errorf("follows %q", zt.Status.IstioRevision)
		}
		return nil
	})
	operatortest.RollOutDaemonSet(t, c, "zt", "ztunnel", 1)
	agentState(t, c, zt, v1.StateHealthy, nil)
}
