package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrSlowSubscriber is why a subscription was closed when its buffer filled
// up: its consumer fell too far behind the publishers.
var ErrSlowSubscriber = errors.New("subscriber too slow: its event buffer overflowed")

// ErrBusClosed is why a subscription was closed when its bus was closed.
var ErrBusClosed = errors.New("event bus closed")

// Defaults for the Bus fields left zero.
const (
	DefaultKeepAlive        = 15 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultSubscriberBuffer = 1024
)

// TimestampFormat is the layout of the timestamp field the bus adds to
// payloads: Marathon's, UTC with milliseconds (2014-03-01T23:29:30.158Z).
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"

// Event is one published event. Data is the JSON object sent to clients,
// with eventType and timestamp fields. An Event is shared by every
// subscriber that receives it: Data must not be modified.
type Event struct {
	ID   uint64
	Type string
	Data json.RawMessage
}

// Bus fans events out to subscribers and keeps the last few for replay.
// Its methods are safe for concurrent use. The exported fields configure it;
// set them before the bus is first used and not afterwards.
type Bus struct {
	// KeepAlive is how long ServeHTTP lets a stream stay silent before it
	// writes a keep-alive comment, so that proxies and clients do not
	// close it as idle. Zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// WriteTimeout bounds each write of ServeHTTP to a client (and
	// replaces any write timeout of the http.Server for that request). A
	// client that does not take a frame within it is disconnected. Zero
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// SubscriberBuffer is how many events a subscription holds for its
	// consumer beyond those replayed; one more closes it with
	// ErrSlowSubscriber. Zero means DefaultSubscriberBuffer.
	SubscriberBuffer int
	// Logger receives stream starts and ends and payloads that could not be
	// encoded. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for the timestamps the bus writes. Nil means
	// time.Now.
	Now func() time.Time

	mu     sync.Mutex
	ring   []Event // the last len(ring) events, oldest at head
	head   int
	n      int    // events held in ring
	next   uint64 // id of the next event
	subs   map[*Subscription]struct{}
	closed bool
}

// NewBus returns a bus that keeps the last capacity events (none if
// capacity <= 0) for replay and numbers events from firstID (from 1 if
// firstID is 0, so that 0 never names an event). To keep ids increasing
// across restarts of the process, pass a value derived from the clock, such
// as StartID(time.Now()).
func NewBus(capacity int, firstID uint64) *Bus {
	if firstID == 0 {
		firstID = 1
	}
	return &Bus{
		ring: make([]Event, max(capacity, 0)),
		next: firstID,
		subs: map[*Subscription]struct{}{},
	}
}

// StartID returns a first event id derived from t: its Unix time in
// microseconds. A bus started later (with the clock moving forward) starts
// above every id of an earlier one, as long as that one published fewer
// than a million events a second on average. The value stays below 2^53,
// exactly representable in JavaScript, until the year 2255.
func StartID(t time.Time) uint64 {
	return uint64(max(t.UnixMicro(), 0))
}

// Publish assigns the next id to an event of type typ and delivers it to
// every matching subscriber, without waiting for any: a subscriber whose
// buffer is full is closed with ErrSlowSubscriber instead.
//
// payload must encode to a JSON object: a struct, a map, a json.RawMessage,
// or nil for an empty one. Publish adds "eventType" (typ) and "timestamp"
// (now, TimestampFormat) unless the payload has them. A payload that does
// not encode to an object is a bug of the caller; Publish logs it and
// publishes the event with an "error" field in place of the payload, so
// that subscribers still learn that something happened.
func (b *Bus) Publish(typ string, payload any) Event {
	now := b.now()
	data, err := encode(typ, payload, now)
	if err != nil {
		b.logger().Error("publishing an event without its payload", "eventType", typ, "err", err)
		data, _ = encode(typ, map[string]string{"error": err.Error()}, now)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	ev := Event{ID: b.next, Type: typ, Data: data}
	b.next++
	if c := len(b.ring); c > 0 {
		if b.n < c {
			b.ring[(b.head+b.n)%c] = ev
			b.n++
		} else {
			b.ring[b.head] = ev
			b.head = (b.head + 1) % c
		}
	}
	for sub := range b.subs {
		if !sub.wants(typ) {
			continue
		}
		select {
		case sub.ch <- ev:
		default:
			b.dropLocked(sub, ErrSlowSubscriber)
		}
	}
	return ev
}

// Subscribe returns a subscription to events of the given types (all types
// if none is given). If lastEventID is not 0, the subscription first
// delivers the matching events after lastEventID that the ring still holds;
// Missed reports whether the ring lacked some of them. Live events follow,
// with no gap or duplicate between the two. The caller must Close the
// subscription.
func (b *Bus) Subscribe(types []string, lastEventID uint64) *Subscription {
	sub := &Subscription{bus: b}
	for _, t := range types {
		if t == "" {
			continue
		}
		if sub.types == nil {
			sub.types = map[string]bool{}
		}
		sub.types[t] = true
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		sub.ch = make(chan Event)
		sub.err = ErrBusClosed
		close(sub.ch)
		return sub
	}
	var replay []Event
	if lastEventID != 0 {
		oldest := b.next - uint64(b.n) // id of ring's first event, or next if empty
		// The ring holds everything after lastEventID only if it starts at
		// or before lastEventID+1; an id at or beyond next was never issued
		// by this bus, so what followed it is unknown.
		sub.missed = lastEventID+1 < oldest || lastEventID >= b.next
		if lastEventID < b.next {
			skip := uint64(0)
			if lastEventID >= oldest {
				skip = lastEventID + 1 - oldest
			}
			for i := int(skip); i < b.n; i++ {
				if ev := b.ring[(b.head+i)%len(b.ring)]; sub.wants(ev.Type) {
					replay = append(replay, ev)
				}
			}
		}
	}
	sub.ch = make(chan Event, len(replay)+b.subscriberBuffer())
	for _, ev := range replay {
		sub.ch <- ev
	}
	b.subs[sub] = struct{}{}
	return sub
}

// Subscribers returns the number of open subscriptions, for metrics.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close closes every subscription with ErrBusClosed (so every ServeHTTP
// stream ends, as a server shutting down wants) and makes later Subscribe
// calls return closed subscriptions. Publish still works, into the ring. It
// is idempotent.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for sub := range b.subs {
		b.dropLocked(sub, ErrBusClosed)
	}
}

