package metrics

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// CountEvents wraps an event recorder so that every Event recorded through it is counted in Events.
func CountEvents(r events.EventRecorder) events.EventRecorder {
	return countingRecorder{next: r}
}

type countingRecorder struct{ next events.EventRecorder }

func (r countingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	Events.WithLabelValues(kindOf(regarding), eventtype, reason).Inc()
	r.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

// kindOf is an object's kind: its TypeMeta's, which typed objects read through a client often lack,
// else its Go type's name (v1.Istio is Istio).
func kindOf(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	if kind := obj.GetObjectKind().GroupVersionKind().Kind; kind != "" {
		return kind
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
