package testcluster

import (
	"slices"
	"testing"
	"time"
)

// TestRestartBackOff: a process that had got Ready is restarted a second after it exits; one that
// keeps exiting before it is Ready waits twice as long each time, up to a limit, and starts over once
// it gets Ready.
func TestRestartBackOff(t *testing.T) {
	var got []time.Duration
	delay := time.Duration(0)
	for _, wasReady := range []bool{true, true, false, false, false, false, false, false, false, true, false} {
		delay = nextRestartDelay(delay, wasReady)
		got = append(got, delay)
	}
	s := time.Second
	want := []time.Duration{s, s, 2 * s, 4 * s, 8 * s, 16 * s, 20 * s, 20 * s, 20 * s, s, 2 * s}
	if !slices.Equal(got, want) {
		t.Errorf("restart delays %v, want %v", got, want)
	}
}
