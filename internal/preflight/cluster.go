package preflight

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Checker reads what the checks need when an Istio's version changes, and reports their findings.
type Checker struct {
	Env desired.Env
	// Cache is the operator's cache: the pods' trimmed metadata, by index.
	Cache client.Reader
	// API reads the namespaces' labels and the PodDisruptionBudgets, which the cache does not hold.
	API      client.Reader
	Recorder events.EventRecorder
	// Renderer renders the target revision's charts, to find values they refuse; nil renders nothing.
	Renderer *render.Renderer
}

// Verdict is what the checks of a change decided.
type Verdict struct {
	Change Change
	// Condition is the UpdatePreflight condition.
	Condition metav1.Condition
	// Refusal refuses the change when a finding is hard, and is nil otherwise.
	Refusal *desired.Refusal
}

// Run checks the change the Istio's plan makes, if it makes one, before it is made: it returns the
// verdict, or nil when the plan changes no version. The findings are told once, when the
// UpdatePreflight condition the Istio reports changes: a Warning Event for each soft finding (the
// refusal, which the caller reports, tells the hard ones). An error is a failed read: nothing was
// checked, and the change waits for the retry.
func (c *Checker) Run(ctx context.Context, istio *v1.Istio, plan desired.IstioPlan, owned []*v1.IstioRevision, f *desired.Facts) (*Verdict, error) {
	ch, ok := ChangeOf(istio, plan, owned)
	if !ok {
		return nil, nil
	}
	s, err := c.read(ctx, istio, ch, owned, f)
	if err != nil {
		return nil, fmt.Errorf("checking the change to %s: %w", ch.To, err)
	}
	findings := Check(c.Env, istio, ch, s)
	v := &Verdict{Change: ch, Condition: Condition(ch, findings), Refusal: Refusal(ch, findings)}
	if old := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionUpdatePreflight); old == nil || old.Reason != v.Condition.Reason || old.Message != v.Condition.Message {
		for _, finding := range findings {
			if !finding.Hard {
				c.Recorder.Eventf(istio, nil, corev1.EventTypeWarning, v1.ConditionUpdatePreflight, "Update", "%s", finding.Message)
			}
		}
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("checked a version change", "from", ch.From, "to", ch.To, "findings", len(findings), "refused", v.Refusal != nil)
	return v, nil
}

// renderTarget renders the charts of the change's target revision, and returns why they do not
// render, or nil.
func (c *Checker) renderTarget(ch Change) error {
	if c.Renderer == nil {
		return nil
	}
	return RenderTarget(c.Env, c.Renderer, ch.Target)
}

// RenderTarget renders the charts of a change's target revision (desired.Env.RevisionCharts) and
// returns why they do not render with its values, or nil: the Snapshot's Render.
func RenderTarget(env desired.Env, r *render.Renderer, target *v1.IstioRevision) error {
	reqs, err := env.RevisionCharts(target)
	if err != nil {
		return err
	}
	for _, req := range reqs {
		if _, err := r.RenderObjects(req); err != nil {
			return err
		}
	}
	return nil
}

// read reads the snapshot of the checks: the target's charts rendered, the pods of the Istio's revisions from the cache, the
// namespaces it discovers from the API server (metadata only), and, when it moves its workloads, the
// PodDisruptionBudgets that allow no disruption in namespaces where its pods run.
func (c *Checker) read(ctx context.Context, istio *v1.Istio, ch Change, owned []*v1.IstioRevision, f *desired.Facts) (Snapshot, error) {
	s := Snapshot{Facts: f, Render: c.renderTarget(ch)}
	lookup := inuse.Cache{Ctx: ctx, Reader: c.Cache}
	meshNamespaces := map[string]bool{}
	for _, rev := range owned {
		pods, err := lookup.PodsByAnnotation(rev.Name)
		if err != nil {
			return s, fmt.Errorf("listing the pods of IstioRevision %s: %w", rev.Name, err)
		}
		for _, p := range pods {
			meshNamespaces[p.Namespace] = true
		}
		s.Pods = append(s.Pods, pods...)
	}
	namespaces := &metav1.PartialObjectMetadataList{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := c.API.List(ctx, namespaces); err != nil {
		return s, fmt.Errorf("listing namespaces: %w", err)
	}
	for _, ns := range namespaces.Items {
		if ns.DeletionTimestamp.IsZero() && desired.Discovers(istio, ns.Labels) {
			s.Namespaces = append(s.Namespaces, inuse.Namespace{Name: ns.Name, Labels: ns.Labels})
		}
	}
	if istio.Spec.UpdateStrategy == nil || !istio.Spec.UpdateStrategy.UpdateWorkloads {
		return s, nil
	}
	budgets := &policyv1.PodDisruptionBudgetList{}
	if err := c.API.List(ctx, budgets); err != nil {
		return s, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	for _, b := range budgets.Items {
		if meshNamespaces[b.Namespace] && b.Status.DisruptionsAllowed == 0 {
			s.Budgets = append(s.Budgets, Budget{Namespace: b.Namespace, Name: b.Name})
		}
	}
	return s, nil
}
