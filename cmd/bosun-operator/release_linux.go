//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseExecutable hands the pages of the executable back to the kernel. For each read-only mapping
// of the executable (its code, read-only data and the runtime's symbol tables) it:
//
//   - marks the mapping random-access (madvise MADV_RANDOM), so that a page read again is read alone,
//     without the readahead that would bring its neighbours back into the page cache;
//   - unmaps its pages (MADV_DONTNEED), which for a private file mapping drops the page table entries
//     and nothing else.
//
// Then it drops the executable's pages that no process maps from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED). The kernel maps a page on the next read: every page the
// kernel finds in its page cache, up to 64 kB around the one read (fault-around), which is why
// unmapping alone leaves the idle operator mapping about 18 MiB of its executable where it reads
// perhaps a fifth of that; without the page cache, it maps what it reads. A page read again costs a
// read from the file: a few hundred of them in the first seconds of work after an idle period
// (docs/performance.md). Writable mappings are left alone: their pages may hold changes the file
// does not.
func releaseExecutable() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer maps.Close()
	var ranges [][2]uintptr
	for s := bufio.NewScanner(maps); s.Scan(); {
		start, end, ok := readOnlyMappingOf(s.Text(), exe)
		if ok {
			ranges = append(ranges, [2]uintptr{start, end})
		}
	}
	if len(ranges) == 0 {
		return errors.New("no read-only mapping of the executable in /proc/self/maps")
	}
	for _, r := range ranges {
		for _, advice := range []uintptr{syscall.MADV_RANDOM, syscall.MADV_DONTNEED} {
			if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, r[0], r[1]-r[0], advice); errno != 0 {
				return fmt.Errorf("madvise(%#x-%#x, %d): %w", r[0], r[1], advice, errno)
			}
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		return fmt.Errorf("posix_fadvise(%s, POSIX_FADV_DONTNEED): %w", exe, errno)
	}
	return nil
}

// readOnlyMappingOf reads a line of /proc/self/maps ("start-end perms offset dev inode path") and
// returns its address range if it maps the file path and is not writable.
func readOnlyMappingOf(line, path string) (start, end uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path || len(fields[1]) < 2 || fields[1][1] == 'w' {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
