package move

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/metrics"
)

// Waker wakes an Istio as soon as the rollout its move awaits ends, so that the move goes on at once
// rather than at its next recheck (RecheckInterval, which stays as the fallback). The operator's cache
// holds no workloads (it stays small at 10,000 pods), so the Waker watches the one workload a move
// awaits, by name, for as long as it awaits it: one watch per moving Istio, none when no move runs.
// It runs with the manager (Start), whose end stops every watch.
type Waker struct {
	client client.WithWatch

	mu      sync.Mutex
	base    context.Context
	awaited map[string]*awaiting
	events  chan event.GenericEvent
}

// awaiting is the watch of the workload one Istio's move awaits.
type awaiting struct {
	id     string
	cancel context.CancelFunc
}

// NewWaker returns a Waker that watches with c.
func NewWaker(c client.WithWatch) *Waker {
	return &Waker{client: c, base: context.Background(), awaited: map[string]*awaiting{}, events: make(chan event.GenericEvent, 64)}
}

// Start runs the Waker until ctx ends, which stops its watches (manager.Runnable). Like the controllers,
// it runs while the operator leads.
func (w *Waker) Start(ctx context.Context) error {
	w.mu.Lock()
	w.base = ctx
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	for istio, a := range w.awaited {
		a.cancel()
		delete(w.awaited, istio)
	}
	return nil
}

// Source is where the Waker's wake-ups reach the Istio controller.
func (w *Waker) Source() source.Source {
	return source.Channel(w.events, &handler.EnqueueRequestForObject{})
}

// Await watches the workload an Istio's move awaits in namespace until its rollout ends (complete or
// failed after it was seen progressing, as DeploymentRollout and its siblings say), or its deadline
// and a minute more pass; it then wakes the Istio. written is the workload as the move just wrote it (a
// restart): the watch starts at its resourceVersion, from its state. Without it (a rollout the move
// read), the watch starts now, from the state its first event shows; a rollout that ended between the
// move's read and then is seen at the recheck. A resourceVersion the move read could be too old for
// the API server's watch cache (a Gateway's Deployment unchanged for days). Awaiting the workload
// already awaited does nothing; awaiting another stops the watch before.
func (w *Waker) Await(istio, namespace string, wl Workload, written client.Object) {
	if w == nil {
		return
	}
	list := watchedKind(wl.Kind)
	if list == nil {
		w.Forget(istio)
		return
	}
	id := wl.ID(namespace)
	w.mu.Lock()
	defer w.mu.Unlock()
	if a, ok := w.awaited[istio]; ok {
		if a.id == id {
			return
		}
		a.cancel()
	}
	deadline := wl.Deadline
	if deadline <= 0 {
		deadline = DefaultProgressDeadline
	}
	ctx, cancel := context.WithTimeout(w.base, deadline+time.Minute)
	a := &awaiting{id: id, cancel: cancel}
	w.awaited[istio] = a
	var seen rolloutSeen
	opts := []client.ListOption{client.InNamespace(namespace), client.MatchingFields{"metadata.name": wl.Name}}
	if written != nil {
		seen.ended(rolloutOf(written))
		opts = append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: written.GetResourceVersion()}})
	}
	go func() {
		defer w.done(istio, a)
		wi, err := w.client.Watch(ctx, list, opts...)
		if err != nil {
			// The recheck comes anyway.
			log.FromContext(ctx).V(1).Info("cannot watch the workload a move awaits; its recheck will see it", "istio", istio, "workload", id, "error", err.Error())
			return
		}
		defer wi.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-wi.ResultChan():
				if !ok {
					return
				}
				obj, isObj := ev.Object.(client.Object)
				if !isObj || (ev.Type != watch.Added && ev.Type != watch.Modified) {
					continue
				}
				if seen.ended(rolloutOf(obj)) {
					// Done before the wake-up, so that the reconcile it brings may await again.
					w.done(istio, a)
					w.wake(istio)
					return
				}
			}
		}
	}()
}

// rolloutSeen is what the Waker saw of the rollout it awaits, one state after another: first as the
// move wrote the workload, or as the watch's first event shows it, then each change the watch brings.
type rolloutSeen struct {
	any, progressed bool
}

// ended reports whether the rollout ended with this state: it is complete or failed after it was seen
// progressing. The first state never ends it: the move acted on it, or on one before it.
func (s *rolloutSeen) ended(r Rollout) bool {
	first := !s.any
	s.any = true
	if r == RolloutProgressing {
		s.progressed = true
		return false
	}
	return !first && s.progressed
}

// Forget stops awaiting a workload for an Istio: its move awaits none, or the Istio is gone.
func (w *Waker) Forget(istio string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if a, ok := w.awaited[istio]; ok {
		a.cancel()
		delete(w.awaited, istio)
	}
}

// done ends a watch: it is no longer awaited, unless another watch took its place.
func (w *Waker) done(istio string, a *awaiting) {
	a.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.awaited[istio] == a {
		delete(w.awaited, istio)
	}
}

// wake enqueues the Istio; when the channel is full, its recheck comes anyway.
func (w *Waker) wake(istio string) {
	select {
	case w.events <- event.GenericEvent{Object: &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: istio}}}:
		metrics.WorkloadsUpdateWakeups.WithLabelValues(istio).Inc()
	default:
	}
}

// watchedKind is the list to watch a workload kind with; nil for a kind bosun does not restart.
func watchedKind(kind string) client.ObjectList {
	switch kind {
	case "Deployment":
		return &appsv1.DeploymentList{}
	case "StatefulSet":
		return &appsv1.StatefulSetList{}
	case "DaemonSet":
		return &appsv1.DaemonSetList{}
	}
	return nil
}

// rolloutOf is how a watched workload's rollout stands (DeploymentRollout and its siblings).
func rolloutOf(obj client.Object) Rollout {
	var r Rollout
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r, _ = DeploymentRollout(o)
	case *appsv1.StatefulSet:
		r, _ = StatefulSetRollout(o)
	case *appsv1.DaemonSet:
		r, _ = DaemonSetRollout(o)
	default:
		r = RolloutProgressing
	}
	return r
}
