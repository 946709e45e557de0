package move

import "testing"

// TestARolloutEndsOnlyAfterItProgressed: the Waker wakes a move when the rollout it awaits ends after
// it was seen progressing, never on the state the move read (it acted on that one), nor on a change
// that leaves a finished rollout finished (a label, a status heartbeat): those would wake the move in a
// loop while a Gateway's Deployment waits for istiod to render it again. The first state is the
// workload as the move read it, or as its restart left it.
func TestARolloutEndsOnlyAfterItProgressed(t *testing.T) {
	const (
		P = RolloutProgressing
		C = RolloutComplete
		F = RolloutFailed
	)
	for _, tc := range []struct {
		name string
		seen []Rollout
		// wakeAt is the index of the state that wakes the move, -1 for none.
		wakeAt int
	}{
		{"a restart rolls out", []Rollout{P, P, C}, 2},
		{"a rollout that progressed when read ends", []Rollout{P, C}, 1},
		{"a restart fails", []Rollout{P, F}, 1},
		{"istiod renders a Gateway's Deployment again", []Rollout{C, C, P, C}, 3},
		{"a finished rollout changes but stays finished", []Rollout{C, C, C}, -1},
		{"the move read a failed rollout", []Rollout{F, F}, -1},
		{"a rollout still progressing", []Rollout{P, P}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s rolloutSeen
			got := -1
			for i, r := range tc.seen {
				if s.ended(r) {
					got = i
					break
				}
			}
			if got != tc.wakeAt {
				t.Errorf("states %v wake the move at %d, want %d", tc.seen, got, tc.wakeAt)
			}
		})
	}
}
