package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
)

// handoverLock is the operator's leader election lock: client-go's Lease lock, changed so that a
// replica that does not lead takes the Lease as soon as the leader releases it, instead of at its
// next try.
//
// client-go's elector tries to acquire once per jittered retry period (20 s to 44 s with the
// defaults): each try reads the Lease (Get) and takes it if nobody holds it, or if its holder has not
// renewed it for a lease duration as this replica measures time. A Lease the leader released on
// SIGTERM would wait for the next try. A shorter retry period would make the leader renew, that is
// write, more often, since one setting governs both. Instead, while this replica does not lead, Get
// waits, watching the Lease, until the elector can act on it:
//   - nobody holds it (the leader released it, or it was never held): Get returns it, and the elector
//     takes it in the same try;
//   - it expired (a crashed leader): Get returns it as nobody's, so that the elector takes it in the
//     same try rather than at its next one. It expires as client-go reckons: a lease duration after
//     this replica first saw its current content, which the watch shows within moments of the
//     leader's write, while the elector's own reads see it up to a jittered retry period late;
//   - it is gone: Get returns NotFound and the elector creates it;
//   - the elector's context ends (the operator stops): Get returns the Lease as last read, held.
//
// Renewals by the leader do not end the wait: each one moves the expiry on. If the Lease cannot be
// watched (no watch permission, say), Get returns at once and the elector polls, as with client-go's
// own lock.
//
// The leader's calls never wait: once this replica has written itself as the holder, Get is client-go's
// read, so renewals, and the read before a release, take no longer than they did.
//
// Because a try can wait for a long time, the time at which the elector began it is stale when it
// writes. The lock therefore stamps its own writes: the renew time is the time of the write, and the
// acquire time is when this replica took the Lease.
type handoverLock struct {
	inner *rl.LeaseLock
	// watcher watches the Lease. Its client has no timeout, unlike inner's, whose requests are kept
	// shorter than the renew deadline.
	watcher coordinationv1client.LeasesGetter
	clock   clock.Clock
	log     logr.Logger
	// rewatchAfter is how long a watch must have served before the lock opens another when the API
	// server ends it (as it does every 30 to 60 minutes); a watch that ends sooner sends the elector
	// back to its retry period, so that a failing API server is not asked again and again.
	rewatchAfter time.Duration

	mu sync.Mutex
	// held is whether this replica's last successful write named it the holder.
	held bool
	// acquiredAt is when this replica last took the Lease.
	acquiredAt metav1.Time
	// seen is the Lease's record as last seen, as client-go's elector compares records, and seenAt
	// when this replica first saw it.
	seen   []byte
	seenAt time.Time
	// unwatchable is whether the last attempt to watch the Lease failed, so that a failure is logged
	// once, not at every try.
	unwatchable bool
}

var _ rl.Interface = (*handoverLock)(nil)

// newHandoverLock returns the lock of the Lease LeaderElectionID in namespace, for a replica named
// after its host (as controller-runtime names it) and a unique suffix. Its requests get the timeout
// controller-runtime gives its own lock: half the renew deadline, so that one hung request does not
// cost the leader its Lease.
func newHandoverLock(cfg *rest.Config, namespace string, lease LeaseTimings) (*handoverLock, error) {
	if namespace == "" {
		return nil, errors.New("leader election needs the namespace of its Lease")
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	watchClient, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = max(lease.RenewDeadline/2, time.Second)
	client, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &handoverLock{
		inner: &rl.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: LeaderElectionID},
			Client:     client,
			LockConfig: rl.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())},
		},
		watcher:      watchClient,
		clock:        clock.RealClock{},
		log:          logr.Discard(),
		rewatchAfter: lease.RetryPeriod,
	}, nil
}

// Get reads the Lease and, while this replica does not lead, waits until the elector can act on it,
// as the type's doc says. It returns the Lease's error when reading it fails (NotFound among them).
func (l *handoverLock) Get(ctx context.Context) (*rl.LeaderElectionRecord, []byte, error) {
	for {
		rec, raw, err := l.inner.Get(ctx)
		if err != nil || l.leads() {
			return rec, raw, err
		}
		now := l.clock.Now()
		ok, expires := takeable(rec, l.Identity(), l.see(raw, now), now)
		if ok {
			return offered(rec, l.Identity()), raw, nil
		}
		if err := l.waitForChange(ctx, expires); err != nil {
			if ctx.Err() == nil {
				l.watchFailed(err)
			}
			return rec, raw, nil
		}
		// The Lease changed so that the elector can act, or expired: read it again, so that the
		// elector's write goes over the version it decided on.
	}
}

// takeable says whether the elector may act on a Lease whose record is rec, which this replica
// first saw at seenAt: when nobody holds it, when this replica does, or when it expired, a lease
// duration after seenAt (client-go's measure: it trusts no clock but the replica's own). Otherwise
// it returns when the Lease expires.
func takeable(rec *rl.LeaderElectionRecord, self string, seenAt, now time.Time) (bool, time.Time) {
	if rec.HolderIdentity == "" || rec.HolderIdentity == self {
		return true, time.Time{}
	}
	expires := seenAt.Add(time.Duration(rec.LeaseDurationSeconds) * time.Second)
	return !expires.After(now), expires
}

