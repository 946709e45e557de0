// Package move moves an Istio's workloads to its active revision once that revision is Ready
// (spec.updateStrategy.updateWorkloads): it relabels the namespaces that name an old revision, and
// restarts the Deployments, StatefulSets and DaemonSets whose pods run an older proxy the way
// `kubectl rollout restart` does, one namespace at a time, awaiting each rollout before the next. A
// workload that does not become available stops the move: its namespace goes back to the old revision
// and the workloads restarted there are restarted again onto the old proxy.
//
// Everything the move needs to know is in the cluster, never in memory, so that an operator restarted
// at any moment carries on where the cluster is: each namespace it works on carries a Record
// (AnnotationRecord) of the change it moves it for, and each workload it restarts carries, beside
// kubectl's restartedAt, the change it was restarted for (AnnotationRestartedFor), so it is never
// restarted twice for one change (docs/architecture.md#lesson-upgrades-finish-or-stop).
//
// The decisions (the order of namespaces, whether one has work left, what to do next in it, the
// condition) are pure functions in this file; cluster.go reads and writes.
package move

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
)

// Annotations the move reads and writes.
const (
	// AnnotationRestartedAt is the pod template annotation `kubectl rollout restart` sets; bosun sets it
	// the same way, so a restart by bosun reads like one by hand.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationRestartedFor, on a pod template, is the change (Target.Key) bosun restarted the workload
	// for, or RollbackPrefix and that change when it restarted it back onto the old proxy.
	AnnotationRestartedFor = "bosun.dev/restarted-for"
	// AnnotationWave, on a namespace, is a whole number: namespaces move in the order of their wave
	// (0 when unset; lower first, negative allowed), then of their names.
	AnnotationWave = "bosun.dev/update-wave"
	// AnnotationRecord, on a namespace, is bosun's Record of moving it, as JSON.
	AnnotationRecord = "bosun.dev/workloads-update"
	// AnnotationResume, on an Istio: a new value resumes a paused move.
	AnnotationResume = "bosun.dev/resume-workloads-update"
	// RollbackPrefix starts AnnotationRestartedFor of a workload restarted back onto the old proxy.
	RollbackPrefix = "rollback of "
)

// DefaultProgressDeadline is how long a StatefulSet's or DaemonSet's rollout may take, which have no
// progressDeadlineSeconds of their own, and a Deployment's that does not set it (the API's default).
const DefaultProgressDeadline = 600 * time.Second

// deploymentVerdictGrace is how long past a Deployment's progress deadline bosun's own clock leaves its
// controller to report ProgressDeadlineExceeded before pausing on the clock alone. The controller
// checks about a second after the deadline, counted from its Progressing condition's whole seconds,
// and its verdict names the ReplicaSet that timed out; without the grace, bosun's look every
// RecheckInterval would often come first and pause a workload whose deadline the controller has not
// yet called. The clock remains for a controller that does not report.
const deploymentVerdictGrace = 10 * time.Second

// restartedAtPrecision is the precision of AnnotationRestartedAt (RFC 3339 in whole seconds): a restart
// may have come this much later than it says.
const restartedAtPrecision = time.Second

// Target is the change a move is for: the revision workloads move to and its version. UID tells a
// revision created again under the same name apart from the one before.
type Target struct {
	Revision string
	Version  string
	UID      types.UID
}

// Key is the Target as AnnotationRestartedFor and Record.Target hold it.
func (t Target) Key() string { return t.Revision + "@" + t.Version + "/" + string(t.UID) }

// String is the Target as messages show it.
func (t Target) String() string { return t.Revision + " (" + t.Version + ")" }

// TargetOf is the change an Istio's workloads move to: its active revision.
func TargetOf(rev *v1.IstioRevision) Target {
	return Target{Revision: rev.Name, Version: string(rev.Spec.Version), UID: rev.UID}
}

// States of a Record.
const (
	// StateMoving: bosun relabelled the namespace or restarts its workloads.
	StateMoving = "Moving"
	// StateMoved: nothing in the namespace is left that bosun may restart.
	StateMoved = "Moved"
	// StatePaused: a workload did not become available; the namespace went back to its old revision.
	StatePaused = "Paused"
)

