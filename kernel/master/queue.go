package master

import "sync"

// queue is an unbounded FIFO of encoded events for one stream (a framework's
// SUBSCRIBE stream or an agent's REGISTER stream). The master's owner
// goroutine pushes without ever blocking; the stream's HTTP handler pops and
// writes. Closing the queue ends the stream after what is queued is written.
type queue struct {
	mu     sync.Mutex
	items  [][]byte
	closed bool
	notify chan struct{} // capacity 1: "something changed"
	// protobuf says a framework stream's events are written in protobuf
	// rather than JSON. Set before the queue is shared, then read only.
	protobuf bool
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

// push appends a record; it is a no-op on a closed queue or for a nil
// record (an event that could not be encoded).
func (q *queue) push(b []byte) {
	if b == nil {
		return
	}
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, b)
	}
	q.mu.Unlock()
	q.wake()
}

// close marks the queue closed; the reader drains what is left and stops.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
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
	q.items = nil
	return items, q.closed
}
