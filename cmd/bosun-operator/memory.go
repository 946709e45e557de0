package main

import (
	"fmt"
	"io/fs"
	"os"
	pathpkg "path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// binaryReserve is the part of the operator's memory limit kept for the pages of its own executable:
// the kernel charges a container for the pages of its binary that it reads. The operator maps about
// 30 MiB of its 56 MB executable while it starts, 12 to 20 MiB while it works, and 8 to 12 MiB idle
// (idle.go); with only a few MiB left it reads its code from disk again and again
// (docs/performance.md), which costs far more than collecting garbage more often.
const binaryReserve = 32 << 20

// defaultGCPercent is the collector's pace (GOGC) when the operator has no memory limit and $GOGC is
// not set: between collections the heap may grow by a quarter of what is live, where Go's default
// (100) lets it double. At 10,000 pods, where some 28 MiB are live, that is what keeps the operator's
// peak during an upgrade under 64 MiB (62 MiB; 74 MiB at GOGC 50, 79 to 99 MiB at 100), for about as
// much CPU as the machine's noise (docs/performance.md).
const defaultGCPercent = 25

// softLimit is the Go runtime's soft memory limit for an operator limited to limit bytes: the limit
// less room for the binary's pages (binaryReserve, or a tenth of a large limit) and for the moment a
// burst of work outgrows the soft limit before the collector catches up, but never less than half
// the limit: below what is live, the collector would run without end.
func softLimit(limit int64) int64 {
	return max(limit/2, limit-max(limit/10, binaryReserve))
}

// setMemoryLimit gives the Go runtime a soft memory limit (softLimit) from the operator's memory
// limit: the --memory-limit value, or with "auto" the container's limit. Without one the runtime lets
// the heap grow to twice what is live between collections (GOGC=100), which on a large cluster is
// tens of megabytes of garbage. $GOMEMLIMIT, which the runtime has already applied, wins. It returns
// the runtime's limit as the start-up log shows it.
func setMemoryLimit(value string) (string, error) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		return env + " ($GOMEMLIMIT)", nil
	}
	var limit int64
	switch value {
	case "none":
	case "auto":
		limit = cgroupMemoryLimit(os.DirFS("/"))
	default:
		q, err := resource.ParseQuantity(value)
		if err != nil || q.Sign() <= 0 {
			return "", fmt.Errorf("--memory-limit %q: want a quantity such as 128Mi, auto or none", value)
		}
		limit = q.Value()
	}
	if limit == 0 {
		if os.Getenv("GOGC") != "" {
			return "none ($GOGC " + os.Getenv("GOGC") + ")", nil
		}
		debug.SetGCPercent(defaultGCPercent)
		return fmt.Sprintf("none (GOGC %d)", defaultGCPercent), nil
	}
	soft := softLimit(limit)
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("%dMi of %dMi", soft>>20, limit>>20), nil
}

// noCgroupLimit is what cgroup v1 reports for an unlimited group (the largest page-aligned int64);
// anything at least this large means no limit.
const noCgroupLimit = 1 << 62

// cgroupMemoryLimit returns the memory limit of this process's cgroup in bytes, or 0 when it has none
// or it cannot be read. It reads cgroup v2's memory.max, else cgroup v1's memory.limit_in_bytes, of the
// group /proc/self/cgroup names, under /sys/fs/cgroup as a container mounts it; the group's own path
// may not be visible inside the container, so the mount's root is tried too.
func cgroupMemoryLimit(root fs.FS) int64 {
	groups, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return 0
	}
	var candidates []string
	for line := range strings.Lines(string(groups)) {
		// hierarchy-ID:controllers:path; cgroup v2's line is 0::path.
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		path := strings.Trim(parts[2], "/")
		switch {
		case parts[0] == "0" && parts[1] == "":
			candidates = append(candidates, pathpkg.Join("sys/fs/cgroup", path, "memory.max"), "sys/fs/cgroup/memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			candidates = append(candidates, pathpkg.Join("sys/fs/cgroup/memory", path, "memory.limit_in_bytes"), "sys/fs/cgroup/memory/memory.limit_in_bytes")
		}
	}
	for _, name := range candidates {
		data, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || v <= 0 || v >= noCgroupLimit {
			// "max", or v1's unlimited value.
			return 0
		}
		return v
	}
	return 0
}