// Record is what bosun writes on a namespace it moves (AnnotationRecord).
type Record struct {
	// Target is the change (Target.Key) the record is for; a record of another change counts as none.
	Target string `json:"target"`
	State  string `json:"state"`
	// From is the revision the namespace's (or the Gateway's) istio.io/rev label named before bosun
	// relabelled it.
	From string `json:"from,omitempty"`
	// At is when the move began in the namespace, or relabelled the Gateway (RFC 3339): a Gateway's
	// Deployment is awaited from then, for its deadline.
	At string `json:"at,omitempty"`
	// Workload and Why say, when paused, which workload did not become available and why.
	Workload string `json:"workload,omitempty"`
	Why      string `json:"why,omitempty"`
	// Generation and Resume are the Istio's generation and AnnotationResume when the move paused: a
	// change of either resumes it.
	Generation int64  `json:"generation,omitempty"`
	Resume     string `json:"resume,omitempty"`
}

// Encode is the record as AnnotationRecord holds it.
func (r Record) Encode() string {
	b, _ := json.Marshal(r) // a struct of strings and an int always marshals
	return string(b)
}

// Namespace is what the move reads of a namespace of the mesh.
type Namespace struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// Due counts its pods that run an older proxy and would get the target's from a restart.
	Due int
	// Gateways counts its pods that istiod of the target's revision deployed for a Gateway API Gateway
	// (RenderedForAGateway). Their metadata does not say which proxy they run: after an InPlace update
	// they may run the old one until istiod renders their Deployment again, so a namespace that has
	// them is looked at once for each target.
	Gateways int
}

// Wave is the namespace's wave (AnnotationWave), or an error that says what to change.
func (n Namespace) Wave() (int, error) {
	s, ok := n.Annotations[AnnotationWave]
	if !ok {
		return 0, nil
	}
	w, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("namespace %s: annotation %s=%q is not a whole number: set it to one such as 1 (lower moves first), or remove it", n.Name, AnnotationWave, s)
	}
	return w, nil
}

// RecordFor is the namespace's record of the move to target, or nil when it has none, one of another
// change, one it cannot read, or a pause the Istio has since resumed (its generation or
// AnnotationResume changed).
func (n Namespace) RecordFor(target Target, istio *v1.Istio) *Record {
	s, ok := n.Annotations[AnnotationRecord]
	if !ok {
		return nil
	}
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.Target != target.Key() {
		return nil
	}
	if r.State == StatePaused && (r.Generation != istio.Generation || r.Resume != istio.Annotations[AnnotationResume]) {
		return nil
	}
	return &r
}

