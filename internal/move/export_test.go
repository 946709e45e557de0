package move

import "sigs.k8s.io/controller-runtime/pkg/event"

// Wakeups are the wake-ups a Waker sent, which the Istio controller would receive.
func Wakeups(w *Waker) chan event.GenericEvent { return w.events }
