package move

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

// RecheckInterval is how soon a move in progress looks again at the rollout it awaits. The Waker wakes
// it sooner, when the rollout ends; the recheck sees a deadline pass, and a rollout that ended before
// the Waker watched it.
const RecheckInterval = 2 * time.Second

// AfterWrite is how soon a move looks again after a write that awaits nothing (a namespace or a Gateway
// relabelled): its reads are the API server's, which shows the write at once.
const AfterWrite = 10 * time.Millisecond

// LeftoverRecheck is how soon a move that left workloads behind looks again: a PodDisruptionBudget
// that allowed no disruption may allow one now.
const LeftoverRecheck = time.Minute

// Mover makes the move's steps in the cluster: it reads what the decisions need and writes what they
// decide. One step per reconcile of the Istio: a relabel, a restart, or a pause, never more, so an
// operator killed between two writes carries on from what the cluster shows.
type Mover struct {
	// Cache is the operator's cache: the pods' trimmed metadata, by index (inuse.Cache).
	Cache client.Reader
	// API reads the API server: namespaces with all their labels and annotations and, in the one
	// namespace being moved, its pods' owners, its workloads and PodDisruptionBudgets, which the cache
	// does not hold (it stays small at 10,000 pods). All metadata-only but the workloads.
	API client.Reader
	// Writer patches namespaces and workloads.
	Writer   client.Writer
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Waker, when set, wakes the Istio as soon as the rollout its move awaits ends.
	Waker *Waker
}

// Enabled reports whether an Istio asks bosun to move its workloads (spec.updateStrategy.updateWorkloads).
func Enabled(istio *v1.Istio) bool {
	return istio.Spec.UpdateStrategy != nil && istio.Spec.UpdateStrategy.UpdateWorkloads
}