// Order sorts the namespaces in the order they move: by wave, then by name. An unreadable wave is an
// error, and nothing moves until it is fixed: the order the user asked for cannot be known.
func Order(namespaces []Namespace) ([]Namespace, error) {
	waves := map[string]int{}
	for _, n := range namespaces {
		w, err := n.Wave()
		if err != nil {
			return nil, err
		}
		waves[n.Name] = w
	}
	out := slices.Clone(namespaces)
	slices.SortFunc(out, func(a, b Namespace) int {
		return cmp.Or(cmp.Compare(waves[a.Name], waves[b.Name]), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Relabel is the old revision a namespace's istio.io/rev label names, which the move relabels to the
// target, or "" when it names none. A namespace labelled istio-injection=enabled follows the default
// tag (the label wins over istio.io/rev, as in Istio's webhooks), and one that names a tag follows it:
// neither is relabelled.
func Relabel(n Namespace, old map[string]bool) string {
	name, _ := inuse.NamespaceReference(n.Labels)
	if name != n.Labels[inuse.LabelRev] || !old[name] {
		return ""
	}
	return name
}

// Pending reports whether a namespace still has work in the move to target: a label to move, pods on
// an older proxy, pods istiod deployed for a Gateway that it has not looked at for the target, or a
// record of a move not finished.
func Pending(n Namespace, rec *Record, old map[string]bool) bool {
	if Relabel(n, old) != "" || n.Due > 0 {
		return true
	}
	if rec == nil {
		return n.Gateways > 0
	}
	return rec.State != StateMoved
}

// Paused is the first namespace, in order, whose record of the move to target says it paused (and the
// Istio did not resume it since), or nil.
func Paused(ordered []Namespace, target Target, istio *v1.Istio) (*Namespace, *Record) {
	for i := range ordered {
		if rec := ordered[i].RecordFor(target, istio); rec != nil && rec.State == StatePaused {
			return &ordered[i], rec
		}
	}
	return nil, nil
}

// Rollout is how a restarted workload's rollout stands.
type Rollout int

// Rollouts.
const (
	// RolloutComplete: every replica runs the latest template and is available.
	RolloutComplete Rollout = iota
	// RolloutProgressing: the rollout goes on.
	RolloutProgressing
	// RolloutFailed: the workload's controller gave up (a Deployment's ProgressDeadlineExceeded).
	RolloutFailed
)

// Workload is what the move reads of a workload in a namespace: its pods on an older proxy, and, for
// those it can restart, the rollout and what the last restart was for.
type Workload struct {
	Kind, Name string
	// Due counts its pods that run an older proxy and would get the target's from a restart.
	Due int
	// RestartedFor and RestartedAt are its pod template's AnnotationRestartedFor and
	// AnnotationRestartedAt.
	RestartedFor string
	RestartedAt  time.Time
	Rollout      Rollout
	// RolloutMessage says why the rollout failed or what it waits for.
	RolloutMessage string
	// Deadline is how long its rollout may take (progressDeadlineSeconds, or DefaultProgressDeadline).
	Deadline time.Duration
	// BlockedBy names a PodDisruptionBudget over its pods that allows no disruption now.
	BlockedBy string
	// Gateway is true for a workload injected with Istio's gateway template (its pod template's
	// AnnotationTemplates): it restarts after the other workloads of its namespace, whose traffic it
	// carries.
	Gateway bool
	// GatewayName is, for a Deployment istiod deploys for a Gateway API Gateway (a gateway or a
	// waypoint), the Gateway's name. bosun never restarts it: istiod renders it again for the revision
	// the Gateway names.
	GatewayName string
	// GatewayRevision is the revision whose istiod deploys that Gateway (Serving), "" when none of the
	// cluster's does.
	GatewayRevision string
	// Revision is the pod template's istio.io/rev annotation: the revision whose istiod rendered it.
	Revision string
	// Proxy is the image of the pod template's istio-proxy container, and WantProxy the one istiod of
	// the target renders for the Gateway; "" when bosun cannot tell (then Revision alone says who
	// rendered it).
	Proxy, WantProxy string
	// GatewayFrom is the revision bosun relabelled the Gateway from for the target, "" when it did not;
	// a paused move labels it back. AwaitedSince is when its Deployment began to be awaited: the
	// relabelling, else the start of the move in its namespace (zero when unknown).
	GatewayFrom  string
	AwaitedSince time.Time
}

// labelsBack reports whether a paused move labels back the Gateway of this Deployment: bosun relabelled
// the Gateway for the target, and the target still serves it.
func (w Workload) labelsBack(target Target) bool {
	return w.GatewayFrom != "" && w.GatewayRevision == target.Revision
}

// GatewayAwaited reports whether the Deployment istiod deploys for a Gateway the target serves has yet
// to move: istiod of the target has not rendered it again (RenderedBy), or its rollout is not complete.
func (w Workload) GatewayAwaited(target Target) bool {
	return w.GatewayName != "" && w.GatewayRevision == target.Revision && (!w.RenderedBy(target) || w.Rollout != RolloutComplete)
}

// RenderedBy reports whether istiod of the target rendered the Deployment of a Gateway: its template
// names the target's revision and, when bosun knows both images, runs the target's proxy. An InPlace
// update keeps the revision's name; only the proxy image tells the Deployment istiod rendered before
// from the one it renders after.
func (w Workload) RenderedBy(target Target) bool {
	return w.Revision == target.Revision && (w.Proxy == "" || w.WantProxy == "" || SameProxy(w.Proxy, w.WantProxy))
}

// Gateway is a Gateway API Gateway (a gateway or a waypoint) in a namespace being moved.
type Gateway struct {
	Name string
	// Revision is its istio.io/rev label, "" when it has none.
	Revision string
	// ProxyImage is its sidecar.istio.io/proxyImage annotation: when it names a whole image (with a
	// registry), istiod deploys that image for the Gateway whatever the revision's values say.
	ProxyImage string
	// Record is the move's record on it (AnnotationRecord), when bosun relabelled it; nil else.
	Record *Record
}

// relabelled is the revision bosun relabelled the Gateway from for target, and when, from its record
// of a relabelling still under way: "" when bosun did not, or labelled it back since (a Gateway
// relabelled by hand after that is the user's).
func (g Gateway) relabelled(target Target) (string, time.Time) {
	if g.Record == nil || g.Record.Target != target.Key() || g.Record.State != StateMoving {
		return "", time.Time{}
	}
	at, _ := time.Parse(time.RFC3339, g.Record.At)
	return g.Record.From, at
}

// Serving is the revision whose istiod deploys a Gateway, as Istio's gateway controller decides it:
// the name its istio.io/rev label gives, else its namespace's istio.io/rev label (istio-injection
// plays no part), else default; a tag's name standing for the revision the tag points at. "" when
// the name is no revision or tag of the facts.
func Serving(gw Gateway, nsLabels map[string]string, f *desired.Facts) string {
	name := gw.Revision
	if name == "" {
		name = nsLabels[inuse.LabelRev]
	}
	if name == "" {
		name = inuse.Default
	}
	return f.Resolve(name)
}

// AnnotationProxyImage is the annotation by which a Gateway (or a pod) names the proxy image istiod
// gives it; Istio's gateway templates take it whole when it contains a "/".
const AnnotationProxyImage = "sidecar.istio.io/proxyImage"

// GatewayProxy is the proxy image istiod renders into the Deployment of a Gateway, from the values in
// its injector's ConfigMap (their JSON), as Istio's gateway templates make it: the Gateway's
// AnnotationProxyImage or global.proxy.image when it names a registry, else global.hub, then
// global.proxy.image (proxyv2 when unset), then global.tag. An image type (distroless, which the mesh
// config or a ProxyConfig may choose per Gateway) is left to SameProxy. "" when bosun cannot tell:
// values it cannot read, or values that replace istiod's gateway templates.
func GatewayProxy(valuesJSON string, gw Gateway) string {
	if strings.Contains(gw.ProxyImage, "/") {
		return gw.ProxyImage
	}
	var v struct {
		Global struct {
			Hub   string `json:"hub"`
			Tag   any    `json:"tag"`
			Proxy struct {
				Image string `json:"image"`
			} `json:"proxy"`
		} `json:"global"`
		Injector struct {
			Templates map[string]any `json:"templates"`
		} `json:"sidecarInjectorWebhook"`
	}
	if err := json.Unmarshal([]byte(valuesJSON), &v); err != nil {
		return ""
	}
	for _, t := range []string{"kube-gateway", "waypoint"} {
		if _, custom := v.Injector.Templates[t]; custom {
			return ""
		}
	}
	g := v.Global
	if strings.Contains(g.Proxy.Image, "/") {
		return g.Proxy.Image
	}
	if g.Hub == "" || g.Tag == nil || g.Tag == "" {
		return ""
	}
	image := cmp.Or(g.Proxy.Image, "proxyv2")
	return g.Hub + "/" + image + ":" + fmt.Sprint(g.Tag)
}

// imageTypes are the image types Istio publishes, which it adds to an image's tag as a suffix.
var imageTypes = []string{"-distroless", "-debug"}

// SameProxy reports whether two proxy images are the same but for their image type.
func SameProxy(a, b string) bool {
	return withoutImageType(a) == withoutImageType(b)
}

// withoutImageType is an image without an image type at the end of its tag.
func withoutImageType(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	for _, t := range imageTypes {
		if s, ok := strings.CutSuffix(image, t); ok && strings.LastIndex(s, ":") > strings.LastIndex(s, "/") {
			return s
		}
	}
	return image
}

// GatewayToRelabel is the first Gateway pinned by its istio.io/rev label to one of the old revisions,
// which the move relabels to the target (istiod of the target then deploys it again), or nil.
func GatewayToRelabel(gws []Gateway, old map[string]bool) *Gateway {
	for i := range gws {
		if gws[i].Revision != "" && old[gws[i].Revision] {
			return &gws[i]
		}
	}
	return nil
}

// AnnotationTemplates is the pod template annotation that picks the injection templates; "gateway"
// makes a gateway (gateway injection, as the OpenShift Service Mesh documents recommend).
const AnnotationTemplates = "inject.istio.io/templates"

// IsGateway reports whether a pod template's annotations ask for Istio's gateway injection template.
func IsGateway(annotations map[string]string) bool {
	for _, t := range strings.Split(annotations[AnnotationTemplates], ",") {
		if strings.TrimSpace(t) == "gateway" {
			return true
		}
	}
	return false
}

// ID is the workload as messages name it, namespace/Kind/name.
func (w Workload) ID(namespace string) string { return namespace + "/" + w.Kind + "/" + w.Name }

// Restartable reports whether bosun restarts workloads of this kind. Bare pods and Jobs (and the pods
// of CronJobs, which are Jobs') are listed, never deleted: a bare pod would be gone, and a Job's pods
// move when it runs again.
func Restartable(kind string) bool {
	return kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet"
}

// kindOrder is the order workloads of a namespace restart in, then by name.
var kindOrder = map[string]int{"Deployment": 0, "StatefulSet": 1, "DaemonSet": 2}

// SortWorkloads sorts workloads in the order they restart: Deployments, StatefulSets, DaemonSets, then
// gateways, then what bosun does not restart, each by name.
func SortWorkloads(ws []Workload) {
	rank := func(w Workload) int {
		r, ok := kindOrder[w.Kind]
		switch {
		case !ok:
			return 2 * len(kindOrder)
		case w.Gateway:
			return len(kindOrder) + r
		}
		return r
	}
	slices.SortFunc(ws, func(a, b Workload) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
}

// Do is what a step does.
type Do int

// What a step does.
const (
	// Finish: nothing in the namespace is left to restart or to await; it is moved.
	Finish Do = iota
	// Restart the workload onto the target's proxy.
	Restart
	// Wait for the workload's rollout.
	Wait
	// Pause: the workload did not become available. Move the namespace back, restart RollBack, stop.
	Pause
	// RestartBack restarts RollBack onto the old proxy, in a paused namespace.
	RestartBack
	// Stop: the namespace is paused and nothing is left to restart back.
	Stop
)

// Step is what to do next in a namespace.
type Step struct {
	Do Do
	// Workload is the one restarted, awaited, or that did not become available.
	Workload Workload
	// Why says why a workload did not become available.
	Why string
	// RollBack are the workloads to restart onto the old proxy, and the Deployments of the Gateways to
	// label back to the revision bosun relabelled them from.
	RollBack []Workload
	// Left are the workloads with pods on an older proxy that bosun does not restart, each with why.
	Left []string
}

// Next decides the next step in a namespace (its workloads sorted by SortWorkloads) for the move to
// target, at now, given the namespace's record of it (nil when it has none). A workload restarted for
// the target is awaited first: one that failed, or whose rollout outlasted its deadline, pauses the
// move. The Deployment of a Gateway API Gateway is istiod's: it is never restarted, and is awaited,
// once the target serves its Gateway, until istiod of the target has rendered it again (RenderedBy)
// and it rolled out; one whose rollout failed, or that is not there its deadline after it began to be
// awaited (AwaitedSince, else the record's At), pauses the move too. A paused move then restarts back
// the workloads restarted for the target (RollBack), when the namespace had a label to move back
// (rec.From): a namespace that follows a tag, or an InPlace move, has no old proxy to go back to; and
// labels back the Gateways bosun relabelled (Workload.GatewayFrom). Otherwise the first workload with
// pods on an older proxy that bosun may restart is restarted.
func Next(namespace string, ws []Workload, target Target, rec *Record, now time.Time) Step {
	key := target.Key()
	var restarted []Workload
	for _, w := range ws {
		if (w.RestartedFor == key && Restartable(w.Kind) && rec != nil && rec.From != "") || w.labelsBack(target) {
			restarted = append(restarted, w)
		}
	}
	if rec != nil && rec.State == StatePaused {
		if len(restarted) > 0 {
			return Step{Do: RestartBack, RollBack: restarted}
		}
		return Step{Do: Stop}
	}
	for _, w := range ws {
		if w.RestartedFor != key || !Restartable(w.Kind) {
			continue
		}
		if why, failed := failed(w, now); failed {
			return Step{Do: Pause, Workload: w, Why: why, RollBack: restarted}
		}
		if w.Rollout == RolloutProgressing {
			return Step{Do: Wait, Workload: w}
		}
	}
	var left []string
	var gateway *Workload
	for _, w := range ws {
		if w.Due == 0 {
			continue
		}
		switch {
		case w.GatewayAwaited(target):
			// A Gateway the target serves: its Deployment moves once istiod of the target has
			// rendered it again and it rolled out, awaited after the other workloads.
			if w.AwaitedSince.IsZero() && rec != nil {
				w.AwaitedSince, _ = time.Parse(time.RFC3339, rec.At)
			}
			if why, failed := gatewayFailed(w, target, now); failed {
				return Step{Do: Pause, Workload: w, Why: why, RollBack: restarted}
			}
			if gateway == nil {
				gateway = &w
			}
		case w.GatewayName != "" && w.GatewayRevision == target.Revision:
			left = append(left, w.ID(namespace)+": istiod of "+target.Revision+" deployed it again for Gateway "+w.GatewayName+", but its pods still run the old proxy")
		case w.GatewayName != "":
			left = append(left, w.ID(namespace)+": istiod deploys it for Gateway "+w.GatewayName+", which neither its istio.io/rev label nor its namespace's gives to "+target.Revision+"; label the Gateway istio.io/rev="+target.Revision+" to move it")
		case !Restartable(w.Kind):
			left = append(left, w.ID(namespace)+": "+notRestartable(w.Kind))
		case w.RestartedFor == key:
			left = append(left, w.ID(namespace)+": restarted, but its pods still run the old proxy (a pod label pins them to a revision)")
		case w.BlockedBy != "":
			left = append(left, w.ID(namespace)+": PodDisruptionBudget "+w.BlockedBy+" allows no disruption")
		default:
			return Step{Do: Restart, Workload: w, Left: left}
		}
	}
	if gateway != nil {
		return Step{Do: Wait, Workload: *gateway, Left: left}
	}
	return Step{Do: Finish, Left: left}
}

// failed reports whether a workload restarted for the move failed to become available, and why: its
// controller said so, or its rollout is still not complete its Deadline after the latest moment its
// restart can have been (a Deployment's deploymentVerdictGrace later, its controller having had the
// time to say so itself).
func failed(w Workload, now time.Time) (string, bool) {
	switch {
	case w.Rollout == RolloutFailed:
		return w.RolloutMessage, true
	case w.Rollout == RolloutProgressing && !w.RestartedAt.IsZero() && now.Sub(w.RestartedAt) > w.patience():
		msg := fmt.Sprintf("its rollout did not complete within %s of the restart", w.Deadline)
		if w.RolloutMessage != "" {
			msg += " (" + w.RolloutMessage + ")"
		}
		return msg, true
	}
	return "", false
}

// patience is how long after the recorded start of a workload's rollout bosun's own clock calls it
// failed: its Deadline, from the latest moment a whole-second record allows, and for a Deployment the
// grace its controller has to say so itself first.
func (w Workload) patience() time.Duration {
	wait := w.Deadline + restartedAtPrecision
	if w.Kind == "Deployment" {
		wait += deploymentVerdictGrace
	}
	return wait
}

// gatewayFailed reports whether the Deployment istiod deploys for a Gateway the target serves failed to
// move, and why: istiod of the target rendered it and its rollout failed, or it is still not rendered
// again and rolled out its Deadline (and the grace its controller has to say so itself) after it began
// to be awaited.
func gatewayFailed(w Workload, target Target, now time.Time) (string, bool) {
	switch {
	case w.RenderedBy(target) && w.Rollout == RolloutFailed:
		return w.RolloutMessage, true
	case !w.AwaitedSince.IsZero() && now.Sub(w.AwaitedSince) > w.patience():
		what := "istiod of " + target.Revision + " did not deploy it again for Gateway " + w.GatewayName
		if w.RenderedBy(target) {
			what = "its rollout did not complete"
		}
		msg := fmt.Sprintf("%s within %s", what, w.Deadline)
		if w.RolloutMessage != "" && w.RenderedBy(target) {
			msg += " (" + w.RolloutMessage + ")"
		}
		return msg, true
	}
	return "", false
}

func notRestartable(kind string) string {
	switch kind {
	case "Pod":
		return "a bare pod: delete it and create it again to move it"
	case "Job":
		return "a Job's pods move when the Job runs again"
	}
	return "bosun restarts only Deployments, StatefulSets and DaemonSets: restart it by hand"
}

// Progress is how far the move is, for the Istio's status.
type Progress struct {
	Istio  string
	Target Target
	// WaitingFor is set while the active revision is not Ready.
	WaitingFor string
	// Err is bad input that stops the move (an unreadable wave).
	Err error
	// Done and Left count the namespaces moved for the target and those with work left.
	Done, Left int
	// PodsLeft counts the pods on an older proxy in the mesh's namespaces.
	PodsLeft int
	// Current is the namespace worked on, Step what was done or awaited there.
	Current string
	Step    *Step
	// Paused is the record of the namespace the move paused in.
	Paused    *Record
	PausedIn  string
	Leftovers []string
}

// Condition is the WorkloadsUpdated condition of the progress.
func (p Progress) Condition() metav1.Condition {
	c := metav1.Condition{Type: v1.ConditionWorkloadsUpdated, Status: metav1.ConditionFalse}
	switch {
	case p.Err != nil:
		c.Reason, c.Message = v1.ReasonInvalidWave, p.Err.Error()
	case p.WaitingFor != "":
		c.Reason, c.Message = v1.ReasonWaitingForControlPlane, p.WaitingFor
	case p.Paused != nil:
		c.Reason = v1.ReasonPaused
		c.Message = fmt.Sprintf("paused in namespace %s: %s did not become available with the proxy of %s: %s.", p.PausedIn, p.Paused.Workload, p.Target, strings.TrimSuffix(p.Paused.Why, "."))
		if p.Paused.From != "" {
			c.Message += fmt.Sprintf(" The namespace was moved back to %s and its restarted workloads restarted onto its proxy.", p.Paused.From)
		}
		c.Message += fmt.Sprintf(" Fix the workload, then resume: kubectl annotate istio %s %s=<a new value> --overwrite", p.Istio, AnnotationResume)
	case p.Step != nil && (p.Step.Do == Wait || p.Step.Do == Restart):
		c.Reason = v1.ReasonMoving
		c.Message = fmt.Sprintf("moving to %s: namespace %s (%d moved, %d left): awaiting the rollout of %s", p.Target, p.Current, p.Done, p.Left, p.Step.Workload.ID(p.Current))
	case p.Left > 0:
		c.Reason = v1.ReasonMoving
		c.Message = fmt.Sprintf("moving to %s: namespace %s (%d moved, %d left)", p.Target, p.Current, p.Done, p.Left)
	case len(p.Leftovers) > 0:
		c.Reason = v1.ReasonWorkloadsLeft
		c.Message = fmt.Sprintf("moved %d namespaces to %s; left on an older proxy: %s", p.Done, p.Target, strings.Join(p.Leftovers, "; "))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1.ReasonWorkloadsUpdated
		c.Message = fmt.Sprintf("every workload bosun may restart runs the proxy of %s", p.Target)
	}
	return c
}

// Status is the summary of the progress, for the Istio's status.
func (p Progress) Status() *v1.WorkloadsUpdateStatus {
	st := &v1.WorkloadsUpdateStatus{Target: p.Target.String(), NamespacesDone: int32(p.Done), NamespacesLeft: int32(p.Left), PodsLeft: int32(p.PodsLeft), Left: p.Leftovers}
	if p.Step != nil && (p.Step.Do == Wait || p.Step.Do == Restart) {
		st.InProgress = p.Step.Workload.ID(p.Current)
	}
	return st
}
