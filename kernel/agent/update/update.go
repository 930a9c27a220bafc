package update

import (
	"sort"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Key names a task's stream.
type Key struct {
	FrameworkID string
	TaskID      string
}

// KeyOf returns the key of an update.
func KeyOf(u agentproto.StatusUpdate) Key {
	return Key{u.FrameworkID, u.Status.TaskID.Value}
}

// DefaultMaxBatch bounds how many updates Due returns at once.
const DefaultMaxBatch = 1000

type stream struct {
	pending []agentproto.StatusUpdate // unacknowledged, oldest first
	latest  mesos.TaskStatus          // newest status ever added
	next    time.Time                 // when the head may be (re)sent; zero = now
	backoff time.Duration             // interval after the next send
}

// Manager keeps the streams of all tasks. The zero value is not usable; use
// New.
type Manager struct {
	min, max time.Duration
	maxBatch int
	streams  map[Key]*stream
	pending  int
}

// New returns a manager that resends unacknowledged updates after min,
// doubling up to max.
func New(min, max time.Duration) *Manager {
	if max < min {
		max = min
	}
	return &Manager{min: min, max: max, maxBatch: DefaultMaxBatch, streams: map[Key]*stream{}}
}

// Add appends u to its task's stream. u.Status.UUID must be set and unique.
func (m *Manager) Add(u agentproto.StatusUpdate) {
	k := KeyOf(u)
	s := m.streams[k]
	if s == nil {
		s = &stream{backoff: m.min}
		m.streams[k] = s
	}
	if len(s.pending) == 0 {
		s.next, s.backoff = time.Time{}, m.min
	}
	s.pending = append(s.pending, u)
	s.latest = u.Status
	m.pending++
}

// AckResult says what an acknowledgement did.
type AckResult struct {
	// Matched: the uuid was the head of the stream and is now removed.
	Matched bool
	// Drained: the stream has no unacknowledged update left.
	Drained bool
	// Terminal: the task's latest state is terminal.
	Terminal bool
}

// Ack removes the head of k's stream if its uuid matches. Acknowledgements
// of anything but the head (duplicates, stale ones) change nothing.
func (m *Manager) Ack(k Key, uuid string) AckResult {
	s := m.streams[k]
	if s == nil {
		return AckResult{}
	}
	res := AckResult{Terminal: s.latest.State.Terminal()}
	if len(s.pending) == 0 || s.pending[0].Status.UUID != uuid {
		res.Drained = len(s.pending) == 0
		return res
	}
	s.pending[0] = agentproto.StatusUpdate{}
	s.pending = s.pending[1:]
	m.pending--
	s.next, s.backoff = time.Time{}, m.min
	res.Matched = true
	res.Drained = len(s.pending) == 0
	return res
}

// Due returns the head of every stream whose time has come, ordered by key,
// each with LatestState set, and schedules their resends. At most the
// batch limit is returned; the rest stay due.
func (m *Manager) Due(now time.Time) []agentproto.StatusUpdate {
	var keys []Key
	for k, s := range m.streams {
		if len(s.pending) > 0 && !now.Before(s.next) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].FrameworkID != keys[j].FrameworkID {
			return keys[i].FrameworkID < keys[j].FrameworkID
		}
		return keys[i].TaskID < keys[j].TaskID
	})
	if len(keys) > m.maxBatch {
		keys = keys[:m.maxBatch]
	}
	out := make([]agentproto.StatusUpdate, 0, len(keys))
	for _, k := range keys {
		s := m.streams[k]
		u := s.pending[0]
		u.LatestState = s.latest.State
		out = append(out, u)
		s.next = now.Add(s.backoff)
		s.backoff = min(2*s.backoff, m.max)
	}
	return out
}

// ResendAll makes every stream's head due now with the initial interval;
// called after each (re-)registration, since the master may have lost
// whatever was in flight.
func (m *Manager) ResendAll() {
	for _, s := range m.streams {
		s.next, s.backoff = time.Time{}, m.min
	}
}

// Next returns the earliest time a stream's head becomes due, and false
// when nothing is pending.
func (m *Manager) Next() (time.Time, bool) {
	var t time.Time
	found := false
	for _, s := range m.streams {
		if len(s.pending) == 0 {
			continue
		}
		if !found || s.next.Before(t) {
			t, found = s.next, true
		}
	}
	return t, found
}

// Pending returns the number of unacknowledged updates of all tasks.
func (m *Manager) Pending() int { return m.pending }

// PendingOf returns the number of unacknowledged updates of k.
func (m *Manager) PendingOf(k Key) int {
	if s := m.streams[k]; s != nil {
		return len(s.pending)
	}
	return 0
}

// Latest returns the newest status added for k.
func (m *Manager) Latest(k Key) (mesos.TaskStatus, bool) {
	s := m.streams[k]
	if s == nil {
		return mesos.TaskStatus{}, false
	}
	return s.latest, true
}

// Has reports whether the manager knows k (acknowledged or not).
func (m *Manager) Has(k Key) bool { return m.streams[k] != nil }

// Remove forgets k's stream, pending updates included.
func (m *Manager) Remove(k Key) {
	if s := m.streams[k]; s != nil {
		m.pending -= len(s.pending)
		delete(m.streams, k)
	}
}

// IsHead reports whether uuid is the oldest unacknowledged update of k,
// i.e. whether Ack(k, uuid) would match.
func (m *Manager) IsHead(k Key, uuid string) bool {
	s := m.streams[k]
	return s != nil && len(s.pending) > 0 && s.pending[0].Status.UUID == uuid
}