// offered is the record the elector is given for a takeable Lease: the Lease's own, except that an
// expired Lease is shown with nobody holding it, which the elector takes in the same try. Its own
// expiry check would wait for a try that began after the expiry: the try under way began before it.
func offered(rec *rl.LeaderElectionRecord, self string) *rl.LeaderElectionRecord {
	if rec.HolderIdentity == "" || rec.HolderIdentity == self {
		return rec
	}
	free := *rec
	free.HolderIdentity = ""
	return &free
}

// waitForChange watches the Lease until the elector can act on it (takeable), it is deleted, or it
// expires, at expires or a lease duration after a newer record was seen; then it returns nil. It
// returns ctx's error when ctx ends, and an error when the Lease cannot be watched or the watch fails.
func (l *handoverLock) waitForChange(ctx context.Context, expires time.Time) error {
	timer := l.clock.NewTimer(expires.Sub(l.clock.Now()))
	defer timer.Stop()
	for {
		// No resource version: the watch starts with the Lease as it is now, so a change between
		// the read and the watch is not missed.
		w, err := l.watcher.Leases(l.inner.LeaseMeta.Namespace).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", l.inner.LeaseMeta.Name).String(),
		})
		if err != nil {
			return err
		}
		l.watchWorks()
		opened := l.clock.Now()
		done, err := l.follow(ctx, w, timer, &expires)
		w.Stop()
		if done || err != nil {
			return err
		}
		if l.clock.Since(opened) < l.rewatchAfter {
			return errors.New("the API server ended the watch of the Lease early")
		}
	}
}

// follow reads w's events until the elector can act on the Lease or it expires (done), ctx ends,
// the watch fails (an error), or the API server ends the watch (neither). Each newer record moves
// expires and the timer on.
func (l *handoverLock) follow(ctx context.Context, w watch.Interface, timer clock.Timer, expires *time.Time) (done bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-timer.C():
			return true, nil
		case ev, open := <-w.ResultChan():
			if !open {
				return false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return true, nil
			case watch.Error:
				return true, fmt.Errorf("watching the Lease: %w", apierrors.FromObject(ev.Object))
			case watch.Added, watch.Modified:
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					return true, fmt.Errorf("watching the Lease: unexpected %T", ev.Object)
				}
				rec := rl.LeaseSpecToLeaderElectionRecord(&lease.Spec)
				raw, err := json.Marshal(*rec)
				if err != nil {
					return true, err
				}
				now := l.clock.Now()
				ok, next := takeable(rec, l.Identity(), l.see(raw, now), now)
				if ok {
					return true, nil
				}
				if !next.Equal(*expires) {
					*expires = next
					timer.Reset(next.Sub(now))
				}
			}
		}
	}
}

// see records that this replica saw the Lease's record raw at now, and returns when it first saw it.
func (l *handoverLock) see(raw []byte, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !bytes.Equal(raw, l.seen) {
		l.seen, l.seenAt = raw, now
	}
	return l.seenAt
}

// leads says whether this replica's last successful write named it the holder.
func (l *handoverLock) leads() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

func (l *handoverLock) watchFailed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.unwatchable {
		l.log.Error(err, "cannot watch the leader election Lease: this replica takes it over at its next try once the leader releases it, up to a jittered retry period later, instead of at once")
	}
	l.unwatchable = true
}

func (l *handoverLock) watchWorks() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unwatchable {
		l.log.Info("watching the leader election Lease again")
	}
	l.unwatchable = false
}

// Create creates the Lease with ler, stamped (see stamp).
func (l *handoverLock) Create(ctx context.Context, ler rl.LeaderElectionRecord) error {
	l.stamp(&ler)
	err := l.inner.Create(ctx, ler)
	l.wrote(ler, err)
	return err
}

// Update writes ler to the Lease, stamped (see stamp): a renewal, an acquisition or a release.
func (l *handoverLock) Update(ctx context.Context, ler rl.LeaderElectionRecord) error {
	l.stamp(&ler)
	err := l.inner.Update(ctx, ler)
	l.wrote(ler, err)
	return err
}

// stamp sets the times of a record that names this replica the holder: the renew time to now, the
// acquire time to when this replica took the Lease (now, if it is taking it). The elector sets both
// to when its try began, which may be long before, as Get waits.
func (l *handoverLock) stamp(ler *rl.LeaderElectionRecord) {
	if ler.HolderIdentity != l.Identity() {
		return
	}
	now := metav1.NewTime(l.clock.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		l.acquiredAt = now
	}
	ler.AcquireTime, ler.RenewTime = l.acquiredAt, now
}

// wrote records the outcome of a write of ler.
func (l *handoverLock) wrote(ler rl.LeaderElectionRecord, err error) {
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = ler.HolderIdentity == l.inner.Identity()
}

// RecordEvent records an event about the Lease, as client-go's lock does.
func (l *handoverLock) RecordEvent(s string) { l.inner.RecordEvent(s) }

// Identity is this replica's name in the Lease.
func (l *handoverLock) Identity() string { return l.inner.Identity() }

// Describe names the Lease, namespace/name.
func (l *handoverLock) Describe() string { return l.inner.Describe() }
