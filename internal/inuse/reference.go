// Package inuse decides whether an Istio control-plane revision, or an IstioRevisionTag, is in use by
// workloads, so that bosun never prunes a revision that pods still depend on. It is pure over its
// inputs: it reads namespaces and pods through a Lookup and never calls the Kubernetes API.
//
// # What references a name
//
// Namespaces and pods reference a name; the name is a revision's or a tag's. The rules follow the
// selectors of Istio's injection webhooks:
//
//   - A namespace labelled istio-injection=enabled references default, whatever its istio.io/rev label
//     says. A namespace with any other istio-injection value (disabled, say) references nothing and opts
//     its pods out of references by label. Any other namespace references the value of its istio.io/rev
//     label, if that is not empty.
//   - A pod counts only while its phase is not Succeeded or Failed: a completed Job pod or a crashed pod
//     must not keep a revision alive forever.
//   - A pod references the name in its istio.io/rev annotation, in any namespace. Istio's injector
//     writes that annotation on every pod it injects, naming the revision that injected it.
//   - A pod references a name by its labels only when its namespace references nothing and has not
//     opted out, and its sidecar.istio.io/inject label is not "false": the name is its istio.io/rev
//     label, or default when that is empty and sidecar.istio.io/inject is "true". A pod in a namespace
//     that references a name follows its namespace, so its labels do not count.
//
// # When a revision or a tag is in use
//
// The names that resolve to a revision are its own name, the names of the IstioRevisionTags that point
// at it, and default when the revision is named default or the tag named default points at it.
// Revision reports a revision in use when a namespace or a counting pod references one of those
// names, when any tag points at it (whether or not that tag is used), or when default resolves to it
// and its values set sidecarInjectorWebhook.enableNamespacesByDefault. Tag reports a tag in use when a
// namespace or a pod references the tag's name by label: a pod's annotation always names the revision,
// never the tag. Both return a Usage whose Message explains the verdict to a user.
//
// # Scaling
//
// Clusters run tens of thousands of pods, so an evaluation never lists them all. The operator keeps
// pods and namespaces in a metadata-only cache and registers a field index named IndexField on both
// kinds, with NamespaceIndexKeys and PodIndexKeys as the index functions. Its Lookup then answers "who
// references name N" with one indexed list per question (LabelKey and AnnotationKey build the values to
// match), so the cost of an evaluation grows with the objects that reference the revision, not with
// the cluster. Cache is that Lookup; the tests use one over the same keys held in maps.
//
// Pod metadata carries no phase. The operator's pod cache should therefore list and watch with
// PodFieldSelector: the API server then leaves Succeeded and Failed pods out of the cache, and deletes
// a pod from it when the pod reaches one of those phases. Pods from such a cache have an empty Phase,
// which counts.
package inuse

import (
	corev1 "k8s.io/api/core/v1"
)

// The labels and annotation this package reads; a cache that strips metadata to save memory must keep
// them.
const (
	// LabelInjection is the namespace label istio-injection. The value enabled selects the name
	// default; any other value opts the namespace and its pods out of injection.
	LabelInjection = "istio-injection"
	// LabelRev is the istio.io/rev label. On a namespace or a pod it names the revision or tag whose
	// injector should inject the pods.
	LabelRev = "istio.io/rev"
	// AnnotationRev is the istio.io/rev annotation. Istio's injector writes it on every pod it injects,
	// naming the revision that injected the pod.
	AnnotationRev = "istio.io/rev"
	// LabelInject is the pod label sidecar.istio.io/inject. "false" opts a pod out of injection; "true"
	// asks for the default revision when the pod has no istio.io/rev label.
	LabelInject = "sidecar.istio.io/inject"
)

// Labels istiod puts on what it deploys for a Gateway API Gateway (a gateway or a waypoint): the
// Deployment and its pods. Those pods opt out of injection and carry no other label of the injector,
// yet their istio.io/rev annotation names the revision that rendered them.
const (
	// LabelGatewayName names the Gateway.
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"
	// LabelGatewayManaged says istiod's gateway controller deployed it.
	LabelGatewayManaged = "gateway.istio.io/managed"
)

// GatewayOf is, by its labels, the name of the Gateway API Gateway istiod deployed a Deployment or pod
// for, or "".
func GatewayOf(labels map[string]string) string {
	if labels[LabelGatewayManaged] == "" {
		return ""
	}
	return labels[LabelGatewayName]
}

