package master

import (
	"bytes"
	"testing"
)

// TestQueueLimit: a queue with a limit takes records up to it (and one
// record larger than it when empty), then overflows: what is queued is
// dropped, the queue is closed, the reader's write is aborted once, and
// later pushes are ignored. A queue without a limit takes everything.
func TestQueueLimit(t *testing.T) {
	rec := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	for _, tc := range []struct {
		name      string
		limit     int
		pushes    []int
		wantItems int
		wantFull  bool
	}{
		{"no limit", 0, []int{600, 600, 600}, 3, false},
		{"under the limit", 1000, []int{400, 600}, 2, false},
		{"past the limit", 1000, []int{400, 600, 1}, 0, true},
		{"one large record", 1000, []int{5000}, 1, false},
		{"large record behind another", 1000, []int{1, 5000}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue()
			q.limit = tc.limit
			aborts := 0
			q.onOverflow(func() { aborts++ })
			for _, n := range tc.pushes {
				q.push(rec(n))
			}
			if tc.wantFull {
				q.push(rec(1)) // after the overflow: ignored
			}
			items, closed := q.take()
			if tc.wantFull {
				if len(items) != 0 || !closed || !q.full() || aborts != 1 {
					t.Errorf("pushes %v over limit %d: %d items, closed %v, full %v, %d aborts; want 0, closed, full, 1 abort",
						tc.pushes, tc.limit, len(items), closed, q.full(), aborts)
				}
				return
			}
			if want := tc.wantItems; len(items) != want || closed || q.full() || aborts != 0 {
				t.Errorf("pushes %v under limit %d: %d items, closed %v, full %v, %d aborts; want %d, open, not full, no abort",
					tc.pushes, tc.limit, len(items), closed, q.full(), aborts, want)
			}
		})
	}
}