// Run moves the Istio's workloads to its active revision, one step, and says how far the move is and
// when to look again (0: a change of the Istio or its revisions will). It returns nil when the Istio
// does not ask bosun to move its workloads (then nothing is read). An error is a failed read or write,
// retried; the Istio's status keeps the condition it had.
func (m *Mover) Run(ctx context.Context, istio *v1.Istio, active *v1.IstioRevision, revs []*v1.IstioRevision, f *desired.Facts) (*Progress, time.Duration, error) {
	if !Enabled(istio) || active == nil {
		m.Waker.Forget(istio.Name)
		return nil, 0, nil
	}
	target := TargetOf(active)
	p := &Progress{Istio: istio.Name, Target: target}
	awaits := false
	defer func() {
		if !awaits {
			m.Waker.Forget(istio.Name)
		}
	}()
	if !desired.Ready(active) {
		p.WaitingFor = fmt.Sprintf("waiting for IstioRevision %s to be Ready before moving workloads to it", active.Name)
		return p, 0, nil
	}
	mine := map[string]bool{}
	old := map[string]bool{}
	for _, rev := range revs {
		mine[rev.Name] = true
		if rev.Name != active.Name {
			old[rev.Name] = true
		}
	}
	all, err := m.namespaces(ctx, istio, f, target, mine)
	if err != nil {
		return nil, 0, err
	}
	ordered, err := Order(all)
	if err != nil {
		// The namespace's annotation sends no event to the Istio: look again now and then.
		p.Err = err
		return p, 30 * time.Second, nil
	}
	for _, ns := range ordered {
		rec := ns.RecordFor(target, istio)
		switch {
		case rec != nil && rec.State == StateMoved:
			p.Done++
		case Pending(ns, rec, old):
			p.Left++
		}
		p.PodsLeft += ns.Due
	}
	if ns, rec := Paused(ordered, target, istio); ns != nil {
		p.Paused, p.PausedIn = rec, ns.Name
		gws, err := m.gateways(ctx, ns.Name)
		if err != nil {
			return nil, 0, err
		}
		ws, objs, err := m.workloads(ctx, *ns, gws, f, active, mine)
		if err != nil {
			return nil, 0, err
		}
		if step := Next(ns.Name, ws, target, rec, m.Clock.Now()); step.Do == RestartBack {
			return p, 0, m.restartBack(ctx, istio, ns.Name, step.RollBack, objs, target)
		}
		return p, 0, nil
	}
	for _, ns := range ordered {
		rec := ns.RecordFor(target, istio)
		if !Pending(ns, rec, old) {
			continue
		}
		p.Current = ns.Name
		if from := Relabel(ns, old); from != "" {
			return p, AfterWrite, m.relabel(ctx, istio, ns.Name, from, target)
		}
		gws, err := m.gateways(ctx, ns.Name)
		if err != nil {
			return nil, 0, err
		}
		if gw := GatewayToRelabel(gws, old); gw != nil {
			rec := m.moving(target, gw.Revision)
			return p, AfterWrite, m.relabelGateway(ctx, istio, ns.Name, gw.Name, rec, target, false)
		}
		if rec == nil {
			rec = ptr.To(m.moving(target, ""))
			if err := m.record(ctx, ns.Name, *rec, ""); err != nil {
				return nil, 0, err
			}
		}
		ws, objs, err := m.workloads(ctx, ns, gws, f, active, mine)
		if err != nil {
			return nil, 0, err
		}
		step := Next(ns.Name, ws, target, rec, m.Clock.Now())
		p.Leftovers = append(p.Leftovers, step.Left...)
		switch step.Do {
		case Restart:
			p.Step = &step
			if err := m.restart(ctx, istio, ns.Name, step.Workload, objs, target, false); err != nil {
				return p, RecheckInterval, err
			}
			awaits = true
			m.Waker.Await(istio.Name, ns.Name, step.Workload, objs[step.Workload.ID(ns.Name)])
			return p, RecheckInterval, nil
		case Wait:
			p.Step = &step
			awaits = true
			m.Waker.Await(istio.Name, ns.Name, step.Workload, nil)
			return p, RecheckInterval, nil
		case Pause:
			paused := Record{Target: target.Key(), State: StatePaused, From: rec.From, At: rec.At, Workload: step.Workload.ID(ns.Name), Why: step.Why,
				Generation: istio.Generation, Resume: istio.Annotations[AnnotationResume]}
			if err := m.record(ctx, ns.Name, paused, rec.From); err != nil {
				return nil, 0, err
			}
			metrics.WorkloadsUpdatePauses.WithLabelValues(istio.Name).Inc()
			p.Paused, p.PausedIn = &paused, ns.Name
			logr.FromContextOrDiscard(ctx).Info("paused the move of workloads", "namespace", ns.Name, "workload", paused.Workload, "why", step.Why)
			m.Recorder.Eventf(istio, nil, corev1.EventTypeWarning, v1.ReasonPaused, "UpdateWorkloads", "%s", p.Condition().Message)
			return p, 0, m.restartBack(ctx, istio, ns.Name, step.RollBack, objs, target)
		}
		// Finish: nothing is left here that bosun may restart.
		if rec.State != StateMoved {
			rec.State = StateMoved
			if err := m.record(ctx, ns.Name, *rec, ""); err != nil {
				return nil, 0, err
			}
			p.Done++
			p.Left--
			logr.FromContextOrDiscard(ctx).Info("moved a namespace's workloads", "namespace", ns.Name, "target", target.String())
		}
	}
	p.Current = ""
	if len(p.Leftovers) > 0 {
		return p, LeftoverRecheck, nil
	}
	return p, 0, nil
}

// namespaces are the namespaces the Istio discovers (desired.Discovers), never others, each with its
// pods due for the move (Due, and the pods of Gateways an old revision rendered) and the pods of
// Gateways the target's revision rendered (Gateways) counted from the cache.
func (m *Mover) namespaces(ctx context.Context, istio *v1.Istio, f *desired.Facts, target Target, mine map[string]bool) ([]Namespace, error) {
	var out []Namespace
	byName := map[string]int{}
	if err := listMetadata(ctx, m.API, "Namespace", "", func(ns *metav1.PartialObjectMetadata) {
		if !ns.DeletionTimestamp.IsZero() || !desired.Discovers(istio, ns.Labels) {
			return
		}
		byName[ns.Name] = len(out)
		out = append(out, Namespace{Name: ns.Name, Labels: ns.Labels, Annotations: ns.Annotations})
	}); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	lookup := inuse.Cache{Ctx: ctx, Reader: m.Cache}
	for rev := range mine {
		pods, err := lookup.PodsByAnnotation(rev)
		if err != nil {
			return nil, fmt.Errorf("listing the pods of IstioRevision %s: %w", rev, err)
		}
		for _, p := range pods {
			i, ok := byName[p.Namespace]
			switch {
			case !ok:
			case Due(p, out[i].Labels, f, target, mine) || RenderedByAnOldRevision(p, target, mine):
				out[i].Due++
			case RenderedForAGateway(p) == target.Revision:
				out[i].Gateways++
			}
		}
	}
	return out, nil
}

