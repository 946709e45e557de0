package meshview

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

const (
	oldRev = "default-v1-27-2"
	newRev = "default-v1-27-3"
)

func ready(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: v1.ConditionReady, Status: status, Reason: reason}}
}

func revision(name, version string, owner *v1.Istio) *v1.IstioRevision {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version), Namespace: "istio-system"}}
	yes := true
	rev.OwnerReferences = []metav1.OwnerReference{{Kind: v1.KindIstio, Name: owner.Name, UID: owner.UID, Controller: &yes}}
	rev.Status.Conditions = ready(metav1.ConditionTrue, v1.ReasonReady)
	return rev
}

func injected(ns, name, rev, version, rs, hash string) Pod {
	return Pod{Pod: inuse.Pod{Namespace: ns, Name: name,
		Labels:      map[string]string{"pod-template-hash": hash},
		Annotations: map[string]string{"istio.io/rev": rev, "bosun.dev/proxy-version": version}},
		OwnerKind: "ReplicaSet", OwnerName: rs + "-" + hash}
}

// migration is a RevisionBased update half done: the tag default moved to the new revision; bookinfo
// selects it through the tag, and one of its workloads still runs on the old revision; shop still
// names the old revision; a finished Job pod was injected by the old one.
func migration() Snapshot {
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "istio-uid"},
		Spec: v1.IstioSpec{Version: "v1.27.3", Namespace: "istio-system", UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased}}}
	istio.Status.ActiveRevisionName = newRev
	istio.Status.Conditions = ready(metav1.ConditionTrue, v1.ReasonReady)
	tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: newRev}}}
	tag.Status.IstioRevision = newRev
	f := &desired.Facts{
		Istios:    map[string]*v1.Istio{"default": istio},
		Revisions: map[string]*v1.IstioRevision{oldRev: revision(oldRev, "v1.27.2", istio), newRev: revision(newRev, "v1.27.3", istio)},
		Tags:      map[string]*v1.IstioRevisionTag{"default": tag},
	}
	return Snapshot{
		Facts: f,
		Namespaces: []inuse.Namespace{
			{Name: "bookinfo", Labels: map[string]string{"istio-injection": "enabled"}},
			{Name: "shop", Labels: map[string]string{"istio.io/rev": oldRev}},
			{Name: "plain"},
		},
		Pods: []Pod{
			injected("bookinfo", "productpage-1", newRev, "v1.27.3", "productpage", "aaa"),
			injected("bookinfo", "productpage-2", newRev, "v1.27.3", "productpage", "aaa"),
			injected("bookinfo", "reviews-v2-1", oldRev, "v1.27.2", "reviews-v2", "bbb"),
			injected("shop", "cart-1", oldRev, "v1.27.2", "cart", "ccc"),
		},
		Finished: []Pod{{Pod: inuse.Pod{Namespace: "bookinfo", Name: "migrate-db-x", Annotations: map[string]string{"istio.io/rev": oldRev}}, OwnerKind: "Job", OwnerName: "migrate-db"}},
	}
}

