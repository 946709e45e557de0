package main

import "testing"

func TestShouldRelease(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                       string
		lastInterval, sinceRelease uint64
		want                       bool
	}{
		{"idle after start-up", 100 << 10, 60 * mib, true},
		{"still working", 20 * mib, 60 * mib, false},
		{"idle after rendering one chart", 100 << 10, 8 * mib, true},
		{"idle, nothing to release since the last time", 100 << 10, 2 * mib, false},
		{"a metrics scrape a second", 750 << 10, 40 * mib, true},
	} {
		if got := shouldRelease(tc.lastInterval, tc.sinceRelease); got != tc.want {
			t.Errorf("%s: shouldRelease(%d, %d) = %v, want %v", tc.name, tc.lastInterval, tc.sinceRelease, got, tc.want)
		}
	}
}
