package migrate

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-mesh/bosun/internal/meshview"
	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

func controlPlane(name, mode string) *maistra.ControlPlane {
	f := false
	return &maistra.ControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system"},
		Spec: maistra.ControlPlaneSpec{Version: "v2.6", Mode: mode,
			Security: &maistra.SecurityConfig{ManageNetworkPolicy: &f}},
	}
}

func convert(t *testing.T, cp *maistra.ControlPlane, roll *maistra.MemberRoll) *Result {
	t.Helper()
	res, err := Convert(cp, roll, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAtLeast26(t *testing.T) {
	for v, want := range map[string]bool{"v2.6": true, "v2.6.5": true, "2.6": true, "v3.0": true, "v2.5": false, "v1.1": false, "": false, "latest": false} {
		if got := AtLeast26(v); got != want {
			t.Errorf("AtLeast26(%q) = %v, want %v", v, got, want)
		}
	}
}

// The plan of the migration article: the cluster-wide mesh's namespaces (those labelled for its
// injector, and those already moved), never the control plane's own, each with the article's labels.
func TestPlanOfAClusterWideMesh(t *testing.T) {
	res := convert(t, controlPlane("basic", maistra.ModeClusterWide), nil)
	states := []NamespaceState{
		{Name: "venus", Labels: map[string]string{"istio-injection": "enabled"}, Workloads: []Workload{{"deployment", "reviews-v1"}, {"deployment", "details-v1"}, {"statefulset", "db"}}},
		{Name: "mercury", Labels: map[string]string{"istio-injection": "enabled"}},
		{Name: "earth", Labels: map[string]string{"istio.io/rev": "ossm3", "maistra.io/ignore-namespace": "true"}},
		{Name: "mars", Labels: map[string]string{"istio.io/rev": "basic"}},
		{Name: "istio-system", Labels: map[string]string{"istio-injection": "enabled"}},
		{Name: "pluto"},
		// A member of another control plane's mesh.
		{Name: "neptune", Labels: map[string]string{"istio-injection": "enabled", "maistra.io/member-of": "other-system"}},
	}
	p, err := NewPlan(res, states, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Namespace)
	}
	if want := []string{"earth", "mars", "mercury", "venus"}; !slices.Equal(names, want) {
		t.Errorf("namespaces %v, want %v", names, want)
	}
	var text, sh bytes.Buffer
	if err := p.Text(&text); err != nil {
		t.Fatal(err)
	}
	if err := p.Shell(&sh); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"4. namespace venus\n   labels:   kubectl label namespace venus istio.io/rev=ossm3 maistra.io/ignore-namespace=true istio-injection- --overwrite\n" +
			"   restart:  kubectl rollout restart deployment/details-v1 -n venus && kubectl rollout status deployment/details-v1 -n venus\n" +
			"   restart:  kubectl rollout restart deployment/reviews-v1 -n venus && kubectl rollout status deployment/reviews-v1 -n venus\n" +
			"   restart:  kubectl rollout restart statefulset/db -n venus && kubectl rollout status statefulset/db -n venus\n" +
			"   check:    bosun migrate verify venus --revision ossm3 (what bosun status -n venus shows)\n" +
			"   go back:  kubectl label namespace venus istio-injection=enabled maistra.io/ignore-namespace- istio.io/rev- --overwrite, then restart the same workloads\n",
		// A namespace labelled for the 2.6 revision goes back to that label; one moved already, whose
		// labels before are gone, to the label 2.6 serves in cluster-wide mode.
		"2. namespace mars\n",
		"   go back:  kubectl label namespace mars istio.io/rev=basic maistra.io/ignore-namespace- --overwrite, then restart the same workloads\n",
		"   go back:  kubectl label namespace earth istio-injection=enabled maistra.io/ignore-namespace- istio.io/rev- --overwrite, then restart the same workloads\n",
		"   restart:  nothing (no Deployment, StatefulSet or DaemonSet)\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the plan lacks\n%s\nin\n%s", want, text.String())
		}
	}
	// The script is one sh can run: it parses.
	check := exec.Command("sh", "-n")
	check.Stdin = strings.NewReader(sh.String())
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sh -n refuses the script: %v\n%s\n%s", err, out, sh.String())
	}
	for _, want := range []string{
		"set -eu\n",
		"kubectl label namespace mercury istio.io/rev=ossm3 maistra.io/ignore-namespace=true istio-injection- --overwrite\nbosun migrate verify mercury --revision ossm3 || { echo 'namespace mercury did not move to ossm3; to go back: kubectl label namespace mercury istio-injection=enabled maistra.io/ignore-namespace- istio.io/rev- --overwrite, then restart its workloads' >&2; exit 1; }\n",
		"kubectl rollout restart statefulset/db -n venus\nkubectl rollout status deployment/details-v1 -n venus --timeout=10m\n",
	} {
		if !strings.Contains(sh.String(), want) {
			t.Errorf("the script lacks\n%s\nin\n%s", want, sh.String())
		}
	}
}

