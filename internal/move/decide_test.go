package move

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/values"
)

var (
	target = Target{Revision: "default-v1-27-0", Version: "v1.27.0", UID: "uid-new"}
	old    = map[string]bool{"default-v1-26-0": true}
	mine   = map[string]bool{"default-v1-26-0": true, "default-v1-27-0": true}
	now    = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
)

func istio(generation int64, resume string) *v1.Istio {
	i := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: generation}}
	if resume != "" {
		i.Annotations = map[string]string{AnnotationResume: resume}
	}
	return i
}

func withRecord(n Namespace, r Record) Namespace {
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[AnnotationRecord] = r.Encode()
	return n
}

// TestOrder: namespaces move by wave, lowest first, then by name; a wave that is not a whole number
// stops the move with a message that says what to write instead.
func TestOrder(t *testing.T) {
	wave := func(name, w string) Namespace {
		n := Namespace{Name: name}
		if w != "" {
			n.Annotations = map[string]string{AnnotationWave: w}
		}
		return n
	}
	got, err := Order([]Namespace{wave("reviews", ""), wave("frontend", "2"), wave("db", "-1"), wave("cart", ""), wave("edge", " 2 ")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range got {
		names = append(names, n.Name)
	}
	if strings.Join(names, " ") != "db cart reviews edge frontend" {
		t.Errorf("order %v, want db (wave -1), cart and reviews (0), edge and frontend (2)", names)
	}
	_, err = Order([]Namespace{wave("shop", "first")})
	if err == nil || !strings.Contains(err.Error(), `namespace shop: annotation bosun.dev/update-wave="first" is not a whole number`) || !strings.Contains(err.Error(), "such as 1") {
		t.Errorf("a wave that is no number: %v, want an error naming the namespace and what to write", err)
	}
}

// TestRelabel: only a namespace whose istio.io/rev names an old revision of the mesh is relabelled; one
// that follows a tag or istio-injection=enabled moves with the tag.
func TestRelabel(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{inuse.LabelRev: "default-v1-26-0"}, "default-v1-26-0"},
		{map[string]string{inuse.LabelRev: "default-v1-27-0"}, ""},
		{map[string]string{inuse.LabelRev: "prod-stable"}, ""},
		{map[string]string{"istio-injection": "enabled", inuse.LabelRev: "default-v1-26-0"}, ""},
		{map[string]string{"istio-injection": "enabled"}, ""},
		{map[string]string{inuse.LabelRev: "other-mesh-v1-26-0"}, ""},
	} {
		if got := Relabel(Namespace{Name: "ns", Labels: c.labels}, old); got != c.want {
			t.Errorf("%v: relabel from %q, want %q", c.labels, got, c.want)
		}
	}
}

// TestRecordFor: a record counts only for the change it was written for, and a pause counts only
// until the Istio's spec or its resume annotation changes.
func TestRecordFor(t *testing.T) {
	paused := Record{Target: target.Key(), State: StatePaused, Generation: 3, Resume: "1"}
	ns := withRecord(Namespace{Name: "shop"}, paused)
	if r := ns.RecordFor(target, istio(3, "1")); r == nil || r.State != StatePaused {
		t.Errorf("paused record read as %+v", r)
	}
	if r := ns.RecordFor(target, istio(3, "2")); r != nil {
		t.Errorf("a new resume annotation leaves the pause in force: %+v", r)
	}
	if r := ns.RecordFor(target, istio(4, "1")); r != nil {
		t.Errorf("a new spec leaves the pause in force: %+v", r)
	}
	again := Target{Revision: target.Revision, Version: target.Version, UID: "uid-recreated"}
	if r := ns.RecordFor(again, istio(3, "1")); r != nil {
		t.Errorf("a record of a revision deleted and created again counts: %+v", r)
	}
	broken := Namespace{Name: "shop", Annotations: map[string]string{AnnotationRecord: "{"}}
	if r := broken.RecordFor(target, istio(3, "1")); r != nil {
		t.Errorf("an unreadable record counts: %+v", r)
	}
}

