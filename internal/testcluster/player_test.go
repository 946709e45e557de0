package testcluster

import (
	"slices"
	"testing"
	"time"
)

// TestRestartBackOff: a process that was up is restarted a second after it exits; one that keeps
// exiting during its start waits twice as long each time, up to a limit, and starts over once it runs.
func TestRestartBackOff(t *testing.T) {
	var got []time.Duration
	delay := time.Duration(0)
	for _, ran := range []time.Duration{time.Minute, 3 * time.Second, 0, 100 * time.Millisecond, 0, 0, 0, 0, 0, 5 * time.Second} {
		delay = nextRestartDelay(delay, ran)
		got = append(got, delay)
	}
	s := time.Second
	want := []time.Duration{s, s, 2 * s, 4 * s, 8 * s, 16 * s, 20 * s, 20 * s, 20 * s, s}
	if !slices.Equal(got, want) {
		t.Errorf("restart delays %v, want %v", got, want)
	}
}
