package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-mesh/bosun/internal/metrics"
)

// Cache renders a resource's charts once per set of inputs. Its key, the digest, covers everything a
// rendered object depends on: the charts (version and name), the effective values, release names and
// namespaces, the cluster the charts see (its version: the cni chart branches on it), and bosun's own
// version. While a resource's digest stays the same, its reconciles reuse the objects rendered before
// and render nothing.
type Cache struct {
	renderer *Renderer
	cluster  Cluster
	bosun    string
	// kind is the kind of bosun resource the cache renders for, as metrics label it.
	kind string

	mu      sync.Mutex
	entries map[types.UID]cached
}

type cached struct {
	digest  string
	objects []*unstructured.Unstructured
}

// NewCache returns a Cache over a Renderer for a cluster, for the resources of one kind (for
// metrics: bosun_renders_total and bosun_render_cache_hits_total); bosunVersion is part of every digest.
func NewCache(r *Renderer, cluster Cluster, bosunVersion, kind string) *Cache {
	return &Cache{renderer: r, cluster: cluster, bosun: bosunVersion, kind: kind, entries: map[types.UID]cached{}}
}

// Digest is the cache key of a set of requests.
func (c *Cache) Digest(reqs []Request) (string, error) {
	data, err := json.Marshal(struct {
		Requests []Request
		Cluster  Cluster
		Bosun    string
	}{reqs, c.cluster, c.bosun})
	if err != nil {
		return "", fmt.Errorf("computing the digest of the charts' inputs: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// Render returns the objects of the requests, CRDs aside, in apply order: the cached ones when the
// owner's digest did not change. The objects are shared; callers must not modify them.
func (c *Cache) Render(owner types.UID, reqs []Request) ([]*unstructured.Unstructured, error) {
	digest, err := c.Digest(reqs)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.entries[owner]
	c.mu.Unlock()
	if ok && e.digest == digest {
		metrics.RenderCacheHits.WithLabelValues(c.kind).Inc()
		return e.objects, nil
	}
	var objs []*unstructured.Unstructured
	for _, req := range reqs {
		res, err := c.renderer.RenderObjects(req)
		metrics.Renders.WithLabelValues(c.kind).Inc()
		if err != nil {
			return nil, err
		}
		objs = append(objs, res.Objects...)
	}
	Sort(objs)
	c.mu.Lock()
	c.entries[owner] = cached{digest: digest, objects: objs}
	c.mu.Unlock()
	return objs, nil
}

// Forget drops an owner's entry, once the owner is gone.
func (c *Cache) Forget(owner types.UID) {
	c.mu.Lock()
	delete(c.entries, owner)
	c.mu.Unlock()
}
