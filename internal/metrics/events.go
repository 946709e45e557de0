package metrics

import (
	"fmt"
	"reflect"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// CountEvents wraps an event recorder so that every Event recorded through it is counted in Events,
// and its note fits what the API server stores.
func CountEvents(r events.EventRecorder) events.EventRecorder {
	return countingRecorder{next: r}
}

type countingRecorder struct{ next events.EventRecorder }

// maxNote is the longest note the API server accepts in an Event; a longer one makes it refuse the
// whole Event, which is then lost.
const maxNote = 1024

func (r countingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	Events.WithLabelValues(kindOf(regarding), eventtype, reason).Inc()
	r.next.Eventf(regarding, related, eventtype, reason, action, "%s", Note(fmt.Sprintf(note, args...)))
}

// Note is note cut to what an Event may hold, ending in "…" when cut: a long message (a scope
// conflict over dozens of namespaces, say) is still recorded, its start intact; the condition it
// comes from holds the whole.
func Note(note string) string {
	if len(note) <= maxNote {
		return note
	}
	const ellipsis = "…"
	cut := maxNote - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(note[cut]) {
		cut--
	}
	return note[:cut] + ellipsis
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
