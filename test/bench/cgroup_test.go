//go:build linux

package bench

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/api/resource"
)

// containerMemory, when set, runs every operator in a memory cgroup of its own with that limit, as a
// container with resources.limits.memory runs: the operator's --memory-limit=auto reads the limit, and
// the kernel charges the group for the operator's memory and for the pages of its binary that it reads
// (the harness drops them from the page cache first, as on a node that has not run the binary
// lately), reclaims those pages when the group is full, and kills the operator only when its own
// memory does not fit.
var containerMemory = flag.String("container-memory", "", "run the operator in a memory cgroup with this limit, such as 96Mi, as a container's (needs root and a writable cgroup hierarchy)")

// memoryCgroup is a cgroup (v1 memory controller, or v2) holding one operator process.
type memoryCgroup struct {
	dir string
	v2  bool
}

// newMemoryCgroup makes a child of this process's memory cgroup with the given limit.
func newMemoryCgroup(limit string) (*memoryCgroup, error) {
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		return nil, fmt.Errorf("-container-memory %q: %w", limit, err)
	}
	own, v2, err := ownMemoryCgroup()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(own, "bosun-bench-")
	if err != nil {
		return nil, fmt.Errorf("making a memory cgroup for the operator (run as root with a writable cgroup hierarchy, or without -container-memory): %w", err)
	}
	cg := &memoryCgroup{dir: dir, v2: v2}
	file := "memory.limit_in_bytes"
	if v2 {
		file = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(q.Value(), 10)), 0); err != nil {
		return nil, errors.Join(fmt.Errorf("limiting the operator's cgroup: %w", err), cg.remove())
	}
	return cg, nil
}

// ownMemoryCgroup finds the directory of this process's memory cgroup: the v1 memory controller's if
// it is mounted, else the v2 group's.
func ownMemoryCgroup() (dir string, v2 bool, err error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	var unified string
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		switch {
		case len(parts) != 3:
		case parts[0] == "0" && parts[1] == "":
			unified = parts[2]
		case strings.Contains(","+parts[1]+",", ",memory,"):
			return filepath.Join("/sys/fs/cgroup/memory", parts[2]), false, nil
		}
	}
	if unified == "" {
		return "", false, errors.New("this process is in no memory cgroup")
	}
	return filepath.Join("/sys/fs/cgroup", unified), true, nil
}

// procs is the file a process id is written to, to move that process into the group.
func (cg *memoryCgroup) procs() string { return filepath.Join(cg.dir, "cgroup.procs") }

// oomKills is how many times the group ran out of memory and the kernel killed a process in it.
func (cg *memoryCgroup) oomKills() (int64, error) {
	if cg.v2 {
		return keyedInt(filepath.Join(cg.dir, "memory.events"), "oom_kill")
	}
	return keyedInt(filepath.Join(cg.dir, "memory.oom_control"), "oom_kill")
}

// remove removes the group once its process has exited.
func (cg *memoryCgroup) remove() error {
	return os.Remove(cg.dir)
}

// keyedInt reads the value of a key from a file of "key value" lines.
func keyedInt(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if k == key {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// evictFromPageCache drops a file's pages from the kernel's page cache, so that the next process to map
// it reads them again, and its cgroup is charged for them: a container is charged for the pages of
// its binary that it brings into memory, unless they were cached already, which on a busy node they
// may not be.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Dirty pages are not dropped: write them first.
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