// TestBuildShowsAMigration: the view of a half-done migration says how far each Istio got and what is
// left, what selects each revision and how, the workloads each injected with their proxies, which
// workloads are due for a restart and the command, and the finished pods apart.
func TestBuildShowsAMigration(t *testing.T) {
	s := migration()
	st := Build(desired.Env{}, s)
	if !st.Ready || st.APIVersion != APIVersion || st.Kind != Kind {
		t.Errorf("ready %t, %s %s", st.Ready, st.APIVersion, st.Kind)
	}
	want := Migration{Workloads: 3, OnActive: 1, LeftOn: map[string][]string{oldRev: {"bookinfo/reviews-v2", "shop/cart"}}}
	if len(st.Istios) != 1 || !reflect.DeepEqual(st.Istios[0].Migration, want) {
		t.Fatalf("migration %+v, want %+v", st.Istios, want)
	}
	if line := migrationLine(st.Istios[0]); line != "default: 1 of 3 workloads on "+newRev+"; left on "+oldRev+": bookinfo/reviews-v2, shop/cart" {
		t.Errorf("migration line %q", line)
	}
	byName := map[string]Revision{}
	for _, r := range st.Revisions {
		byName[r.Name] = r
	}
	newer, older := byName[newRev], byName[oldRev]
	if !newer.Active || older.Active {
		t.Errorf("active: new %t, old %t", newer.Active, older.Active)
	}
	if !reflect.DeepEqual(newer.Namespaces, []NamespaceRef{{Name: "bookinfo", By: "istio-injection=enabled via IstioRevisionTag default"}}) || !reflect.DeepEqual(newer.Tags, []string{"default"}) {
		t.Errorf("new revision: namespaces %+v, tags %v", newer.Namespaces, newer.Tags)
	}
	if !reflect.DeepEqual(older.Namespaces, []NamespaceRef{{Name: "shop", By: "istio.io/rev=" + oldRev}}) {
		t.Errorf("old revision: namespaces %+v", older.Namespaces)
	}
	if !reflect.DeepEqual(newer.Workloads, []Workload{{Namespace: "bookinfo", Kind: "Deployment", Name: "productpage", Pods: 2, Proxies: []string{"v1.27.3"}}}) {
		t.Errorf("new revision's workloads %+v", newer.Workloads)
	}
	if !reflect.DeepEqual(older.Proxies, map[string]int{"v1.27.2": 2}) {
		t.Errorf("old revision's proxies %v", older.Proxies)
	}
	wantRestarts := []Restart{{Namespace: "bookinfo", Kind: "Deployment", Name: "reviews-v2", Pods: 1, RunsOn: oldRev, Wants: newRev,
		Command: "kubectl rollout restart deployment/reviews-v2 -n bookinfo"}}
	if !reflect.DeepEqual(st.Restarts, wantRestarts) {
		t.Errorf("restarts %+v, want %+v", st.Restarts, wantRestarts)
	}
	if len(st.Finished) != 1 || st.Finished[0].Name != "migrate-db-x" {
		t.Errorf("finished %+v", st.Finished)
	}
}

// TestCountsAreInUse: each revision's pod count is what its IN USE counts, by internal/inuse over the
// same snapshot and desired.UsageTarget; the finished pod counts for neither.
func TestCountsAreInUse(t *testing.T) {
	s := migration()
	st := Build(desired.Env{}, s)
	var pods []inuse.Pod
	for _, p := range s.Pods {
		pods = append(pods, p.Pod)
	}
	lookup := inuse.NewMemory(s.Namespaces, pods)
	for _, r := range st.Revisions {
		usage, err := inuse.Revision(lookup, desired.Env{}.UsageTarget(s.Facts.Revisions[r.Name], s.Facts))
		if err != nil {
			t.Fatal(err)
		}
		if r.Pods != usage.Pods || len(r.Namespaces) != len(usage.Namespaces) {
			t.Errorf("%s: view %d pods, %d namespaces; IN USE %s", r.Name, r.Pods, len(r.Namespaces), usage.Message())
		}
	}
}

// TestGatewaysAreListedPerRevision: the pods istiod deployed for a Gateway API Gateway (a waypoint)
// are listed under their revision as the Gateway, not as the Deployment istiod made for it.
func TestGatewaysAreListedPerRevision(t *testing.T) {
	s := migration()
	waypoint := injected("bookinfo", "waypoint-1", newRev, "v1.27.3", "waypoint", "ddd")
	waypoint.Labels[inuse.LabelGatewayName], waypoint.Labels[inuse.LabelGatewayManaged] = "waypoint", "istio.io-gateway-controller"
	s.Pods = append(s.Pods, waypoint)
	st := Build(desired.Env{}, s)
	for _, r := range st.Revisions {
		for _, w := range r.Workloads {
			if w.Name == "waypoint" && (r.Name != newRev || w.Kind != "Gateway" || w.Pods != 1) {
				t.Errorf("revision %s lists %+v, want Gateway bookinfo/waypoint under %s", r.Name, w, newRev)
			}
			if w.Name == "waypoint" {
				return
			}
		}
	}
	t.Errorf("no revision lists the waypoint: %+v", st.Revisions)
}

