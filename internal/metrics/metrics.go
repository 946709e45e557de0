// Package metrics holds bosun's own Prometheus metrics, registered with controller-runtime's registry
// and served on the operator's metrics endpoint beside controller-runtime's.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Renders counts chart renders, by the kind of resource rendered for. A converged operator renders
	// nothing: pod churn, status changes and drift checks reuse the objects rendered before.
	Renders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_renders_total",
		Help: "Charts rendered, by the kind of bosun resource they were rendered for.",
	}, []string{"kind"})

	// RenderCacheHits counts reconciles that found a resource's chart inputs unchanged (the same
	// digest) and reused the objects rendered before.
	RenderCacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_render_cache_hits_total",
		Help: "Reconciles whose chart inputs had not changed, so nothing was rendered, by the kind of bosun resource.",
	}, []string{"kind"})

	// Events counts the Events bosun records, by the kind of object they are about, type and reason:
	// Normal ones record changes bosun made, Warning ones refusals and errors.
	Events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_events_total",
		Help: "Events bosun recorded, by the kind of object, type (Normal: a change bosun made; Warning: a refusal or error) and reason.",
	}, []string{"kind", "type", "reason"})

	// Applies counts objects written by internal/apply, by resource kind and action (created, updated,
	// corrected, adopted, pruned; removed with a resource that is deleted).
	Applies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_applied_objects_total",
		Help: "Objects bosun wrote, by the kind of bosun resource that owns them and the action: created, updated, corrected (drift), adopted, pruned (left the chart) or removed (with the resource).",
	}, []string{"kind", "action"})

	// ReconcileErrors counts reconciles that ended in an error, by the kind reconciled and the reason
	// (internal/controller.ErrorReason: the API server's reason for a failed request, else
	// ReconcileError). Every such reconcile is retried with backoff. Both labels take values from fixed
	// sets, so the number of series stays small.
	ReconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_reconcile_errors_total",
		Help: "Reconciles that ended in an error and are retried with backoff, by kind and reason (the API server's status reason, else ReconcileError).",
	}, []string{"kind", "reason"})

	// Refusals counts specs bosun refused, by kind and the reason of the Reconciled condition that says
	// why (NamespaceNotFound, VersionSkew, …): once each time a resource becomes refused, or refused
	// for another reason or message, as the Warning Event is recorded. A refusal is not an error: bosun
	// waits for the resource (or what it names) to change.
	Refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_refusals_total",
		Help: "Resources refused as written, by kind and reason, counted when the refusal first appears.",
	}, []string{"kind", "reason"})
)

// ScopeConflicts is the number of namespaces each Istio shares with another mesh of the cluster (its
// ScopeConflict condition); 0 when it shares none. The series of a deleted Istio is removed.
var ScopeConflicts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "bosun_scope_conflicts",
	Help: "Namespaces an Istio shares with another mesh of the cluster (by discovery selectors or injection labels), by Istio.",
}, []string{"istio"})

// RemoteClusterReachable is 1 for each cluster an Istio's remote secrets name that answers, and 0 for
// one that does not (its RemoteClustersReachable condition). The series of a cluster no longer named,
// and of a deleted Istio, are removed.
var RemoteClusterReachable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "bosun_remote_cluster_reachable",
	Help: "Whether a cluster an Istio's istiod serves answers through its remote secret (1) or not (0), by Istio and cluster.",
}, []string{"istio", "cluster"})

// The move of workloads to a new control plane (spec.updateStrategy.updateWorkloads, internal/move).
var (
	// WorkloadsRestarted counts the workloads bosun restarted onto a new control plane's proxy, by Istio.
	WorkloadsRestarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_workloads_restarted_total",
		Help: "Workloads (Deployments, StatefulSets, DaemonSets) bosun restarted onto the active revision's proxy, by Istio.",
	}, []string{"istio"})
	// WorkloadRollbacks counts the workloads bosun restarted back onto the old proxy after a move paused.
	WorkloadRollbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_workload_rollbacks_total",
		Help: "Workloads bosun restarted back onto the old revision's proxy after a workload did not become available, by Istio.",
	}, []string{"istio"})
	// WorkloadsUpdatePauses counts the moves that paused because a restarted workload did not become
	// available.
	WorkloadsUpdatePauses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_workloads_update_pauses_total",
		Help: "Moves of workloads that paused because a restarted workload did not become available, by Istio.",
	}, []string{"istio"})
	// WorkloadsUpdateWakeups counts the reconciles of an Istio that the end of a rollout its move awaited
	// brought (move.Waker), rather than the recheck.
	WorkloadsUpdateWakeups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bosun_workloads_update_wakeups_total",
		Help: "Times the end of a rollout that a move of workloads awaited woke its Istio, by Istio.",
	}, []string{"istio"})
)

func init() {
	crmetrics.Registry.MustRegister(Renders, RenderCacheHits, Events, Applies, ReconcileErrors, Refusals, ScopeConflicts, RemoteClusterReachable, ReconcilePhase,
		WorkloadsRestarted, WorkloadRollbacks, WorkloadsUpdatePauses, WorkloadsUpdateWakeups)
}