// A multitenant mesh moves its members, in the order the member roll does not decide (sorted), or
// in the order the user asks for; going back removes the labels, as 2.6 needs none.
func TestPlanOfAMultitenantMesh(t *testing.T) {
	roll := &maistra.MemberRoll{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "istio-system"}, Spec: maistra.MemberRollSpec{Members: []string{"venus", "mercury", "gone"}}}
	res := convert(t, controlPlane("basic", maistra.ModeMultiTenant), roll)
	states := []NamespaceState{{Name: "venus"}, {Name: "mercury"}, {Name: "earth", Labels: map[string]string{"istio-injection": "enabled"}}, {Name: "istio-system"},
		// A member the roll selects by label: 2.x labelled it.
		{Name: "mars", Labels: map[string]string{"maistra.io/member-of": "istio-system"}},
		{Name: "pluto", Labels: map[string]string{"maistra.io/member-of": "other-system"}}}
	p, err := NewPlan(res, states, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Namespace)
	}
	if want := []string{"mars", "mercury", "venus"}; !slices.Equal(names, want) {
		t.Fatalf("namespaces %v, want %v", names, want)
	}
	if got := LabelCommand("venus", p.Steps[2].BackSet, p.Steps[2].BackRemove); got != "kubectl label namespace venus maistra.io/ignore-namespace- istio.io/rev- --overwrite" {
		t.Errorf("going back: %s", got)
	}
	p, err = NewPlan(res, states, []string{"venus", "mars"})
	if err != nil || p.Steps[0].Namespace != "venus" || p.Steps[1].Namespace != "mars" {
		t.Errorf("with -n venus,mars: %+v, %v", p, err)
	}
	for only, want := range map[string]string{
		"nowhere":      `namespace "nowhere" does not exist`,
		"istio-system": `namespace "istio-system" is the control plane's: it is not moved`,
		"venus,venus":  `namespace "venus" is named twice: name each namespace once`,
		// earth is labelled for a 2.x injector but is no member: the converted Istio does not see it.
		"earth": `namespace "earth" is not a member of the multitenant mesh istio-system/basic (not in its member roll, no ServiceMeshMember, no label maistra.io/member-of=istio-system), so the converted Istio does not discover it: add it to the member roll first, or leave it out of -n`,
	} {
		if _, err := NewPlan(res, states, strings.Split(only, ",")); err == nil || err.Error() != want {
			t.Errorf("-n %s: %v, want %q", only, err, want)
		}
	}
	// A mesh whose namespaces bosun does not find is no plan to run: bosun says where it looked.
	want := "no namespace of the 2.6 mesh istio-system/basic found: bosun looks for the members its member roll or a ServiceMeshMember names, and the namespaces labelled maistra.io/member-of=istio-system; name the namespaces to move with -n"
	if _, err := NewPlan(res, []NamespaceState{{Name: "istio-system"}, {Name: "pluto"}}, nil); err == nil || err.Error() != want {
		t.Errorf("without members in the cluster: %v, want %q", err, want)
	}
}

