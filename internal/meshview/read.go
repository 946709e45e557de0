package meshview

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/podmeta"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Read takes a snapshot of a cluster: bosun's resources through c (desired.Read, as the operator
// reads them), and the metadata of the namespaces and of the pods that can reference a revision
// through mc, in paged, metadata-only lists. Of each pod it keeps only what the view reads.
func Read(ctx context.Context, c client.Reader, mc metadata.Interface) (Snapshot, error) {
	facts, err := desired.Read(ctx, c)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Facts: facts}
	err = podmeta.Namespaces(ctx, mc, func(m *metav1.PartialObjectMetadata) {
		s.Namespaces = append(s.Namespaces, inuse.Namespace{Name: m.Name, Labels: inuse.Only(m.Labels, inuse.LabelInjection, inuse.LabelRev)})
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("listing namespaces: %w", err)
	}
	if err := podmeta.Pods(ctx, mc, inuse.PodFieldSelector, func(m *metav1.PartialObjectMetadata) { s.Pods = append(s.Pods, pod(m)) }); err != nil {
		return Snapshot{}, fmt.Errorf("listing pods: %w", err)
	}
	for _, phase := range podmeta.Finished {
		if err := podmeta.Pods(ctx, mc, phase, func(m *metav1.PartialObjectMetadata) { s.Finished = append(s.Finished, pod(m)) }); err != nil {
			return Snapshot{}, fmt.Errorf("listing finished pods: %w", err)
		}
	}
	return s, nil
}

// pod keeps what the view reads of a pod's metadata.
func pod(m *metav1.PartialObjectMetadata) Pod {
	p := Pod{Pod: inuse.Pod{Namespace: m.Namespace, Name: m.Name,
		Labels:      inuse.Only(m.Labels, inuse.LabelRev, inuse.LabelInject, "pod-template-hash"),
		Annotations: inuse.Only(m.Annotations, inuse.AnnotationRev, values.AnnotationProxyVersion)}}
	if owner := metav1.GetControllerOf(m); owner != nil {
		p.OwnerKind, p.OwnerName = owner.Kind, owner.Name
	}
	return p
}