// TestAnInPlaceUpdateLeavesProxiesToRestart: after an InPlace update, the pods injected before it run
// the old proxy on the same revision: due for a restart.
func TestAnInPlaceUpdateLeavesProxiesToRestart(t *testing.T) {
	s := migration()
	s.Facts.Revisions[oldRev].Spec.Version = "v1.27.4"
	st := Build(desired.Env{}, s)
	var shop *Restart
	for i := range st.Restarts {
		if st.Restarts[i].Namespace == "shop" {
			shop = &st.Restarts[i]
		}
	}
	if shop == nil || shop.RunsOn != oldRev+" (proxy v1.27.2)" || shop.Wants != oldRev+" (proxy v1.27.4)" {
		t.Errorf("restarts %+v, want shop/cart due for the new proxy", st.Restarts)
	}
}

// TestNotReadyAndNamespaces: a revision that is not Ready makes the view not Ready; -n narrows the
// workloads and namespaces shown, never the revisions.
func TestNotReadyAndNamespaces(t *testing.T) {
	s := migration()
	s.Facts.Revisions[newRev].Status.Conditions = ready(metav1.ConditionFalse, v1.ReasonIstiodNotReady)
	st := Build(desired.Env{}, s, "shop")
	if st.Ready {
		t.Error("ready with a revision that is not")
	}
	if len(st.Revisions) != 2 || len(st.Restarts) != 0 || st.Istios[0].Migration.Workloads != 1 {
		t.Errorf("narrowed to shop: revisions %d, restarts %+v, migration %+v", len(st.Revisions), st.Restarts, st.Istios[0].Migration)
	}
	var out bytes.Buffer
	if err := st.Text(&out, Style{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "NotReady(IstiodNotReady)") || strings.Contains(out.String(), "\x1b[") {
		t.Errorf("text:\n%s", out.String())
	}
}

// TestNodeAgents: a node agent shows its version, readiness and how many of its nodes run a ready
// pod; one that is not Ready makes the view not Ready.
func TestNodeAgents(t *testing.T) {
	s := migration()
	cni := &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1.IstioCNISpec{Version: "v1.27.3"}}
	cni.Status.Conditions = ready(metav1.ConditionFalse, v1.ReasonDaemonSetNotReady)
	s.Facts.CNI = cni
	s.Nodes = map[string]NodeCount{v1.KindIstioCNI: {Ready: 2, Desired: 3}}
	st := Build(desired.Env{}, s)
	want := []NodeAgent{{Kind: v1.KindIstioCNI, Name: "default", Version: "v1.27.3", Health: Health{Reason: v1.ReasonDaemonSetNotReady}, NodesReady: 2, NodesDesired: 3}}
	if st.Ready || !reflect.DeepEqual(st.NodeAgents, want) {
		t.Errorf("ready %t, node agents %+v, want %+v", st.Ready, st.NodeAgents, want)
	}
	var out bytes.Buffer
	if err := st.Text(&out, Style{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "IstioCNI default  v1.27.3  NotReady(DaemonSetNotReady)  2/3") {
		t.Errorf("text:\n%s", out.String())
	}
}

// paused gives the Istio of the view a move of its workloads that paused.
func paused(s Snapshot) {
	istio := s.Facts.Istios["default"]
	istio.Status.Conditions = append(istio.Status.Conditions, metav1.Condition{Type: v1.ConditionWorkloadsUpdated, Status: metav1.ConditionFalse, Reason: v1.ReasonPaused,
		Message: "paused in namespace shop: shop/Deployment/cart did not become available with the proxy of " + newRev})
	istio.Status.Conditions = append(istio.Status.Conditions, metav1.Condition{Type: v1.ConditionUpdatePreflight, Status: metav1.ConditionFalse, Reason: v1.ReasonPreflightWarnings,
		Message: "the change from v1.27.2 to v1.27.3 was checked before it was made: PodDisruptionBudget shop/cart allows no disruption"})
	istio.Status.Workloads = &v1.WorkloadsUpdateStatus{Target: newRev + " (v1.27.3)", NamespacesDone: 1, NamespacesLeft: 1, PodsLeft: 3,
		Left: []string{"bookinfo/Pod/debug: a bare pod: delete it and create it again to move it"}}
}

// TestWorkloadsUpdate: when bosun moves an Istio's workloads, the view says how far it is and, when it
// paused, which workload stopped it, and what the checks before the version change found; without a
// move it says nothing of one.
func TestWorkloadsUpdate(t *testing.T) {
	s := migration()
	if st := Build(desired.Env{}, s); st.Istios[0].WorkloadsUpdate != nil {
		t.Errorf("an Istio whose workloads bosun does not move shows a move: %+v", st.Istios[0].WorkloadsUpdate)
	}
	paused(s)
	st := Build(desired.Env{}, s)
	if u := st.Istios[0].WorkloadsUpdate; u == nil || u.Done || u.Reason != v1.ReasonPaused || u.PodsLeft != 3 {
		t.Fatalf("workloads update %+v", u)
	}
	var out bytes.Buffer
	if err := st.Text(&out, Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default: bosun moves the workloads to " + newRev + " (v1.27.3): Paused; 1 namespace moved, 1 left, 3 pods on an older proxy",
		"\n  paused in namespace shop: shop/Deployment/cart did not become available",
		"default: pre-flight: the change from v1.27.2 to v1.27.3 was checked before it was made: PodDisruptionBudget shop/cart allows no disruption"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text does not say %q:\n%s", want, out.String())
		}
	}
}