// workloads reads one namespace's workloads as the decisions see them (sorted by SortWorkloads), and
// the objects to patch, by Workload.ID: the restartable ones whose pods are due or that were restarted
// for the target (awaited even when none of their old pods is left), the Deployments of Gateways that
// an old revision rendered or that istiod of the target (the active revision) has yet to render again
// or to roll out, and what owns the other due pods. Pods are resolved to their workloads through their
// owner references (a ReplicaSet to its Deployment). gws are the namespace's Gateways, as read this
// step.
func (m *Mover) workloads(ctx context.Context, ns Namespace, gws []Gateway, f *desired.Facts, active *v1.IstioRevision, mine map[string]bool) ([]Workload, map[string]client.Object, error) {
	target := TargetOf(active)
	rsOwner := map[string]string{}
	if err := listMetadata(ctx, m.API, "ReplicaSet", ns.Name, func(rs *metav1.PartialObjectMetadata) {
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.Kind == "Deployment" {
			rsOwner[rs.Name] = ref.Name
		}
	}); err != nil {
		return nil, nil, fmt.Errorf("listing the ReplicaSets of namespace %s: %w", ns.Name, err)
	}
	due := map[[2]string]int{}
	// The pods istiod deployed for a Gateway opt out of injection (istiod renders their proxy itself):
	// they are due while an old revision of the mesh rendered them, by Gateway.
	gatewayDue := map[string]int{}
	if err := listMetadata(ctx, m.API, "Pod", ns.Name, func(p *metav1.PartialObjectMetadata) {
		if name := inuse.GatewayOf(p.Labels); name != "" && p.DeletionTimestamp.IsZero() {
			if RenderedByAnOldRevision(inuse.Pod{Labels: p.Labels, Annotations: p.Annotations}, target, mine) {
				gatewayDue[name]++
			}
			return
		}
		if !p.DeletionTimestamp.IsZero() || !Due(inuse.Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Annotations: p.Annotations}, ns.Labels, f, target, mine) {
			return
		}
		key := [2]string{"Pod", p.Name}
		if ref := metav1.GetControllerOf(p); ref != nil {
			key = [2]string{ref.Kind, ref.Name}
			if d, ok := rsOwner[ref.Name]; ok && ref.Kind == "ReplicaSet" {
				key = [2]string{"Deployment", d}
			}
		}
		due[key]++
	}); err != nil {
		return nil, nil, fmt.Errorf("listing the pods of namespace %s: %w", ns.Name, err)
	}
	gateways := map[string]Gateway{}
	for _, gw := range gws {
		gateways[gw.Name] = gw
	}
	// The values of the target's injector, read once and only for a Gateway the target serves.
	var injector *string
	pdbs := &policyv1.PodDisruptionBudgetList{}
	if err := m.API.List(ctx, pdbs, client.InNamespace(ns.Name)); err != nil {
		return nil, nil, fmt.Errorf("listing the PodDisruptionBudgets of namespace %s: %w", ns.Name, err)
	}
	var ws []Workload
	objs := map[string]client.Object{}
	// The Gateways whose Deployment istiod deployed, by name.
	deployed := map[string]bool{}
	add := func(obj client.Object, kind string, template *corev1.PodTemplateSpec, rollout Rollout, msg string, deadline time.Duration) error {
		key := [2]string{kind, obj.GetName()}
		w := Workload{Kind: kind, Name: obj.GetName(), Due: due[key], RestartedFor: template.Annotations[AnnotationRestartedFor],
			Rollout: rollout, RolloutMessage: msg, Deadline: deadline}
		delete(due, key)
		if name := inuse.GatewayOf(obj.GetLabels()); name != "" && kind == "Deployment" {
			gw := gateways[name]
			w.GatewayName, w.GatewayRevision, w.Revision = name, Serving(gw, ns.Labels, f), template.Annotations[inuse.AnnotationRev]
			w.Proxy = ProxyImage(template.Spec)
			w.Due = gatewayDue[name]
			deployed[name] = true
			w.GatewayFrom, w.AwaitedSince = gw.relabelled(target)
			if w.GatewayRevision == target.Revision && w.Revision == target.Revision {
				if injector == nil {
					v, err := m.injectorValues(ctx, active)
					if err != nil {
						return err
					}
					injector = &v
				}
				w.WantProxy = GatewayProxy(*injector, gw)
				// Its pods' metadata does not say which proxy they run (an InPlace update keeps the
				// revision's name): until istiod of the target has rendered it again and it rolled
				// out, count its replicas as due.
				if w.Due == 0 && w.GatewayAwaited(target) {
					w.Due = max(1, int(obj.(*appsv1.Deployment).Status.Replicas))
				}
			}
		}
		if w.Due == 0 && w.RestartedFor != target.Key() && !w.labelsBack(target) {
			// Nothing to restart, await or label back.
			return nil
		}
		if at, err := time.Parse(time.RFC3339, template.Annotations[AnnotationRestartedAt]); err == nil {
			w.RestartedAt = at
		}
		w.BlockedBy = blockingBudget(pdbs.Items, template.Labels)
		w.Gateway = IsGateway(template.Annotations)
		ws = append(ws, w)
		objs[w.ID(ns.Name)] = obj
		return nil
	}
	deployments := &appsv1.DeploymentList{}
	if err := m.API.List(ctx, deployments, client.InNamespace(ns.Name)); err != nil {
		return nil, nil, fmt.Errorf("listing the Deployments of namespace %s: %w", ns.Name, err)
	}
	for i := range deployments.Items {
		d := &deployments.Items[i]
		r, msg := DeploymentRollout(d)
		if err := add(d, "Deployment", &d.Spec.Template, r, msg, progressDeadline(d.Spec.ProgressDeadlineSeconds)); err != nil {
			return nil, nil, err
		}
	}
	statefulSets := &appsv1.StatefulSetList{}
	if err := m.API.List(ctx, statefulSets, client.InNamespace(ns.Name)); err != nil {
		return nil, nil, fmt.Errorf("listing the StatefulSets of namespace %s: %w", ns.Name, err)
	}
	for i := range statefulSets.Items {
		s := &statefulSets.Items[i]
		r, msg := StatefulSetRollout(s)
		if err := add(s, "StatefulSet", &s.Spec.Template, r, msg, DefaultProgressDeadline); err != nil {
			return nil, nil, err
		}
	}
	daemonSets := &appsv1.DaemonSetList{}
	if err := m.API.List(ctx, daemonSets, client.InNamespace(ns.Name)); err != nil {
		return nil, nil, fmt.Errorf("listing the DaemonSets of namespace %s: %w", ns.Name, err)
	}
	for i := range daemonSets.Items {
		d := &daemonSets.Items[i]
		r, msg := DaemonSetRollout(d)
		if err := add(d, "DaemonSet", &d.Spec.Template, r, msg, DefaultProgressDeadline); err != nil {
			return nil, nil, err
		}
	}
	// What owns the other due pods: bare pods, Jobs, ReplicaSets without a Deployment, others' kinds.
	for key, n := range due {
		ws = append(ws, Workload{Kind: key[0], Name: key[1], Due: n})
	}
	// A Gateway bosun relabelled that has no Deployment of istiod's (one deployed by hand, or not yet
	// deployed): nothing to await, but a paused move labels it back all the same.
	for _, gw := range gws {
		if from, _ := gw.relabelled(target); from != "" && !deployed[gw.Name] {
			ws = append(ws, Workload{Kind: "Gateway", Name: gw.Name, GatewayName: gw.Name, GatewayRevision: Serving(gw, ns.Labels, f), GatewayFrom: from})
		}
	}
	SortWorkloads(ws)
	return ws, objs, nil
}

