package move

import "sigs.k8s.io/controller-runtime/pkg/event"

// Wakeups are the wake-ups a Waker sent, which the Istio controller would receive.
func Wakeups(w *Waker) chan event.GenericEvent { return w.events }

// Awaiting is the workload, as Workload.ID names it, that a Waker watches for an Istio's move, or "".
func Awaiting(w *Waker, istio string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a, ok := w.awaited[istio]; ok {
		return a.id
	}
	return ""
}
