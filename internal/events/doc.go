// Package events is the services framework's event bus and the handler
// behind GET /v2/events, Marathon's Server-Sent Events stream.
//
// Vocabulary:
//
//   - event: a typed JSON payload (Marathon's eventType names, such as
//     status_update_event or deployment_success) with an id. Ids are
//     assigned by the bus in publication order, strictly increasing by one.
//   - ring: the last few events, kept so that a client that reconnects with
//     Last-Event-ID gets what it missed.
//   - subscription: one consumer's buffered channel of events, optionally
//     filtered by type.
//
// The flow:
//
//	Publish ──▶ [ring of the last N events]
//	   │
//	   ├──▶ subscription (types filter, buffer) ──▶ ServeHTTP ──▶ client
//	   └──▶ subscription … (full buffer: closed, never waited for)
//
// Publish never waits for a subscriber. A subscriber that falls a whole
// buffer behind is closed with ErrSlowSubscriber; an SSE client sees its
// stream end, reconnects with Last-Event-ID and gets the missed events from
// the ring, as long as they are still in it.
//
// What this stream does better than Marathon's:
//
//   - every frame has an id: line, and Last-Event-ID (header, or the
//     lastEventId query parameter for clients that cannot set headers)
//     replays what the ring still holds. When the ring no longer holds
//     everything after that id, the event_stream_attached frame says so
//     (eventsMissed: true), and the client should re-read state from the
//     REST API instead of trusting the stream to be complete.
//   - a slow client is cut off, never silently left with holes.
//   - writes have deadlines, so a client that stops reading cannot hold a
//     handler forever, and the X-Accel-Buffering header asks buffering
//     proxies to pass frames through at once.
//
// Ordering: within one stream, events arrive in id order.
package events