// blockingBudget names the first PodDisruptionBudget that selects pods with these labels and allows no
// disruption now, or "".
func blockingBudget(pdbs []policyv1.PodDisruptionBudget, podLabels map[string]string) string {
	for _, pdb := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(podLabels)) {
			continue
		}
		if pdb.Status.DisruptionsAllowed == 0 {
			return pdb.Name
		}
	}
	return ""
}

// relabel moves a namespace's istio.io/rev label from the old revision to the target, recording where
// it came from in the same write.
func (m *Mover) relabel(ctx context.Context, istio *v1.Istio, namespace, from string, target Target) error {
	rec := m.moving(target, from)
	if err := m.record(ctx, namespace, rec, target.Revision); err != nil {
		return err
	}
	logr.FromContextOrDiscard(ctx).Info("relabelled a namespace", "namespace", namespace, "from", from, "to", target.Revision)
	m.Recorder.Eventf(istio, nil, corev1.EventTypeNormal, "NamespaceRelabelled", "UpdateWorkloads", "namespace %s: %s=%s → %s", namespace, inuse.LabelRev, from, target.Revision)
	return nil
}

// GatewayKind is the Gateway API's Gateway, metadata only: the move reads and relabels nothing else of
// it.
var GatewayKind = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}

// gateways reads the Gateway API Gateways of a namespace (metadata only). A cluster without the Gateway
// API has none.
func (m *Mover) gateways(ctx context.Context, namespace string) ([]Gateway, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(GatewayKind.GroupVersion().WithKind("GatewayList"))
	if err := m.API.List(ctx, list, client.InNamespace(namespace)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the Gateways of namespace %s: %w", namespace, err)
	}
	out := make([]Gateway, 0, len(list.Items))
	for _, gw := range list.Items {
		g := Gateway{Name: gw.Name, Revision: gw.Labels[inuse.LabelRev], ProxyImage: gw.Annotations[AnnotationProxyImage]}
		if data := gw.Annotations[AnnotationRecord]; data != "" {
			rec := &Record{}
			if json.Unmarshal([]byte(data), rec) == nil {
				g.Record = rec
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// injectorValues are the values (JSON) in the ConfigMap of a revision's injector, which bosun applied
// and istiod renders the Deployments of Gateways from; "" when it has none (global.
// omitSidecarInjectorConfigMap). It is read from the operator's cache, which holds the ConfigMaps bosun
// applies.
func (m *Mover) injectorValues(ctx context.Context, rev *v1.IstioRevision) (string, error) {
	cm := &unstructured.Unstructured{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	name := "istio-sidecar-injector" + strings.TrimPrefix(desired.IstiodName(rev), "istiod")
	if err := m.Cache.Get(ctx, client.ObjectKey{Namespace: rev.Spec.Namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading the injector ConfigMap %s/%s of IstioRevision %s: %w", rev.Spec.Namespace, name, rev.Name, err)
	}
	v, _, _ := unstructured.NestedString(cm.Object, "data", "values")
	return v, nil
}

// ProxyImage is the image of a pod spec's istio-proxy container (a native sidecar among the init
// containers included), "" when it has none.
func ProxyImage(spec corev1.PodSpec) string {
	for _, c := range append(slices.Clone(spec.Containers), spec.InitContainers...) {
		if c.Name == "istio-proxy" {
			return c.Image
		}
	}
	return ""
}

// relabelGateway moves a Gateway's istio.io/rev label from an old revision to the target, recording on
// it, in the same patch, where from and when (a paused move labels it back; its Deployment is awaited
// from then): istiod of the target then deploys it again. back labels it back to rec.From instead.
func (m *Mover) relabelGateway(ctx context.Context, istio *v1.Istio, namespace, name string, rec Record, target Target, back bool) error {
	from, to := rec.From, target.Revision
	if back {
		from, to = to, from
	}
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	obj.SetGroupVersionKind(GatewayKind)
	if err := m.mark(ctx, obj, rec, to); err != nil {
		return fmt.Errorf("relabelling Gateway %s/%s: %w", namespace, name, err)
	}
	reason, what := "GatewayRelabelled", "Gateway %s/%s: %s=%s → %s"
	if back {
		reason, what = "GatewayRolledBack", "Gateway %s/%s: %s=%s → %s, back: the move paused"
	}
	logr.FromContextOrDiscard(ctx).Info("relabelled a Gateway", "namespace", namespace, "gateway", name, "from", from, "to", to)
	m.Recorder.Eventf(istio, nil, corev1.EventTypeNormal, reason, "UpdateWorkloads", what, namespace, name, inuse.LabelRev, from, to)
	return nil
}

// moving is the record of a move to target beginning now in a namespace, or of a Gateway relabelled
// now, from the revision its istio.io/rev label named ("" when bosun relabels nothing).
func (m *Mover) moving(target Target, from string) Record {
	return Record{Target: target.Key(), State: StateMoving, From: from, At: m.now()}
}

// record writes the namespace's record and, when label is not empty, its istio.io/rev label, in one
// patch.
func (m *Mover) record(ctx context.Context, namespace string, rec Record, label string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := m.mark(ctx, ns, rec, label); err != nil {
		return fmt.Errorf("recording the move in namespace %s: %w", namespace, err)
	}
	return nil
}

// mark writes, in one merge patch, the move's record (AnnotationRecord) on a namespace or a Gateway and,
// when label is not empty, its istio.io/rev label. It then checks that the API server kept the label:
// an admission policy or webhook that dropped it would otherwise make the move write it again and
// again.
func (m *Mover) mark(ctx context.Context, obj client.Object, rec Record, label string) error {
	meta := map[string]any{"annotations": map[string]string{AnnotationRecord: rec.Encode()}}
	if label != "" {
		meta["labels"] = map[string]string{inuse.LabelRev: label}
	}
	data, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	if err := m.Writer.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data), client.FieldOwner(apply.FieldManager)); err != nil {
		return err
	}
	if got := obj.GetLabels()[inuse.LabelRev]; label != "" && got != label {
		return fmt.Errorf("the API server kept %s=%q, not %s (does an admission policy or webhook change it?)", inuse.LabelRev, got, label)
	}
	return nil
}

// now is the time as bosun's records and kubectl's restartedAt hold it (RFC 3339, whole seconds).
func (m *Mover) now() string { return m.Clock.Now().UTC().Format(time.RFC3339) }

// restart restarts a workload as `kubectl rollout restart` does, recording the change it was for (or
// that it was rolled back from it).
func (m *Mover) restart(ctx context.Context, istio *v1.Istio, namespace string, w Workload, objs map[string]client.Object, target Target, back bool) error {
	obj := objs[w.ID(namespace)]
	if obj == nil {
		return fmt.Errorf("restarting %s: not read", w.ID(namespace))
	}
	key := target.Key()
	if back {
		key = RollbackPrefix + key
	}
	annotations := map[string]string{AnnotationRestartedAt: m.now(), AnnotationRestartedFor: key}
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": annotations}}}})
	if err != nil {
		return err
	}
	if err := m.Writer.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data), client.FieldOwner(apply.FieldManager)); err != nil {
		return fmt.Errorf("restarting %s: %w", w.ID(namespace), err)
	}
	what, reason := "restarted %s onto the proxy of %s", "WorkloadRestarted"
	if back {
		what, reason = "restarted %s back onto the old proxy: the move to %s paused", "WorkloadRolledBack"
		metrics.WorkloadRollbacks.WithLabelValues(istio.Name).Inc()
	} else {
		metrics.WorkloadsRestarted.WithLabelValues(istio.Name).Inc()
	}
	logr.FromContextOrDiscard(ctx).Info("restarted a workload", "workload", w.ID(namespace), "for", key)
	m.Recorder.Eventf(istio, obj, corev1.EventTypeNormal, reason, "UpdateWorkloads", what, w.ID(namespace), target.String())
	return nil
}

// restartBack restarts the workloads of a paused namespace back onto the old proxy.
func (m *Mover) restartBack(ctx context.Context, istio *v1.Istio, namespace string, ws []Workload, objs map[string]client.Object, target Target) error {
	for _, w := range ws {
		if w.GatewayName != "" {
			rec := Record{Target: target.Key(), State: StatePaused, From: w.GatewayFrom, At: m.now()}
			if err := m.relabelGateway(ctx, istio, namespace, w.GatewayName, rec, target, true); err != nil {
				return err
			}
			continue
		}
		if err := m.restart(ctx, istio, namespace, w, objs, target, true); err != nil {
			return err
		}
	}
	return nil
}

// listMetadata calls each for every object of a kind (of the core or apps group) in namespace ("" for
// all), metadata only, a page at a time.
func listMetadata(ctx context.Context, r client.Reader, kind, namespace string, each func(*metav1.PartialObjectMetadata)) error {
	list := &metav1.PartialObjectMetadataList{}
	gv := corev1.SchemeGroupVersion
	if kind == "ReplicaSet" {
		gv = appsv1.SchemeGroupVersion
	}
	list.SetGroupVersionKind(gv.WithKind(kind + "List"))
	opts := []client.ListOption{client.Limit(500)}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if kind == "Pod" {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.ParseSelectorOrDie(inuse.PodFieldSelector)})
	}
	for {
		if err := r.List(ctx, list, opts...); err != nil {
			return err
		}
		for i := range list.Items {
			each(&list.Items[i])
		}
		if list.Continue == "" {
			return nil
		}
		opts = append(opts, client.Continue(list.Continue))
	}
}
