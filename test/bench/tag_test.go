//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// tagName names the benchmark's tag: not default, whose tag also installs the base chart's objects.
const tagName = "prod"

// newRevision is an IstioRevision of version in the control plane's namespace, created directly.
func newRevision(name, version string) *v1.IstioRevision {
	ns := controlPlaneNamespace
	return &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IstioRevisionSpec{
		Version: v1.ConcreteVersion(version), Namespace: ns, Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: &ns}},
	}}
}

// newTag is the benchmark's tag, pointing at a revision.
func newTag(revision string) *v1.IstioRevisionTag {
	return &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: tagName},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: v1.KindIstioRevision, Name: revision}}}
}

// BenchmarkTagSwitch moves a tag between two ready revisions, floorRuns times back and forth, and
// measures the time until the tag is Ready on the new revision; then the floor: the tag's objects
// rendered for the new revision, sent without the operator.
func BenchmarkTagSwitch(b *testing.B) {
	measureOnce(b)
	c, p := startOnShared(b, asTheChartRuns...)
	revs := []*v1.IstioRevision{newRevision("rev-a", fromVersion), newRevision("rev-b", toVersion)}
	b.Cleanup(func() {
		ctx := context.Background()
		_ = c.client.Delete(ctx, newTag(""))
		for _, r := range revs {
			_ = c.client.Delete(ctx, r.DeepCopy())
		}
	})
	if err := ensureNamespace(b.Context(), c.client, controlPlaneNamespace, nil); err != nil {
		b.Fatal(err)
	}
	for _, r := range revs {
		if err := c.client.Create(b.Context(), r.DeepCopy()); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.client.Create(b.Context(), newTag(revs[0].Name)); err != nil {
		b.Fatal(err)
	}
	waitTag(b, c, revs[0].Name)
	var t stepTimes
	var windows []window
	for i := range floorRuns {
		to := revs[(i+1)%2].Name
		start := waitQuiet(b, p)
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"targetRef":{"name":"`+to+`"}}}`))
		if err := c.client.Patch(b.Context(), newTag(""), patch); err != nil {
			b.Fatal(err)
		}
		changed := time.Now()
		t.operator = append(t.operator, waitTag(b, c, to).Sub(changed))
		windows = append(windows, window{start, p.sample(b)})
	}
	phaseBreakdown(b, windows)
	if err := c.client.Delete(b.Context(), newTag("")); err != nil {
		b.Fatal(err)
	}
	p.stop()

	objs := map[string][]*unstructured.Unstructured{}
	for _, r := range revs {
		for _, o := range rendered(b, revs[0], revs[1], newTag(r.Name)) {
			if o.GetLabels()["bosun.dev/owner"] == "IstioRevisionTag."+tagName {
				objs[r.Name] = append(objs[r.Name], o)
			}
		}
	}
	for i := range floorRuns {
		start := time.Now()
		if err := applyFloor(b.Context(), c, objs[revs[(i+1)%2].Name]); err != nil {
			b.Fatal(err)
		}
		t.floor = append(t.floor, time.Since(start))
	}
	deleteFloor(b, c, objs[revs[0].Name])
	reportStep(b, fmt.Sprintf("tag moved to another revision → Ready (%d objects)", len(objs[revs[0].Name])), t, 0.15, "")
}

// waitTag waits until the tag has reconciled its latest generation and is Ready on revision.
func waitTag(b *testing.B, c *cluster, revision string) time.Time {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	for ctx.Err() == nil {
		w, err := c.client.Watch(ctx, &v1.IstioRevisionTagList{}, client.MatchingFields{"metadata.name": tagName})
		if err != nil {
			b.Fatal(err)
		}
		for ev := range w.ResultChan() {
			tag, ok := ev.Object.(*v1.IstioRevisionTag)
			if ok && tag.Status.ObservedGeneration == tag.Generation && tag.Status.IstioRevision == revision &&
				meta.IsStatusConditionTrue(tag.Status.Conditions, v1.ConditionReady) {
				w.Stop()
				return time.Now()
			}
		}
		w.Stop()
	}
	b.Fatalf("timed out after %s waiting for tag %s to be Ready on %s", waitTimeout, tagName, revision)
	return time.Time{}
}
