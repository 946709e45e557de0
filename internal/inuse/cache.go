package inuse

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Cache is the Lookup of the operator: it answers from its metadata-only cache of namespaces and pods,
// through the field index IndexField. Lists are not deep-copied: the objects are only read.
type Cache struct {
	Ctx    context.Context
	Reader client.Reader
}

func (l Cache) list(kind, key string) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind + "List"))
	if err := l.Reader.List(l.Ctx, list, client.MatchingFields{IndexField: key}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// NamespacesReferencing implements Lookup.
func (l Cache) NamespacesReferencing(name string) ([]Namespace, error) {
	items, err := l.list("Namespace", LabelKey(name))
	out := make([]Namespace, 0, len(items))
	for _, ns := range items {
		out = append(out, Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	return out, err
}

func (l Cache) pods(key string) ([]Pod, error) {
	items, err := l.list("Pod", key)
	out := make([]Pod, 0, len(items))
	for _, p := range items {
		out = append(out, Pod{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Annotations: p.Annotations})
	}
	return out, err
}

// PodsByAnnotation implements Lookup.
func (l Cache) PodsByAnnotation(name string) ([]Pod, error) { return l.pods(AnnotationKey(name)) }

// PodsByLabel implements Lookup.
func (l Cache) PodsByLabel(name string) ([]Pod, error) { return l.pods(LabelKey(name)) }

// Namespace implements Lookup.
func (l Cache) Namespace(name string) (Namespace, bool, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := l.Reader.Get(l.Ctx, client.ObjectKey{Name: name}, ns)
	if client.IgnoreNotFound(err) != nil {
		return Namespace{}, false, err
	}
	if err != nil {
		return Namespace{}, false, nil
	}
	return Namespace{Name: ns.Name, Labels: ns.Labels}, true, nil
}

// Condition is the InUse condition of a revision's or tag's usage, or of a failed evaluation, which is
// Unknown: bosun never takes an evaluation it could not make for "unused"
// (docs/architecture.md#lesson-unknown-is-in-use).
func Condition(usage Usage, err error) metav1.Condition {
	switch {
	case err != nil:
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionUnknown, Reason: v1.ReasonUsageCheckFailed, Message: err.Error()}
	case usage.InUse():
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionTrue, Reason: v1.ReasonReferencedByWorkloads, Message: usage.Message()}
	default:
		return metav1.Condition{Type: v1.ConditionInUse, Status: metav1.ConditionFalse, Reason: v1.ReasonNotReferencedByAnything, Message: usage.Message()}
	}
}
