package master

import "sync"

// queue is a FIFO of encoded events for one stream (a framework's
// SUBSCRIBE stream or an agent's REGISTER stream). The master's owner
// goroutine pushes without ever blocking; the stream's HTTP handler pops and
// writes. Closing the queue ends the stream after what is queued is written.
//
// A queue with a limit holds at most that many bytes: a push that would
// go past it (with something already queued) overflows the queue instead,
// which drops what is queued, closes it and aborts the write under way,
// so a reader that stopped reading costs the master a bounded amount of
// memory and its stream ends at once rather than at the write timeout.
type queue struct {
	mu     sync.Mutex
	items  [][]byte
	size   int // bytes in items
	closed bool
	// overflowed says the queue closed because it was full.
	overflowed bool
	// abort, if set, makes the reader's write under way fail.
	abort  func()
	notify chan struct{} // capacity 1: "something changed"
	// protobuf says a framework stream's events are written in protobuf
	// rather than JSON; limit is the bound in bytes (0: none). Both are
	// set before the queue is shared, then read only.
	protobuf bool
	limit    int
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

// push appends a record; it is a no-op on a closed queue or for a nil
// record (an event that could not be encoded).
func (q *queue) push(b []byte) {
	if b == nil {
		return
	}
	var abort func()
	q.mu.Lock()
	switch {
	case q.closed:
	case q.limit > 0 && len(q.items) > 0 && q.size+len(b) > q.limit:
		q.items, q.size, q.closed, q.overflowed = nil, 0, true, true
		abort = q.abort
	default:
		q.items = append(q.items, b)
		q.size += len(b)
	}
	q.mu.Unlock()
	if abort != nil {
		abort()
	}
	q.wake()
}

// close marks the queue closed; the reader drains what is left and stops.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// onOverflow sets what push calls when the queue overflows (the reader's
// way to stop a write that blocks); it may be called concurrently with
// push.
func (q *queue) onOverflow(abort func()) {
	q.mu.Lock()
	q.abort = abort
	q.mu.Unlock()
}

// full reports whether the queue closed because it overflowed.
func (q *queue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overflowed
}

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take returns all queued records and whether the queue is closed.
func (q *queue) take() ([][]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items, q.size = nil, 0
	return items, q.closed
}
