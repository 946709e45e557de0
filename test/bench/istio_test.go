//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

const (
	// istioName names the benchmarks' Istio, as in OpenShift Service Mesh's procedures.
	istioName = "default"
	// controlPlaneNamespace is where istiod runs.
	controlPlaneNamespace = "istio-system"
	// waitTimeout bounds every wait for the operator or the cluster to act.
	waitTimeout = 3 * time.Minute
)

// newIstio is the benchmarks' Istio on fromVersion with the given update strategy.
func newIstio(strategy string) *v1.Istio {
	grace := int64(10)
	return &v1.Istio{
		ObjectMeta: metav1.ObjectMeta{Name: istioName},
		Spec: v1.IstioSpec{
			Namespace: controlPlaneNamespace,
			Version:   fromVersion,
			// A short grace period bounds how long the scale benchmark waits for the old revision's removal.
			UpdateStrategy: &v1.IstioUpdateStrategy{Type: strategy, InactiveRevisionDeletionGracePeriodSeconds: &grace},
		},
	}
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(ctx context.Context, c client.Client, name string, labels map[string]string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// createIstio creates the Istio, and its namespace if need be, and returns when the create call
// returned.
func createIstio(b *testing.B, c *cluster, istio *v1.Istio) time.Time {
	b.Helper()
	if err := ensureNamespace(b.Context(), c.client, istio.Spec.Namespace, nil); err != nil {
		b.Fatal(err)
	}
	if err := c.client.Create(b.Context(), istio); err != nil {
		b.Fatal(err)
	}
	return time.Now()
}

// setVersion patches the Istio's spec.version, as `kubectl patch istio --type=merge` does, and returns
// when the patch call returned.
func setVersion(b *testing.B, c *cluster, name, version string) time.Time {
	b.Helper()
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"version":"`+version+`"}}`))
	if err := c.client.Patch(b.Context(), &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}}, patch); err != nil {
		b.Fatal(err)
	}
	return time.Now()
}

// ready reports whether the Istio has reconciled its latest generation and is Ready, with active as its
// active revision when active is not empty.
func ready(active string) func(*v1.Istio) bool {
	return func(istio *v1.Istio) bool {
		c := meta.FindStatusCondition(istio.Status.Conditions, v1.ConditionReady)
		return istio.Status.ObservedGeneration == istio.Generation && c != nil && c.Status == metav1.ConditionTrue &&
			(active == "" || istio.Status.ActiveRevisionName == active)
	}
}

// waitIstio watches the Istio until cond holds, and returns when this process saw it hold: watch events
// come as the API server stores the status, without a polling interval's delay.
func waitIstio(b *testing.B, c *cluster, name string, cond func(*v1.Istio) bool) (time.Time, *v1.Istio) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	var last *v1.Istio
	for ctx.Err() == nil {
		// A watch without a resource version starts with the Istio as it is now.
		w, err := c.client.Watch(ctx, &v1.IstioList{}, client.MatchingFields{"metadata.name": name})
		if err != nil {
			b.Fatal(err)
		}
		for ev := range w.ResultChan() {
			istio, ok := ev.Object.(*v1.Istio)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			last = istio
			if cond(istio) {
				w.Stop()
				return time.Now(), istio
			}
		}
		w.Stop()
	}
	if last == nil {
		b.Fatalf("timed out after %s waiting for Istio %s, which never showed", waitTimeout, name)
	}
	b.Fatalf("timed out after %s waiting for Istio %s; last status %+v", waitTimeout, name, last.Status)
	return time.Time{}, nil
}

// deleteIstio deletes an Istio and waits until it and its revisions are gone, that is until the
// operator has removed everything it applied for them.
func deleteIstio(b *testing.B, c *cluster, name string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.client.Delete(ctx, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
		b.Errorf("deleting Istio %s: %v", name, err)
		return
	}
	err := poll(ctx, 200*time.Millisecond, func() error {
		if err := c.client.Get(ctx, client.ObjectKey{Name: name}, &v1.Istio{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Istio %s is still there (%v)", name, err)
		}
		var list v1.IstioRevisionList
		if err := c.client.List(ctx, &list); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("IstioRevision %s is still there", list.Items[0].Name)
		}
		return nil
	})
	if err != nil {
		b.Errorf("waiting for the revisions of Istio %s to be gone: %v", name, err)
	}
}

// waitGone waits until the operator has deleted the old revision, unused for its grace period.
func waitGone(b *testing.B, c *cluster, rev string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	err := poll(ctx, time.Second, func() error {
		err := c.client.Get(ctx, client.ObjectKey{Name: rev}, &v1.IstioRevision{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		cond, _ := revisionCondition(ctx, c.client, rev, v1.ConditionInUse)
		return fmt.Errorf("revision %s still there (InUse %+v): %v", rev, cond, err)
	})
	if err != nil {
		b.Fatal(err)
	}
	progress("the operator deleted revision %s", rev)
}

// revisionCondition returns a condition of an IstioRevision, or nil when the revision or the condition
// is not there.
func revisionCondition(ctx context.Context, c client.Client, name, conditionType string) (*metav1.Condition, error) {
	rev := &v1.IstioRevision{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, rev); err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(rev.Status.Conditions, conditionType), nil
}

// poll calls f every interval until it returns nil or ctx ends; it returns f's last error then.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// quietWindow is how long the operator must send no write but lease renewals to count as converged.
const quietWindow = 5 * time.Second

// waitQuiet waits until the operator has sent no API write other than lease renewals for quietWindow,
// and returns a sample from the end of that window.
func waitQuiet(b *testing.B, p *operatorProcess) sample {
	b.Helper()
	deadline := time.Now().Add(waitTimeout)
	last := p.sample(b)
	stillSince := last.at
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		s := p.sample(b)
		if changed := s.metrics.writes().since(last.metrics.writes()); changed.total(resourceLeases) != 0 {
			stillSince = s.at
		}
		last = s
		if last.at.Sub(stillSince) >= quietWindow {
			return last
		}
	}
	b.Fatalf("the operator kept writing for %s: last second %s", waitTimeout, last.metrics.writes())
	return sample{}
}
