package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// An operator is idle most of its life, between bursts of work: start-up, an install, an upgrade, a
// restart of thousands of pods. A burst leaves memory behind that the idle operator no longer uses:
// heap the collector freed but the runtime keeps for the next allocations, and the pages of the
// executable that the work ran (start-up alone maps about 30 MiB of the 56 MB executable,
// docs/performance.md). Both count in the operator's resident memory, and in its container's, until
// the kernel runs short. So when the operator goes idle after a burst, it hands both back: it
// collects garbage and returns the free heap to the kernel (debug.FreeOSMemory), and it releases the
// executable's pages (releaseExecutable). The next burst maps again what it runs.
const (
	// idleCheckInterval is how often the operator looks at its allocations.
	idleCheckInterval = 5 * time.Second
	// idleAllocations is what the operator allocates in an idleCheckInterval at most to count as idle:
	// an idle operator renews its lease and answers probes and metrics scrapes, tens of kB a second
	// (a scrape every second, as make bench does, is about 150 kB a second).
	idleAllocations = 2 << 20
	// burstAllocations is what the operator must have allocated since it last released memory for
	// going idle to be worth another release: start-up allocates tens of MB, a reconcile that renders a
	// chart about 8 MB. An operator that stays idle releases again after about ten minutes of lease
	// renewals and scrapes.
	burstAllocations = 8 << 20
)

// shouldRelease decides, from the bytes allocated in the last idleCheckInterval and since the last
// release, whether the operator has just gone idle after a burst of work.
func shouldRelease(lastInterval, sinceRelease uint64) bool {
	return lastInterval <= idleAllocations && sinceRelease >= burstAllocations
}

// releaseWhenIdle checks the operator's allocations every idleCheckInterval until ctx ends, and
// releases memory (releaseMemory) each time the operator goes idle after a burst of work.
func releaseWhenIdle(ctx context.Context, log logr.Logger) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	released, last := uint64(0), allocated()
	ticker := time.NewTicker(idleCheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		now := allocated()
		if shouldRelease(now-last, now-released) {
			if err := releaseMemory(); err != nil {
				log.V(1).Info("could not release the executable's pages", "error", err.Error())
			} else {
				log.V(1).Info("idle: released the free heap and the executable's pages", "allocated since the last release", now-released)
			}
			now = allocated()
			released = now
		}
		last = now
	}
}

// releaseMemory returns the free heap to the kernel and unmaps the executable's read-only pages.
func releaseMemory() error {
	debug.FreeOSMemory()
	return releaseExecutable()
}