// TestPending: a namespace has work while it names an old revision, has pods on an older proxy, or its
// record says the move there is not finished.
func TestPending(t *testing.T) {
	moving := &Record{Target: target.Key(), State: StateMoving}
	moved := &Record{Target: target.Key(), State: StateMoved}
	for _, c := range []struct {
		name string
		ns   Namespace
		rec  *Record
		want bool
	}{
		{"labelled with the old revision", Namespace{Labels: map[string]string{inuse.LabelRev: "default-v1-26-0"}}, nil, true},
		{"pods on the old proxy", Namespace{Due: 2}, nil, true},
		{"a restart under way, no old pod left", Namespace{}, moving, true},
		{"moved", Namespace{}, moved, false},
		{"moved, with pods bosun left", Namespace{Due: 1}, moved, true},
		{"nothing of the mesh", Namespace{}, nil, false},
		{"pods istiod deployed for a Gateway, not looked at for the target", Namespace{Gateways: 1}, nil, true},
		{"pods istiod deployed for a Gateway, moved", Namespace{Gateways: 1}, moved, false},
	} {
		if got := Pending(c.ns, c.rec, old); got != c.want {
			t.Errorf("%s: pending %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNext: what happens next in a namespace, as a user would see it.
func TestNext(t *testing.T) {
	key := target.Key()
	moving := &Record{Target: key, State: StateMoving, From: "default-v1-26-0"}
	tagged := &Record{Target: key, State: StateMoving}
	restarted := func(name string, r Rollout, at time.Time) Workload {
		return Workload{Kind: "Deployment", Name: name, RestartedFor: key, RestartedAt: at, Rollout: r, Deadline: 10 * time.Minute}
	}
	due := func(kind, name string) Workload {
		return Workload{Kind: kind, Name: name, Due: 1, Deadline: 10 * time.Minute}
	}
	for _, c := range []struct {
		name     string
		ws       []Workload
		rec      *Record
		want     Do
		workload string
		back     []string
		left     string
		why      string
	}{
		{name: "the first due workload restarts", ws: []Workload{due("Deployment", "a"), due("Deployment", "b")}, rec: moving, want: Restart, workload: "a"},
		{name: "a rollout under way is awaited before the next", ws: []Workload{restarted("a", RolloutProgressing, now.Add(-time.Minute)), due("Deployment", "b")}, rec: moving, want: Wait, workload: "a"},
		{name: "a completed rollout lets the next restart", ws: []Workload{restarted("a", RolloutComplete, now.Add(-time.Minute)), due("Deployment", "b")}, rec: moving, want: Restart, workload: "b"},
		{name: "never restarted twice for one change", ws: []Workload{{Kind: "Deployment", Name: "a", Due: 1, RestartedFor: key, Rollout: RolloutComplete}}, rec: moving, want: Finish,
			left: "shop/Deployment/a: restarted, but its pods still run the old proxy"},
		{name: "a restart for another change does not count", ws: []Workload{{Kind: "Deployment", Name: "a", Due: 1, RestartedFor: "default-v1-26-0@v1.26.0/uid-old"}}, rec: moving, want: Restart, workload: "a"},
		{name: "a rolled-back workload restarts again once resumed", ws: []Workload{{Kind: "Deployment", Name: "a", Due: 1, RestartedFor: RollbackPrefix + key}}, rec: moving, want: Restart, workload: "a"},
		{name: "a failed rollout pauses and rolls back what was restarted",
			ws:  []Workload{restarted("a", RolloutComplete, now.Add(-5*time.Minute)), {Kind: "Deployment", Name: "b", RestartedFor: key, Rollout: RolloutFailed, RolloutMessage: "its rollout exceeded its progress deadline"}, due("Deployment", "c")},
			rec: moving, want: Pause, workload: "b", back: []string{"a", "b"}},
		{name: "a rollout past its deadline pauses", ws: []Workload{restarted("a", RolloutProgressing, now.Add(-11*time.Minute))}, rec: moving, want: Pause, workload: "a", back: []string{"a"}},
		{name: "a Deployment just past its deadline is left to its controller to call",
			ws: []Workload{restarted("a", RolloutProgressing, now.Add(-10*time.Minute-time.Second-deploymentVerdictGrace))}, rec: moving, want: Wait, workload: "a"},
		{name: "a Deployment whose controller has not called its deadline pauses on bosun's clock after the grace",
			ws: []Workload{restarted("a", RolloutProgressing, now.Add(-10*time.Minute-time.Second-deploymentVerdictGrace-time.Millisecond))}, rec: moving, want: Pause, workload: "a", back: []string{"a"}},
		{name: "a StatefulSet, which has no deadline of its own, pauses on bosun's clock",
			ws:  []Workload{{Kind: "StatefulSet", Name: "db", RestartedFor: key, RestartedAt: now.Add(-10*time.Minute - time.Second - time.Millisecond), Rollout: RolloutProgressing, Deadline: 10 * time.Minute}},
			rec: moving, want: Pause, workload: "db", back: []string{"db"}},
		{name: "a deadline counts from the latest moment the restart can have been (restartedAt has whole seconds)",
			ws:  []Workload{{Kind: "StatefulSet", Name: "db", RestartedFor: key, RestartedAt: now.Add(-10*time.Minute - time.Second), Rollout: RolloutProgressing, Deadline: 10 * time.Minute}},
			rec: moving, want: Wait, workload: "db"},
		{name: "in a namespace that follows a tag, a pause has no old label to go back to", ws: []Workload{restarted("a", RolloutFailed, now)}, rec: tagged, want: Pause, workload: "a"},
		{name: "a PodDisruptionBudget that allows nothing skips the workload", ws: []Workload{{Kind: "Deployment", Name: "a", Due: 2, BlockedBy: "a-pdb"}, due("StatefulSet", "db")}, rec: moving, want: Restart, workload: "db",
			left: "shop/Deployment/a: PodDisruptionBudget a-pdb allows no disruption"},
		{name: "bare pods and Jobs are listed, never restarted", ws: []Workload{due("Pod", "debug"), due("Job", "migrate")}, rec: moving, want: Finish,
			left: "shop/Job/migrate: a Job's pods move when the Job runs again; shop/Pod/debug: a bare pod: delete it and create it again to move it"},
		{name: "a paused namespace restarts back what is still on the new proxy", ws: []Workload{restarted("a", RolloutComplete, now), {Kind: "Deployment", Name: "b", RestartedFor: RollbackPrefix + key}},
			rec: &Record{Target: key, State: StatePaused, From: "default-v1-26-0"}, want: RestartBack, back: []string{"a"}},
		{name: "a Gateway's Deployment is istiod's: the other workloads restart first",
			ws:  []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: "default-v1-26-0"}, due("Deployment", "web")},
			rec: moving, want: Restart, workload: "web"},
		{name: "a Gateway's Deployment is awaited until istiod of the target renders it again, never restarted",
			ws:  []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: "default-v1-26-0"}},
			rec: moving, want: Wait, workload: "waypoint"},
		{name: "a Gateway's Deployment rendered again is awaited while it rolls out",
			ws:  []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision, Rollout: RolloutProgressing}},
			rec: moving, want: Wait, workload: "waypoint"},
		{name: "a Gateway's Deployment that istiod of the target rendered and rolled out moves with no restart",
			ws:  []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision, Rollout: RolloutComplete}},
			rec: moving, want: Finish, left: "shop/Deployment/waypoint: istiod of " + target.Revision + " deployed it again for Gateway waypoint, but its pods still run the old proxy"},
		{name: "a Gateway the target does not serve is listed, never restarted",
			ws:  []Workload{{Kind: "Deployment", Name: "gw", Due: 1, GatewayName: "gw", Revision: "default-v1-26-0"}},
			rec: moving, want: Finish, left: "shop/Deployment/gw: istiod deploys it for Gateway gw, which neither its istio.io/rev label nor its namespace's gives to " + target.Revision},
		{name: "InPlace: a Gateway's Deployment istiod rendered with the old proxy is awaited until it renders it again",
			ws: []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision,
				Proxy: "gcr.io/istio/proxyv2:1.26.0", WantProxy: "gcr.io/istio/proxyv2:1.27.0", Rollout: RolloutComplete}},
			rec: tagged, want: Wait, workload: "waypoint"},
		{name: "InPlace: a Gateway's Deployment with the target's proxy, of another image type, rolled out, moves",
			ws: []Workload{{Kind: "Deployment", Name: "waypoint", GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision,
				Proxy: "gcr.io/istio/proxyv2:1.27.0-distroless", WantProxy: "gcr.io/istio/proxyv2:1.27.0", Rollout: RolloutComplete}},
			rec: tagged, want: Finish},
		{name: "a Gateway's Deployment whose proxy bosun cannot read moves by the revision that rendered it",
			ws:  []Workload{{Kind: "Deployment", Name: "waypoint", GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision, WantProxy: "gcr.io/istio/proxyv2:1.27.0"}},
			rec: tagged, want: Finish},
		{name: "a Gateway's Deployment that istiod of the target rendered and whose rollout failed pauses and labels the Gateway back",
			ws: []Workload{restarted("web", RolloutComplete, now.Add(-time.Minute)), {Kind: "Deployment", Name: "ingress", Due: 1, GatewayName: "ingress", GatewayRevision: target.Revision, Revision: target.Revision,
				GatewayFrom: "default-v1-26-0", Rollout: RolloutFailed, RolloutMessage: "its rollout exceeded its progress deadline", Deadline: 10 * time.Minute}},
			rec: moving, want: Pause, workload: "ingress", back: []string{"ingress", "web"}, why: "its rollout exceeded its progress deadline"},
		{name: "a Gateway's Deployment istiod of the target does not render within its deadline of the relabelling pauses",
			ws: []Workload{{Kind: "Deployment", Name: "ingress", Due: 1, GatewayName: "ingress", GatewayRevision: target.Revision, Revision: "default-v1-26-0",
				GatewayFrom: "default-v1-26-0", AwaitedSince: now.Add(-10*time.Minute - time.Second - deploymentVerdictGrace - time.Millisecond), Deadline: 10 * time.Minute}},
			rec: moving, want: Pause, workload: "ingress", back: []string{"ingress"}, why: "istiod of " + target.Revision + " did not deploy it again for Gateway ingress within 10m0s"},
		{name: "a Gateway's Deployment within its deadline of the relabelling is awaited",
			ws: []Workload{{Kind: "Deployment", Name: "ingress", Due: 1, GatewayName: "ingress", GatewayRevision: target.Revision, Revision: "default-v1-26-0",
				GatewayFrom: "default-v1-26-0", AwaitedSince: now.Add(-10 * time.Minute), Deadline: 10 * time.Minute}},
			rec: moving, want: Wait, workload: "ingress"},
		{name: "InPlace: a Gateway's Deployment not rendered again within its deadline of the move's start in the namespace pauses, with nothing to go back to",
			ws: []Workload{{Kind: "Deployment", Name: "waypoint", Due: 1, GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: target.Revision,
				Proxy: "gcr.io/istio/proxyv2:1.26.0", WantProxy: "gcr.io/istio/proxyv2:1.27.0", Rollout: RolloutComplete, Deadline: time.Minute}},
			rec: &Record{Target: key, State: StateMoving, At: now.Add(-2 * time.Minute).Format(time.RFC3339)}, want: Pause, workload: "waypoint",
			why: "istiod of " + target.Revision + " did not deploy it again for Gateway waypoint within 1m0s"},
		{name: "a paused namespace labels back a Gateway bosun relabelled",
			ws:  []Workload{{Kind: "Deployment", Name: "ingress", GatewayName: "ingress", GatewayRevision: target.Revision, Revision: target.Revision, GatewayFrom: "default-v1-26-0"}},
			rec: &Record{Target: key, State: StatePaused, From: "default-v1-26-0"}, want: RestartBack, back: []string{"ingress"}},
		{name: "a paused namespace whose Gateway is labelled back waits",
			ws:  []Workload{{Kind: "Deployment", Name: "ingress", GatewayName: "ingress", GatewayRevision: "default-v1-26-0", Revision: target.Revision, GatewayFrom: "default-v1-26-0"}},
			rec: &Record{Target: key, State: StatePaused, From: "default-v1-26-0"}, want: Stop},
		{name: "a paused namespace with all restarted back waits", ws: []Workload{{Kind: "Deployment", Name: "b", Due: 0, RestartedFor: RollbackPrefix + key}},
			rec: &Record{Target: key, State: StatePaused, From: "default-v1-26-0"}, want: Stop},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := append([]Workload(nil), c.ws...)
			SortWorkloads(ws)
			got := Next("shop", ws, target, c.rec, now)
			if got.Do != c.want {
				t.Fatalf("do %v, want %v (%+v)", got.Do, c.want, got)
			}
			if c.workload != "" && got.Workload.Name != c.workload {
				t.Errorf("workload %s, want %s", got.Workload.Name, c.workload)
			}
			var back []string
			for _, w := range got.RollBack {
				back = append(back, w.Name)
			}
			if strings.Join(back, ",") != strings.Join(c.back, ",") {
				t.Errorf("restarted back %v, want %v", back, c.back)
			}
			if !strings.Contains(got.Why, c.why) {
				t.Errorf("why %q, want %q", got.Why, c.why)
			}
			if left := strings.Join(got.Left, "; "); !strings.Contains(left, c.left) || (c.left == "" && left != "") {
				t.Errorf("left %q, want %q", left, c.left)
			}
		})
	}
}

