// Package podmeta reads, from any cluster, the metadata of the namespaces and of the pods that
// internal/inuse's rules can count: metadata-only lists (PartialObjectMetadata, no pod spec crosses
// the network) that the API server pages. The operator reads its own cluster through its cache; this
// package is for what reads a cluster once: another cluster a control plane serves (internal/remote)
// and `bosun status` (internal/meshview).
package podmeta

import (
	"context"
	"errors"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"

	"github.com/bosun-mesh/bosun/internal/inuse"
)

// LabelTLSMode is the label Istio's injector puts on every pod it injects; with the labels that ask
// for injection (inuse.LabelRev, inuse.LabelInject) it selects every pod that can reference a revision.
const LabelTLSMode = "security.istio.io/tlsMode"

// PodSelectors select, together, every pod that can reference a revision (inuse.PodReferences): the
// injected ones, which carry the istio.io/rev annotation, those istiod deployed for a Gateway, which
// carry it too, and those whose labels ask for a revision.
var PodSelectors = []string{LabelTLSMode, inuse.LabelGatewayManaged, inuse.LabelRev, inuse.LabelInject + "=true"}

// Finished are the field selectors of the pods that no longer count (inuse.PodFieldSelector keeps
// them out), one per phase: a field selector cannot say "or".
var Finished = []string{"status.phase=Succeeded", "status.phase=Failed"}

var (
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	pods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// PageSize is how many objects one list request asks for: a page of pods' metadata is a few MiB.
var PageSize int64 = 1000

// Namespaces calls each for every namespace.
func Namespaces(ctx context.Context, mc metadata.Interface, each func(*metav1.PartialObjectMetadata)) error {
	return list(ctx, mc.Resource(namespaces), metav1.ListOptions{}, each)
}

// Pods calls each, once, for every pod that can reference a revision and whose phase the field
// selector lets through (inuse.PodFieldSelector for those that count, an entry of Finished for
// those that do not). The lists of the selectors run side by side; each is called under a lock.
func Pods(ctx context.Context, mc metadata.Interface, fieldSelector string, each func(*metav1.PartialObjectMetadata)) error {
	var mu sync.Mutex
	seen := map[types.UID]bool{}
	errs := make([]error, len(PodSelectors))
	var wg sync.WaitGroup
	for i, selector := range PodSelectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := metav1.ListOptions{LabelSelector: selector, FieldSelector: fieldSelector}
			errs[i] = list(ctx, mc.Resource(pods), opts, func(m *metav1.PartialObjectMetadata) {
				mu.Lock()
				defer mu.Unlock()
				if !seen[m.UID] {
					seen[m.UID] = true
					each(m)
				}
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// list calls each for every object of a paged list.
func list(ctx context.Context, ri metadata.ResourceInterface, opts metav1.ListOptions, each func(*metav1.PartialObjectMetadata)) error {
	opts.Limit = PageSize
	for {
		page, err := ri.List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range page.Items {
			each(&page.Items[i])
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}
