package meshview

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/podmeta"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Read takes a snapshot of a cluster: bosun's resources through c (desired.Read, as the operator
// reads them), and the metadata of the namespaces and of the pods that can reference a revision
// through mc, in paged, metadata-only lists. Of each pod it keeps only what the view reads.
func Read(ctx context.Context, c client.Reader, mc metadata.Interface) (Snapshot, error) {
	var s Snapshot
	var finished [2][]Pod
	var mu sync.Mutex
	// The lists are independent: they run side by side, so that the view costs the longest of them.
	reads := []func() error{
		func() (err error) {
			s.Facts, err = desired.Read(ctx, c)
			return err
		},
		func() error {
			err := podmeta.Namespaces(ctx, mc, func(m *metav1.PartialObjectMetadata) {
				s.Namespaces = append(s.Namespaces, inuse.Namespace{Name: m.Name, Labels: inuse.Only(m.Labels, inuse.LabelInjection, inuse.LabelRev)})
			})
			return wrap("listing namespaces", err)
		},
		func() error {
			err := podmeta.Pods(ctx, mc, inuse.PodFieldSelector, func(m *metav1.PartialObjectMetadata) { s.Pods = append(s.Pods, pod(m)) })
			return wrap("listing pods", err)
		},
	}
	for _, kind := range []string{v1.KindIstioCNI, v1.KindZTunnel} {
		reads = append(reads, func() error {
			count, found, err := nodeCount(ctx, c, kind)
			if err != nil || !found {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if s.Nodes == nil {
				s.Nodes = map[string]NodeCount{}
			}
			s.Nodes[kind] = count
			return nil
		})
	}
	for i, phase := range podmeta.Finished {
		reads = append(reads, func() error {
			err := podmeta.Pods(ctx, mc, phase, func(m *metav1.PartialObjectMetadata) { finished[i] = append(finished[i], pod(m)) })
			return wrap("listing finished pods", err)
		})
	}
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = read()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Snapshot{}, err
	}
	s.Finished = append(finished[0], finished[1]...)
	return s, nil
}

// wrap says what failed.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nodeCount is the readiness across nodes of the DaemonSet bosun applied for the node agent of kind
// named default; found is false when there is none.
func nodeCount(ctx context.Context, c client.Reader, kind string) (NodeCount, bool, error) {
	var list appsv1.DaemonSetList
	owner := render.OwnerLabelValue(render.Owner{Kind: kind, Name: v1.SingletonName})
	if err := c.List(ctx, &list, client.MatchingLabels{render.LabelOwner: owner}); err != nil {
		return NodeCount{}, false, fmt.Errorf("listing the DaemonSet of %s: %w", kind, err)
	}
	if len(list.Items) == 0 {
		return NodeCount{}, false, nil
	}
	st := list.Items[0].Status
	return NodeCount{Ready: st.NumberReady, Desired: st.DesiredNumberScheduled}, true, nil
}

// pod keeps what the view reads of a pod's metadata.
func pod(m *metav1.PartialObjectMetadata) Pod {
	p := Pod{Pod: inuse.Pod{Namespace: m.Namespace, Name: m.Name,
		Labels:      inuse.Only(m.Labels, inuse.LabelRev, inuse.LabelInject, "pod-template-hash", inuse.LabelGatewayName, inuse.LabelGatewayManaged),
		Annotations: inuse.Only(m.Annotations, inuse.AnnotationRev, values.AnnotationProxyVersion)}}
	if owner := metav1.GetControllerOf(m); owner != nil {
		p.OwnerKind, p.OwnerName = owner.Kind, owner.Name
	}
	return p
}
