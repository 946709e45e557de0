//go:build linux && (amd64 || arm64)

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMappingOf(t *testing.T) {
	const exe = "/bosun-operator"
	for _, tc := range []struct {
		line string
		want mapping
		ok   bool
	}{
		{"00400000-018d5000 r-xp 00000000 00:2a 1234 /bosun-operator\n", mapping{0x400000, 0x18d5000, 0, true}, true},
		{"018d5000-02eb5000 r--p 014d5000 00:2a 1234 /bosun-operator", mapping{0x18d5000, 0x2eb5000, 0x14d5000, false}, true},
		{"02eb5000-02f52000 rw-p 02ab5000 00:2a 1234 /bosun-operator", mapping{}, false},
		{"c000000000-c000400000 rw-p 00000000 00:00 0 ", mapping{}, false},
		{"7f0000000000-7f0000001000 r--p 00000000 00:2a 99 /usr/lib/other", mapping{}, false},
		{"garbage", mapping{}, false},
	} {
		got, ok := readOnlyMappingOf(tc.line, exe)
		if got != tc.want || ok != tc.ok {
			t.Errorf("readOnlyMappingOf(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestReleaseExecutable releases this test binary's pages, as the operator releases its own: the
// process must keep running, mapping less of its executable than before.
func TestReleaseExecutable(t *testing.T) {
	before := rssFile(t)
	if err := releaseExecutable(); err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	// The test binary still runs: everything it executes from now on is read back.
	if sum := strings.Repeat("x", 3); sum != "xxx" {
		t.Fatal("the process misbehaves after releasing its executable's pages")
	}
	if after >= before {
		t.Errorf("RssFile %d kB before releasing the executable's pages, %d kB after; want less", before, after)
	}
}

// rssFile is this process's RssFile in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