// TestRestartDue: a pod is due when it runs another revision than its labels, or its namespace's,
// select, through a tag or by name, or an older proxy of the same revision; never when it has no
// sidecar, opted out, or selects nothing that exists.
func TestRestartDue(t *testing.T) {
	f := migration().Facts
	pod := func(labels, annotations map[string]string) Pod {
		return Pod{Pod: inuse.Pod{Namespace: "ns", Name: "p", Labels: labels, Annotations: annotations}}
	}
	onOld := map[string]string{"istio.io/rev": oldRev, "bosun.dev/proxy-version": "v1.27.2"}
	for _, tc := range []struct {
		name        string
		pod         Pod
		nsLabels    map[string]string
		due         bool
		runs, wants string
	}{
		{"namespace moved to the new revision by name", pod(nil, onOld), map[string]string{"istio.io/rev": newRev}, true, oldRev, newRev},
		{"namespace selects default, the tag on the new revision", pod(nil, onOld), map[string]string{"istio-injection": "enabled"}, true, oldRev, newRev},
		{"namespace selects the tag by name", pod(nil, onOld), map[string]string{"istio.io/rev": "default"}, true, oldRev, newRev},
		{"on the revision it selects", pod(nil, onOld), map[string]string{"istio.io/rev": oldRev}, false, "", ""},
		{"its own label, in a namespace that selects nothing", pod(map[string]string{"istio.io/rev": newRev}, onOld), nil, true, oldRev, newRev},
		{"opted out by label", pod(map[string]string{"sidecar.istio.io/inject": "false"}, onOld), map[string]string{"istio.io/rev": newRev}, false, "", ""},
		{"opted out by annotation", pod(nil, map[string]string{"istio.io/rev": oldRev, "sidecar.istio.io/inject": "false"}), map[string]string{"istio.io/rev": newRev}, false, "", ""},
		{"no sidecar", pod(nil, nil), map[string]string{"istio.io/rev": newRev}, false, "", ""},
		{"selects a name that is no revision or tag", pod(nil, onOld), map[string]string{"istio.io/rev": "gone"}, false, "", ""},
		{"namespace opted out", pod(nil, onOld), map[string]string{"istio-injection": "disabled"}, false, "", ""},
		{"older proxy of the same revision", pod(nil, map[string]string{"istio.io/rev": newRev, "bosun.dev/proxy-version": "v1.27.2"}), map[string]string{"istio.io/rev": newRev},
			true, newRev + " (proxy v1.27.2)", newRev + " (proxy v1.27.3)"},
		{"proxy version unknown", pod(nil, map[string]string{"istio.io/rev": newRev}), map[string]string{"istio.io/rev": newRev}, false, "", ""},
	} {
		due, ok := RestartDue(tc.pod, tc.nsLabels, f)
		if ok != tc.due || due.RunsOn != tc.runs || due.Wants != tc.wants {
			t.Errorf("%s: %+v %t, want %t on %q wanting %q", tc.name, due, ok, tc.due, tc.runs, tc.wants)
		}
	}
}

