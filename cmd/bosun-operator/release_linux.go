//go:build linux && (amd64 || arm64)

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseExecutable hands the pages of the executable back to the kernel. It unmaps the pages of
// every read-only mapping of the executable (madvise MADV_DONTNEED, which for a private file mapping
// drops the page table entries and nothing else); the kernel maps a page again the next time the
// program reads it. Writable mappings are left alone: their pages may hold changes the file does not.
//
// The kernel maps every page of its page cache within 64 kB of the page read (fault-around), so
// unmapping alone leaves the idle operator mapping about 18 MiB of its executable where it reads a
// fraction of that: the code it runs, and scattered entries of the runtime's tables (the stack maps
// the collector reads for every frame of every goroutine, type descriptors). For the mapping of those
// tables and the read-only data it also drops the pages no process maps from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED) and marks the mapping random-access (MADV_RANDOM), so that a
// page read again is read alone, without its neighbours. The code stays in the page cache: read
// again one page at a time from disk, it made the first install after start-up 1 to 1.5 s slower,
// for no fewer pages mapped (docs/performance.md).
func releaseExecutable() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	var found []mapping
	for line := range strings.Lines(string(maps)) {
		if m, ok := readOnlyMappingOf(line, exe); ok {
			found = append(found, m)
		}
	}
	if len(found) == 0 {
		return errors.New("no read-only mapping of the executable in /proc/self/maps")
	}
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, m := range found {
		advice := []uintptr{syscall.MADV_DONTNEED}
		if !m.executable {
			advice = []uintptr{syscall.MADV_RANDOM, syscall.MADV_DONTNEED}
		}
		for _, a := range advice {
			if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, a); errno != 0 {
				return fmt.Errorf("madvise(%#x-%#x, %d): %w", m.start, m.end, a, errno)
			}
		}
		if m.executable {
			continue
		}
		const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
		if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), m.offset, m.end-m.start, fadvDontNeed, 0, 0); errno != 0 {
			return fmt.Errorf("posix_fadvise(%s, %#x, %#x, POSIX_FADV_DONTNEED): %w", exe, m.offset, m.end-m.start, errno)
		}
	}
	return nil
}

// mapping is a read-only mapping of the executable: its addresses, where it starts in the file, and
// whether it holds code.
type mapping struct {
	start, end, offset uintptr
	executable         bool
}

// readOnlyMappingOf reads a line of /proc/self/maps ("start-end perms offset dev inode path") and
// returns the mapping if it maps the file path and is not writable.
func readOnlyMappingOf(line, path string) (mapping, bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path || len(fields[1]) < 4 || fields[1][1] == 'w' {
		return mapping{}, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	offset, err3 := strconv.ParseUint(fields[2], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || end <= start {
		return mapping{}, false
	}
	return mapping{start: uintptr(start), end: uintptr(end), offset: uintptr(offset), executable: fields[1][2] == 'x'}, true
}
