package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReconcilePhase is how long each phase of a reconcile took, by kind and phase: read (the object and
// the facts it is decided from), decide, render, apply, revisions (an Istio's create, update and
// prune of its revisions) and status. When a step to the floor of the cluster moves, it says which
// phase did.
var ReconcilePhase = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "bosun_reconcile_phase_seconds",
	Help:    "Time spent in each phase of a reconcile, by kind and phase (read, decide, render, apply, revisions, status).",
	Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
}, []string{"kind", "phase"})

// Phases times the phases of one reconcile.
type Phases struct {
	kind string
	last time.Time
}

// StartPhases starts timing a reconcile of kind.
func StartPhases(kind string) *Phases { return &Phases{kind: kind, last: time.Now()} }

// Done records the time since the previous phase ended (or the reconcile started) as phase.
func (p *Phases) Done(phase string) {
	now := time.Now()
	ReconcilePhase.WithLabelValues(p.kind, phase).Observe(now.Sub(p.last).Seconds())
	p.last = now
}