// Default is the name that istio-injection=enabled and sidecar.istio.io/inject=true select: the
// revision named default, or the revision the IstioRevisionTag named default points at.
const Default = "default"

// PodFieldSelector is the field selector for the operator's pod cache. It keeps the pods that no longer
// count (Succeeded and Failed) out of the cache, since metadata-only objects carry no phase to test.
const PodFieldSelector = "status.phase!=Succeeded,status.phase!=Failed"

// IndexField is the name of the field index the operator registers on namespaces and on pods, with
// NamespaceIndexKeys and PodIndexKeys as the index functions.
const IndexField = "inuse.bosun-mesh.io/reference"

// Only is the entries of m under keys, or nil when it has none: what a cache or a copy of metadata
// must keep of labels or annotations for the rules to read them.
func Only(m map[string]string, keys ...string) map[string]string {
	var out map[string]string
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// LabelKey is the index value of a namespace or pod that references name by its labels.
func LabelKey(name string) string { return "label:" + name }

// AnnotationKey is the index value of a pod whose istio.io/rev annotation is name.
func AnnotationKey(name string) string { return "annotation:" + name }

// NamespaceReference is the name a namespace's labels reference, or "" if none. optedOut is true when
// the namespace has an istio-injection label other than enabled: it references nothing, and the labels
// of its pods do not count either.
func NamespaceReference(labels map[string]string) (name string, optedOut bool) {
	// istio-injection wins over istio.io/rev: Istio's revision webhooks select namespaces with
	// istio.io/rev only where istio-injection does not exist (docs/architecture.md#lesson-default-tag).
	if v, ok := labels[LabelInjection]; ok {
		if v == "enabled" {
			return Default, false
		}
		return "", true
	}
	return labels[LabelRev], false
}

// PodReferences are the names a pod references: byAnnotation by its istio.io/rev annotation, byLabel by
// its own labels. Both are "" for a pod that does not count. byLabel counts only if the pod's namespace
// references nothing and has not opted out, which the caller must check (NamespaceReference); the
// labels alone cannot tell.
func PodReferences(labels, annotations map[string]string, phase corev1.PodPhase) (byAnnotation, byLabel string) {
	return annotationReference(annotations, phase), labelReference(labels, phase)
}

// annotationReference is the name a pod in this phase references by its annotations.
func annotationReference(annotations map[string]string, phase corev1.PodPhase) string {
	if !counts(phase) {
		return ""
	}
	return annotations[AnnotationRev]
}

// labelReference is the name a pod in this phase references by its own labels.
func labelReference(labels map[string]string, phase corev1.PodPhase) string {
	if !counts(phase) {
		return ""
	}
	inject := labels[LabelInject]
	switch {
	case inject == "false":
		return ""
	case labels[LabelRev] != "":
		return labels[LabelRev]
	case inject == "true":
		return Default
	}
	return ""
}

// counts reports whether a pod in this phase depends on its revision. A Succeeded pod (a completed Job)
// and a Failed one will never run again (docs/architecture.md#lesson-finished-pods); Running, Pending,
// Unknown and an unknown phase ("") count.
func counts(phase corev1.PodPhase) bool {
	return phase != corev1.PodSucceeded && phase != corev1.PodFailed
}

// NamespaceIndexKeys are the values under which a namespace with these labels is indexed at IndexField:
// LabelKey of the name it references, or none.
func NamespaceIndexKeys(labels map[string]string) []string {
	if name, _ := NamespaceReference(labels); name != "" {
		return []string{LabelKey(name)}
	}
	return nil
}

// PodIndexKeys are the values under which a pod is indexed at IndexField: AnnotationKey and LabelKey of
// the names it references (PodReferences). A pod that does not count is indexed under nothing, so it
// leaves the index as soon as its phase becomes Succeeded or Failed.
func PodIndexKeys(labels, annotations map[string]string, phase corev1.PodPhase) []string {
	byAnnotation, byLabel := PodReferences(labels, annotations, phase)
	var keys []string
	if byAnnotation != "" {
		keys = append(keys, AnnotationKey(byAnnotation))
	}
	if byLabel != "" {
		keys = append(keys, LabelKey(byLabel))
	}
	return keys
}