// TestGatewayToRelabel: a Gateway pinned to an old revision is relabelled; one pinned to the target,
// to another mesh's revision, or to none is not.
func TestGatewayToRelabel(t *testing.T) {
	old := map[string]bool{"default-v1-26-0": true}
	for _, c := range []struct {
		name string
		gws  []Gateway
		want string
	}{
		{"pinned to the old revision", []Gateway{{Name: "a", Revision: target.Revision}, {Name: "b", Revision: "default-v1-26-0"}}, "b"},
		{"pinned to the target", []Gateway{{Name: "a", Revision: target.Revision}}, ""},
		{"pinned to another mesh's revision", []Gateway{{Name: "a", Revision: "other"}}, ""},
		{"not pinned", []Gateway{{Name: "a"}}, ""},
	} {
		got := ""
		if gw := GatewayToRelabel(c.gws, old); gw != nil {
			got = gw.Name
		}
		if got != c.want {
			t.Errorf("%s: relabels %q, want %q", c.name, got, c.want)
		}
	}
}

// TestRenderedByAnOldRevision: a pod istiod deployed for a Gateway (no injection, yet naming the
// revision that rendered it) counts for the move while an old revision of the mesh rendered it.
func TestRenderedByAnOldRevision(t *testing.T) {
	mine := map[string]bool{"default-v1-26-0": true, target.Revision: true}
	gatewayPod := func(rev string) inuse.Pod {
		return inuse.Pod{Labels: map[string]string{inuse.LabelInject: "false"}, Annotations: map[string]string{inuse.AnnotationRev: rev}}
	}
	for _, c := range []struct {
		name string
		pod  inuse.Pod
		want bool
	}{
		{"rendered by the old revision", gatewayPod("default-v1-26-0"), true},
		{"rendered by the target", gatewayPod(target.Revision), false},
		{"rendered by another mesh", gatewayPod("other"), false},
		{"an injected pod", inuse.Pod{Annotations: map[string]string{inuse.AnnotationRev: "default-v1-26-0"}}, false},
	} {
		if got := RenderedByAnOldRevision(c.pod, target, mine); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestServing: a Gateway is deployed by the revision its istio.io/rev label names, else its
// namespace's, else the default one, a tag standing for its revision, as Istio's gateway controller
// picks it.
func TestServing(t *testing.T) {
	f := &desired.Facts{Revisions: map[string]*v1.IstioRevision{"default-v1-26-0": {}, "default-v1-27-0": {}, "default": {}},
		Tags: map[string]*v1.IstioRevisionTag{"stable": {Status: v1.IstioRevisionTagStatus{IstioRevision: "default-v1-27-0"}}}}
	noDefault := &desired.Facts{Revisions: f.Revisions, Tags: map[string]*v1.IstioRevisionTag{
		"default": {Status: v1.IstioRevisionTagStatus{IstioRevision: "default-v1-26-0"}}}}
	for _, c := range []struct {
		name     string
		label    string
		nsLabels map[string]string
		f        *desired.Facts
		want     string
	}{
		{"its label names a revision", "default-v1-27-0", map[string]string{inuse.LabelRev: "default-v1-26-0"}, f, "default-v1-27-0"},
		{"its label names a tag", "stable", nil, f, "default-v1-27-0"},
		{"no label: its namespace's", "", map[string]string{inuse.LabelRev: "default-v1-26-0"}, f, "default-v1-26-0"},
		{"no label anywhere: the revision named default", "", map[string]string{inuse.LabelInjection: "enabled"}, f, "default"},
		{"no label anywhere: the default tag's revision", "", nil, noDefault, "default-v1-26-0"},
		{"a name that is nothing", "gone", nil, f, ""},
	} {
		if got := Serving(Gateway{Name: "gw", Revision: c.label}, c.nsLabels, c.f); got != c.want {
			t.Errorf("%s: served by %q, want %q", c.name, got, c.want)
		}
	}
}

// TestGatewayProxy: the proxy image istiod renders for a Gateway, made of its injector's values as
// Istio's gateway templates make it; unknown ("") when the values cannot say.
func TestGatewayProxy(t *testing.T) {
	for _, c := range []struct {
		name   string
		values string
		gw     Gateway
		want   string
	}{
		{"hub and tag", `{"global":{"hub":"gcr.io/istio-release","tag":"1.27.0","proxy":{"image":"proxyv2"}}}`, Gateway{}, "gcr.io/istio-release/proxyv2:1.27.0"},
		{"no proxy image: proxyv2", `{"global":{"hub":"docker.io/istio","tag":"1.27.0"}}`, Gateway{}, "docker.io/istio/proxyv2:1.27.0"},
		{"a whole reference (a catalog pin)", `{"global":{"hub":"docker.io/istio","tag":"1.27.0","proxy":{"image":"registry.example.com/proxy@sha256:abc"}}}`, Gateway{},
			"registry.example.com/proxy@sha256:abc"},
		{"the Gateway names its own", `{"global":{"hub":"docker.io/istio","tag":"1.27.0"}}`, Gateway{ProxyImage: "registry.example.com/custom:1"}, "registry.example.com/custom:1"},
		{"custom gateway templates", `{"global":{"hub":"docker.io/istio","tag":"1.27.0"},"sidecarInjectorWebhook":{"templates":{"kube-gateway":"..."}}}`, Gateway{}, ""},
		{"no tag", `{"global":{"hub":"docker.io/istio"}}`, Gateway{}, ""},
		{"no values", "", Gateway{}, ""},
	} {
		if got := GatewayProxy(c.values, c.gw); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"docker.io/istio/proxyv2:1.27.0", "docker.io/istio/proxyv2:1.27.0-distroless", true},
		{"docker.io/istio/proxyv2:1.27.0-debug", "docker.io/istio/proxyv2:1.27.0", true},
		{"docker.io/istio/proxyv2:1.26.0", "docker.io/istio/proxyv2:1.27.0", false},
		{"localhost:5000/proxyv2-distroless", "localhost:5000/proxyv2", false},
	} {
		if got := SameProxy(c.a, c.b); got != c.want {
			t.Errorf("SameProxy(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestSortWorkloads: Deployments restart first, then StatefulSets, then DaemonSets, each by name, and
// gateways after them all, so that the workloads behind a gateway move before it.
func TestSortWorkloads(t *testing.T) {
	ws := []Workload{{Kind: "DaemonSet", Name: "a"}, {Kind: "Pod", Name: "a"}, {Kind: "Deployment", Name: "a-ingress", Gateway: true}, {Kind: "StatefulSet", Name: "a"},
		{Kind: "Deployment", Name: "z"}, {Kind: "Deployment", Name: "b"}}
	SortWorkloads(ws)
	var got []string
	for _, w := range ws {
		got = append(got, w.Kind+"/"+w.Name)
	}
	if strings.Join(got, " ") != "Deployment/b Deployment/z StatefulSet/a DaemonSet/a Deployment/a-ingress Pod/a" {
		t.Errorf("order %v", got)
	}
	for _, c := range []struct {
		templates string
		want      bool
	}{{"gateway", true}, {"sidecar, gateway", true}, {"sidecar", false}, {"", false}} {
		if got := IsGateway(map[string]string{AnnotationTemplates: c.templates}); got != c.want {
			t.Errorf("templates %q: gateway %v, want %v", c.templates, got, c.want)
		}
	}
}

// TestDue: which pods the move restarts: those of the mesh's revisions whose labels now select the
// target, on another revision (RevisionBased) or another proxy version (InPlace).
func TestDue(t *testing.T) {
	f := &desired.Facts{Revisions: map[string]*v1.IstioRevision{"default-v1-26-0": {}, "default-v1-27-0": {}}, Tags: map[string]*v1.IstioRevisionTag{
		"stable": {Status: v1.IstioRevisionTagStatus{IstioRevision: "default-v1-27-0"}},
	}}
	pod := func(rev, proxy string, labels map[string]string) inuse.Pod {
		return inuse.Pod{Namespace: "shop", Name: "p", Labels: labels, Annotations: map[string]string{inuse.AnnotationRev: rev, values.AnnotationProxyVersion: proxy}}
	}
	onNew := map[string]string{inuse.LabelRev: "default-v1-27-0"}
	for _, c := range []struct {
		name     string
		pod      inuse.Pod
		nsLabels map[string]string
		want     bool
	}{
		{"old revision, namespace relabelled", pod("default-v1-26-0", "v1.26.0", nil), onNew, true},
		{"old revision, namespace not relabelled yet", pod("default-v1-26-0", "v1.26.0", nil), map[string]string{inuse.LabelRev: "default-v1-26-0"}, false},
		{"old revision, namespace follows a tag that moved", pod("default-v1-26-0", "v1.26.0", nil), map[string]string{inuse.LabelRev: "stable"}, true},
		{"already on the target", pod("default-v1-27-0", "v1.27.0", nil), onNew, false},
		{"InPlace: the target's revision with an older proxy", pod("default-v1-27-0", "v1.26.0", nil), onNew, true},
		{"injected before proxy versions were recorded", pod("default-v1-27-0", "", nil), onNew, false},
		{"opted out", pod("default-v1-26-0", "v1.26.0", map[string]string{inuse.LabelInject: "false"}), onNew, false},
		{"another mesh's pod", pod("other-v1-26-0", "v1.26.0", nil), onNew, false},
	} {
		if got := Due(c.pod, c.nsLabels, f, target, mine); got != c.want {
			t.Errorf("%s: due %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCondition: the WorkloadsUpdated condition says where the move is and, when paused, which
// workload stopped it, why, and how to resume.
func TestCondition(t *testing.T) {
	step := Step{Do: Wait, Workload: Workload{Kind: "Deployment", Name: "reviews-v2"}}
	for _, c := range []struct {
		name   string
		p      Progress
		status metav1.ConditionStatus
		reason string
		says   []string
	}{
		{"done", Progress{Target: target, Done: 5}, metav1.ConditionTrue, v1.ReasonWorkloadsUpdated, []string{"default-v1-27-0 (v1.27.0)"}},
		{"moving", Progress{Target: target, Done: 1, Left: 4, Current: "bookinfo", Step: &step}, metav1.ConditionFalse, v1.ReasonMoving,
			[]string{"namespace bookinfo (1 moved, 4 left)", "awaiting the rollout of bookinfo/Deployment/reviews-v2"}},
		{"paused", Progress{Istio: "default", Target: target, PausedIn: "bookinfo", Paused: &Record{From: "default-v1-26-0", Workload: "bookinfo/Deployment/ratings", Why: "its rollout exceeded its progress deadline: ReplicaSet \"ratings-2\" has timed out progressing."}},
			metav1.ConditionFalse, v1.ReasonPaused, []string{"bookinfo/Deployment/ratings did not become available", `timed out progressing. The namespace was moved back`, "moved back to default-v1-26-0", "kubectl annotate istio default bosun.dev/resume-workloads-update="}},
		{"left", Progress{Target: target, Done: 2, Leftovers: []string{"shop/Pod/debug: a bare pod"}}, metav1.ConditionFalse, v1.ReasonWorkloadsLeft, []string{"shop/Pod/debug"}},
		{"waiting", Progress{Target: target, WaitingFor: "waiting for IstioRevision default-v1-27-0"}, metav1.ConditionFalse, v1.ReasonWaitingForControlPlane, []string{"default-v1-27-0"}},
	} {
		got := c.p.Condition()
		if got.Type != v1.ConditionWorkloadsUpdated || got.Status != c.status || got.Reason != c.reason {
			t.Errorf("%s: %s %s/%s, want %s/%s", c.name, got.Type, got.Status, got.Reason, c.status, c.reason)
		}
		for _, s := range c.says {
			if !strings.Contains(got.Message, s) {
				t.Errorf("%s: message %q does not say %q", c.name, got.Message, s)
			}
		}
	}
}

// TestGatewayAwaited: the Deployment of a Gateway the target serves is awaited until istiod of the
// target has rendered it again and its rollout completed; a failed rollout is still awaited (and then
// pauses the move), never counted as moved.
func TestGatewayAwaited(t *testing.T) {
	gw := func(rev, proxy string, r Rollout) Workload {
		return Workload{Kind: "Deployment", Name: "waypoint", GatewayName: "waypoint", GatewayRevision: target.Revision, Revision: rev,
			Proxy: proxy, WantProxy: "gcr.io/istio/proxyv2:1.27.0", Rollout: r}
	}
	for _, c := range []struct {
		name string
		w    Workload
		want bool
	}{
		{"rendered by an old revision", gw("default-v1-26-0", "gcr.io/istio/proxyv2:1.26.0", RolloutComplete), true},
		{"InPlace: the target's revision with the old proxy", gw(target.Revision, "gcr.io/istio/proxyv2:1.26.0", RolloutComplete), true},
		{"rendered by the target, rolling out", gw(target.Revision, "gcr.io/istio/proxyv2:1.27.0", RolloutProgressing), true},
		{"rendered by the target, its rollout failed", gw(target.Revision, "gcr.io/istio/proxyv2:1.27.0", RolloutFailed), true},
		{"rendered by the target, rolled out", gw(target.Revision, "gcr.io/istio/proxyv2:1.27.0", RolloutComplete), false},
		{"a Gateway another revision serves", Workload{Kind: "Deployment", Name: "gw", GatewayName: "gw", GatewayRevision: "other", Rollout: RolloutProgressing}, false},
		{"no Gateway's", Workload{Kind: "Deployment", Name: "web", Rollout: RolloutProgressing}, false},
	} {
		if got := c.w.GatewayAwaited(target); got != c.want {
			t.Errorf("%s: awaited %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGatewayRelabelled: a Gateway's record says bosun relabelled it for the target, from where and
// since when, while that relabelling is under way; once labelled back (Paused), or for another change,
// it says nothing, so that a later relabel by hand is the user's.
func TestGatewayRelabelled(t *testing.T) {
	at := now.Add(-time.Minute)
	rec := func(state, forTarget string) *Record {
		return &Record{Target: forTarget, State: state, From: "default-v1-26-0", At: at.Format(time.RFC3339)}
	}
	for _, c := range []struct {
		name     string
		gw       Gateway
		wantFrom string
	}{
		{"relabelled for the target", Gateway{Name: "a", Record: rec(StateMoving, target.Key())}, "default-v1-26-0"},
		{"labelled back", Gateway{Name: "a", Record: rec(StatePaused, target.Key())}, ""},
		{"relabelled for another change", Gateway{Name: "a", Record: rec(StateMoving, "default-v1-26-0@v1.26.0/uid-old")}, ""},
		{"never relabelled", Gateway{Name: "a"}, ""},
	} {
		from, since := c.gw.relabelled(target)
		if from != c.wantFrom || (from != "" && !since.Equal(at)) {
			t.Errorf("%s: relabelled from %q at %v, want %q at %v", c.name, from, since, c.wantFrom, at)
		}
	}
}