// TestAWorkloadHalfwayIsLeftOnTheOldRevision: a Deployment with pods on both revisions is one
// workload, not yet on the active revision, and left on the old one; a tag named in a namespace's
// istio.io/rev is shown as the way it selects the revision; a namespace selecting a name that is no
// revision or tag is listed apart.
func TestAWorkloadHalfwayIsLeftOnTheOldRevision(t *testing.T) {
	s := migration()
	s.Pods = append(s.Pods, injected("bookinfo", "reviews-v2-2", newRev, "v1.27.3", "reviews-v2", "bbb"))
	s.Namespaces = append(s.Namespaces, inuse.Namespace{Name: "canary", Labels: map[string]string{"istio.io/rev": "default"}},
		inuse.Namespace{Name: "lost", Labels: map[string]string{"istio.io/rev": "gone"}})
	st := Build(desired.Env{}, s)
	want := Migration{Workloads: 3, OnActive: 1, LeftOn: map[string][]string{oldRev: {"bookinfo/reviews-v2", "shop/cart"}}}
	if !reflect.DeepEqual(st.Istios[0].Migration, want) {
		t.Errorf("migration %+v, want %+v", st.Istios[0].Migration, want)
	}
	var canary []NamespaceRef
	for _, r := range st.Revisions {
		for _, ns := range r.Namespaces {
			if ns.Name == "canary" {
				canary = append(canary, ns)
			}
		}
	}
	if len(canary) != 1 || canary[0].By != "istio.io/rev=default via IstioRevisionTag default" {
		t.Errorf("canary selects %+v", canary)
	}
	if !reflect.DeepEqual(st.Unresolved, []NamespaceRef{{Name: "lost", By: "istio.io/rev=gone"}}) {
		t.Errorf("unresolved %+v", st.Unresolved)
	}
}

// TestJSONShape: the JSON of a view has exactly the field names docs/status.md documents, held in
// testdata/shape.json; renaming or removing one is a new apiVersion.
func TestJSONShape(t *testing.T) {
	s := migration()
	paused(s)
	s.Facts.CNI = &v1.IstioCNI{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	s.Namespaces = append(s.Namespaces, inuse.Namespace{Name: "lost", Labels: map[string]string{"istio.io/rev": "gone"}})
	data, err := json.Marshal(Build(desired.Env{}, s, "bookinfo", "shop", "lost"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	fieldPaths("", v, got)
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	golden := filepath.Join("testdata", "shape.json")
	if os.Getenv("BOSUN_UPDATE_GOLDEN") == "1" {
		out, _ := json.MarshalIndent(names, "", "  ")
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, want) {
		t.Errorf("JSON field paths %v, want %v (testdata/shape.json)", names, want)
	}
}

// fieldPaths collects the paths of the object fields in v: istios[].migration.leftOn, say. The keys
// of maps of names (leftOn's revisions, proxies' versions) are not fields.
func fieldPaths(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if strings.HasSuffix(prefix, "leftOn") || strings.HasSuffix(prefix, "proxies") {
			return
		}
		for k, child := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			fieldPaths(p, child, out)
		}
	case []any:
		for _, child := range x {
			fieldPaths(prefix+"[]", child, out)
		}
	}
}