// dropLocked ends sub for reason. b.mu must be held, which also orders the
// close after every send.
func (b *Bus) dropLocked(sub *Subscription, reason error) {
	if _, ok := b.subs[sub]; !ok {
		return
	}
	delete(b.subs, sub)
	sub.err = reason
	close(sub.ch)
}

func (b *Bus) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bus) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (b *Bus) keepAlive() time.Duration {
	if b.KeepAlive > 0 {
		return b.KeepAlive
	}
	return DefaultKeepAlive
}

func (b *Bus) writeTimeout() time.Duration {
	if b.WriteTimeout > 0 {
		return b.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (b *Bus) subscriberBuffer() int {
	if b.SubscriberBuffer > 0 {
		return b.SubscriberBuffer
	}
	return DefaultSubscriberBuffer
}

// Subscription is one consumer's view of a Bus. Its methods are safe for
// concurrent use.
type Subscription struct {
	bus    *Bus
	types  map[string]bool // nil: every type
	missed bool            // set once by Subscribe

	// Guarded by bus.mu.
	ch  chan Event
	err error
}

// C returns the channel of events, in id order. It is closed when the
// subscription ends: by Close, by overflow (ErrSlowSubscriber) or by the
// bus closing (ErrBusClosed). Events already buffered are still received
// before the close is seen.
func (s *Subscription) C() <-chan Event { return s.ch }

// Err returns why the subscription was ended by the bus (ErrSlowSubscriber
// or ErrBusClosed), or nil while it is open or after Close.
func (s *Subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

// Missed reports whether events after the lastEventID given to Subscribe
// may be missing from the replay: the ring had already dropped some, or
// the id was never issued by this bus (it comes from another process).
// Always false without a lastEventID.
func (s *Subscription) Missed() bool { return s.missed }

// Close ends the subscription and closes C. It is idempotent, and safe to
// call after the bus ended the subscription.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.ch)
	}
}

func (s *Subscription) wants(typ string) bool {
	return s.types == nil || s.types[typ]
}

// encode returns payload as a compact JSON object with eventType and
// timestamp fields, added at the end unless payload has them.
func encode(typ string, payload any, now time.Time) (json.RawMessage, error) {
	var raw []byte
	if payload != nil {
		var err error
		// Marshal also compacts a json.RawMessage, so no newline can reach
		// an SSE data line.
		if raw, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("encoding %s payload: %w", typ, err)
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s payload is not a JSON object: %s", typ, truncate(raw, 64))
	}
	_, hasType := fields["eventType"]
	_, hasTime := fields["timestamp"]
	if hasType && hasTime {
		return raw, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) + len(typ) + 64)
	buf.Write(raw[:len(raw)-1]) // all but the closing brace
	sep := len(fields) > 0
	add := func(key string, value any) {
		if sep {
			buf.WriteByte(',')
		}
		sep = true
		k, _ := json.Marshal(key)
		v, _ := json.Marshal(value) // a string: cannot fail
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	if !hasType {
		add("eventType", typ)
	}
	if !hasTime {
		add("timestamp", now.UTC().Format(TimestampFormat))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