func TestStepLabelled(t *testing.T) {
	s := Step{Set: map[string]string{LabelRev: "ossm3", LabelIgnoreNamespace: "true"}, Remove: []string{LabelInjection}}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{LabelRev: "ossm3", LabelIgnoreNamespace: "true"}, true},
		{map[string]string{LabelRev: "ossm3", LabelIgnoreNamespace: "true", LabelInjection: "enabled"}, false},
		{map[string]string{LabelRev: "ossm3"}, false},
		{map[string]string{LabelRev: "basic", LabelIgnoreNamespace: "true"}, false},
	} {
		if got := s.Labelled(tc.labels); got != tc.want {
			t.Errorf("Labelled(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
}

// Verify passes only once the namespace selects the Ready revision and none of its workloads is due
// for a restart; otherwise it says what is wrong.
func TestVerify(t *testing.T) {
	ready := meshview.Health{Ready: true}
	onOssm3 := meshview.Revision{Name: "ossm3", Health: ready, Namespaces: []meshview.NamespaceRef{{Name: "mercury", By: "istio.io/rev=ossm3"}},
		Workloads: []meshview.Workload{{Namespace: "mercury", Kind: "Deployment", Name: "a", Pods: 2}, {Namespace: "venus", Kind: "Deployment", Name: "b", Pods: 1}}}
	for _, tc := range []struct {
		name string
		st   meshview.Status
		want string
	}{
		{"done", meshview.Status{Revisions: []meshview.Revision{onOssm3}}, ""},
		{"no revision", meshview.Status{}, "bosun status shows no revision ossm3: apply the converted Istio first"},
		{"not ready", meshview.Status{Revisions: []meshview.Revision{{Name: "ossm3", Health: meshview.Health{Message: "istiod is not available"}}}}, "revision ossm3 is not Ready: istiod is not available"},
		{"not labelled", meshview.Status{Revisions: []meshview.Revision{{Name: "ossm3", Health: ready}}}, "namespace mercury does not select revision ossm3"},
		{"restarts due", meshview.Status{Revisions: []meshview.Revision{onOssm3}, Restarts: []meshview.Restart{
			{Namespace: "mercury", Kind: "Deployment", Name: "a", Pods: 1, RunsOn: "basic"}, {Namespace: "venus", Kind: "Deployment", Name: "b", Pods: 1, RunsOn: "basic"}}},
			"namespace mercury: 1 still run another revision than ossm3: deployment/a (pods on basic: 1)"},
	} {
		err := Verify(tc.st, "mercury", "ossm3")
		if got := errString(err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if w, p := OnRevision(meshview.Status{Revisions: []meshview.Revision{onOssm3}}, "mercury", "ossm3"); w != 1 || p != 2 {
		t.Errorf("OnRevision = %d workloads, %d pods; want 1, 2", w, p)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The checklist: a row per item, failing on what blocks the migration.
func TestCheck(t *testing.T) {
	old := controlPlane("legacy", maistra.ModeMultiTenant)
	old.Spec.Version = "v2.5"
	old.Spec.Policy = &maistra.TypedConfig{Type: "Mixer"}
	on := true
	old.Spec.Addons = &maistra.AddonsConfig{Kiali: &maistra.Addon{Enablement: maistra.Enablement{Enabled: &on}}}
	old.Spec.Gateways = &maistra.GatewaysConfig{ClusterIngress: &maistra.IngressGateway{}}
	in := &maistra.Inputs{ControlPlanes: []*maistra.ControlPlane{controlPlane("basic", maistra.ModeClusterWide), old}}
	rows := Check(in, ClusterFacts{SailAPI: true, Federation: 2}, Options{})
	got := map[string]Outcome{}
	for _, r := range rows {
		got[r.Check] = r.Outcome
	}
	want := map[string]Outcome{
		"3.x API": Pass, "federation": Fail,
		"istio-system/basic: version": Pass, "istio-system/basic: mode": Pass, "istio-system/basic: blocking features": Pass,
		"istio-system/basic: gateways": Pass, "istio-system/basic: addons": Pass, "istio-system/basic: settings to review": Pass,
		"istio-system/legacy: version": Fail, "istio-system/legacy: mode": Pass, "istio-system/legacy: blocking features": Fail,
		"istio-system/legacy: gateways": Warn, "istio-system/legacy: addons": Warn, "istio-system/legacy: settings to review": Warn,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(rows) != len(want) || Failed(rows) != 3 {
		t.Errorf("%d rows, %d failed: %+v", len(rows), Failed(rows), rows)
	}
	if rows := Check(&maistra.Inputs{}, ClusterFacts{SailAPI: true}, Options{}); Failed(rows) != 1 || !strings.Contains(rows[0].Detail, "no 2.6 control plane") {
		t.Errorf("without a control plane: %+v", rows)
	}
	rows = Check(&maistra.Inputs{ControlPlanes: []*maistra.ControlPlane{controlPlane("basic", maistra.ModeClusterWide)}}, ClusterFacts{}, Options{})
	if rows[0].Check != "3.x API" || rows[0].Outcome != Fail || !strings.Contains(rows[0].Detail, "install bosun") {
		t.Errorf("without bosun's API: %+v", rows[0])
	}
}

// The options a user sets reach the manifests: the name is the revision, the version both
// resources', the IstioCNI's namespace its own.
func TestConvertOptions(t *testing.T) {
	res, err := Convert(controlPlane("basic", maistra.ModeClusterWide), nil, nil, nil, Options{Name: "mesh3", Version: "v1.27-latest", CNINamespace: "cni"})
	if err != nil {
		t.Fatal(err)
	}
	spec := func(obj map[string]any, field string) any { return obj["spec"].(map[string]any)[field] }
	if res.Revision != "mesh3" || res.Istio.GetName() != "mesh3" || spec(res.Istio.Object, "version") != "v1.27-latest" ||
		spec(res.CNI.Object, "version") != "v1.27-latest" || spec(res.CNI.Object, "namespace") != "cni" || spec(res.Istio.Object, "namespace") != "istio-system" {
		t.Errorf("converted %+v and %+v", res.Istio.Object, res.CNI.Object)
	}
}

// The member roll decides what the new istiod watches: the listed members and the roll's selectors,
// or, when the roll lists "*" (every namespace a member) or the mesh is cluster-wide, every
// namespace, with a finding that says so.
func TestDiscoverySelectorsFollowTheMemberRoll(t *testing.T) {
	roll := func(members ...string) *maistra.MemberRoll {
		return &maistra.MemberRoll{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "istio-system"}, Spec: maistra.MemberRollSpec{Members: members}}
	}
	for _, tc := range []struct {
		name    string
		mode    string
		roll    *maistra.MemberRoll
		watches []string // nil: every namespace
		finding string
	}{
		{name: "members", mode: maistra.ModeMultiTenant, roll: roll("venus", "mercury"), watches: []string{"istio-system", "mercury", "venus"}},
		{name: "every namespace", mode: maistra.ModeMultiTenant, roll: roll("*"), finding: "ServiceMeshMemberRoll spec.members"},
		{name: "every namespace and more", mode: maistra.ModeMultiTenant, roll: roll("venus", "*"), finding: "ServiceMeshMemberRoll spec.members"},
		{name: "cluster-wide", mode: maistra.ModeClusterWide, roll: roll("venus"), finding: "spec.mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, controlPlane("basic", tc.mode), tc.roll)
			selectors, _ := nested(res.Istio.Object, "spec", "values", "meshConfig", "discoverySelectors").([]any)
			var watches []string
			if len(selectors) > 0 {
				for _, v := range nested(selectors[0].(map[string]any), "matchExpressions").([]any)[0].(map[string]any)["values"].([]any) {
					watches = append(watches, v.(string))
				}
			}
			if !slices.Equal(watches, tc.watches) || len(selectors) > 1 {
				t.Errorf("discovery selectors %v, want names %v", selectors, tc.watches)
			}
			if tc.finding != "" && !slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Field == tc.finding }) {
				t.Errorf("no finding about %s: %+v", tc.finding, res.Findings)
			}
		})
	}
	rows := Check(&maistra.Inputs{ControlPlanes: []*maistra.ControlPlane{controlPlane("basic", maistra.ModeMultiTenant)}, MemberRolls: []*maistra.MemberRoll{roll("*")}}, ClusterFacts{SailAPI: true}, Options{})
	if !slices.ContainsFunc(rows, func(r CheckRow) bool {
		return r.Check == "istio-system/basic: mode" && r.Outcome == Warn && strings.Contains(r.Detail, "watches every namespace")
	}) {
		t.Errorf("the checklist does not warn that the Istio watches every namespace: %+v", rows)
	}
}

// 2.6 spells TLS versions TLSv1_2; 3.x takes TLSV1_2 and has nothing below 1.2, which becomes a
// finding instead of a value the API server refuses.
func TestTLSVersionsIn3xSpelling(t *testing.T) {
	for v, want := range map[string]string{"TLSv1_2": "TLSV1_2", "TLSv1_3": "TLSV1_3", "TLS_AUTO": "TLS_AUTO", "TLSv1_0": "", "TLSv1_1": "", "SSLv3": ""} {
		cp := controlPlane("basic", maistra.ModeClusterWide)
		cp.Spec.Security.ControlPlane = &maistra.ControlPlaneSecurity{TLS: &maistra.TLSConfig{MinProtocolVersion: v}}
		res := convert(t, cp, nil)
		got, _ := nested(res.Istio.Object, "spec", "values", "meshConfig", "meshMTLS", "minProtocolVersion").(string)
		found := slices.ContainsFunc(res.Findings, func(f Finding) bool {
			return f.Field == "spec.security.controlPlane.tls.minProtocolVersion" && strings.Contains(f.Did, v)
		})
		if got != want || found != (want == "") {
			t.Errorf("%s: minProtocolVersion %q, finding %v; want %q", v, got, found, want)
		}
	}
}

// autoInject is carried, and when it asked for unlabelled namespaces to be injected, a finding says
// that the converted revision does not do that: only the one named default does.
func TestAutoInjectOfUnlabelledNamespaces(t *testing.T) {
	for _, on := range []bool{true, false} {
		cp := controlPlane("basic", maistra.ModeClusterWide)
		cp.Spec.Proxy = &maistra.ProxyConfig{Injection: &maistra.ProxyInjection{AutoInject: &on}}
		res := convert(t, cp, nil)
		if got := nested(res.Istio.Object, "spec", "values", "sidecarInjectorWebhook", "enableNamespacesByDefault"); got != on {
			t.Errorf("autoInject %v: enableNamespacesByDefault %v", on, got)
		}
		found := slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Field == "spec.proxy.injection.autoInject" })
		if found != on {
			t.Errorf("autoInject %v: a finding about it: %v", on, found)
		}
	}
}
