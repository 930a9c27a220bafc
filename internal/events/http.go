package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP serves GET /v2/events: a text/event-stream of the bus's events,
// for as long as the client stays and the subscription lasts.
//
// Request:
//
//   - Accept must allow text/event-stream. Unlike Marathon (405 for any
//     other Accept), a missing Accept, */* and text/* are taken as allowing
//     it, so that plain curl works; an Accept that excludes it gets 406.
//     A method other than GET gets 405.
//   - event_type filters by type; it may be repeated and each value may
//     list several types separated by commas. None means every type.
//   - Last-Event-ID (header), or the lastEventId query parameter, replays
//     the buffered events after that id. A value that is not a decimal
//     number gets 400.
//
// Errors are JSON {"message": …}, as in the rest of the API.
//
// Response: the first frame is always
//
//	event: event_stream_attached
//	data: {"remoteAddress":"10.0.0.1","eventType":"event_stream_attached","timestamp":"…"}
//
// with, when a last event id was given, "lastEventId" and "eventsMissed"
// (true when the replay is incomplete: re-read state). It has no id, so it
// does not move the client's last event id. Then one frame per event:
//
//	id: 1234
//	event: status_update_event
//	data: {"taskId":"…",…,"eventType":"status_update_event","timestamp":"…"}
//
// Each frame is flushed at once. A comment line (":") is written whenever
// the stream has been silent for KeepAlive. Each write must complete within
// WriteTimeout, or the stream ends. The stream also ends when the client
// goes away, when it falls too far behind (ErrSlowSubscriber; it may
// reconnect with Last-Event-ID), or when the bus is closed.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.ServeFiltered(w, r, nil) }

// ServeFiltered is ServeHTTP without the events keep refuses (nil keeps
// every one): for a client allowed to see only some of them. Keep-alives
// go on while events are left out, so a stream that sees nothing is not
// closed as idle.
func (b *Bus) ServeFiltered(w http.ResponseWriter, r *http.Request, keep func(Event) bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "Method "+r.Method+" not allowed; use GET")
		return
	}
	if !acceptsEventStream(r.Header.Values("Accept")) {
		writeError(w, http.StatusNotAcceptable, "This endpoint produces text/event-stream only; send Accept: text/event-stream")
		return
	}
	query := r.URL.Query()
	lastID, err := lastEventID(r.Header.Get("Last-Event-ID"), query.Get("lastEventId"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	types := eventTypes(query["event_type"])

	sub := b.Subscribe(types, lastID)
	defer sub.Close()

	remote := r.RemoteAddr
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	log := b.logger().With("remoteAddress", r.RemoteAddr)
	if sub.Missed() {
		log.Info("event stream replay is incomplete", "lastEventId", lastID)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	st := &stream{w: w, rc: http.NewResponseController(w), timeout: b.writeTimeout()}
	defer st.clearDeadline()

	attached := map[string]any{"remoteAddress": remote}
	if lastID != 0 {
		attached["lastEventId"] = lastID
		attached["eventsMissed"] = sub.Missed()
	}
	data, err := encode("event_stream_attached", attached, b.now())
	if err != nil {
		log.Error("encoding event_stream_attached", "err", err)
		return
	}
	if err := st.frame(Event{Type: "event_stream_attached", Data: data}); err != nil {
		log.Debug("event stream ended while attaching", "err", err)
		return
	}
	log.Debug("event stream attached", "eventTypes", types, "lastEventId", lastID)

	keepAlive := b.keepAlive()
	timer := time.NewTimer(keepAlive)
	defer timer.Stop()
	for {
		select {
		case <-r.Context().Done():
			log.Debug("event stream detached: client went away")
			return
		case ev, ok := <-sub.C():
			if !ok {
				log.Info("event stream ended", "reason", sub.Err())
				return
			}
			if keep != nil && !keep(ev) {
				continue
			}
			if err := st.frame(ev); err != nil {
				log.Info("event stream ended: writing to the client", "err", err)
				return
			}
			timer.Reset(keepAlive)
		case <-timer.C:
			if err := st.write([]byte(":\n\n")); err != nil {
				log.Info("event stream ended: writing a keep-alive", "err", err)
				return
			}
			timer.Reset(keepAlive)
		}
	}
}

// stream writes SSE frames to one client, each under its own deadline.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
}

// frame writes ev: an id line unless ev.ID is 0, the event line, and one
// data line per line of ev.Data (one, for the compact JSON the bus makes).
func (st *stream) frame(ev Event) error {
	b := st.buf[:0]
	if ev.ID != 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, ev.ID, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, '\n')
	for line := range strings.Lines(string(ev.Data)) {
		b = append(b, "data: "...)
		b = append(b, strings.TrimRight(line, "\r\n")...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	st.buf = b
	return st.write(b)
}

// write writes p and flushes it to the client within the write timeout.
func (st *stream) write(p []byte) error {
	err := st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("setting write deadline: %w", err)
	}
	if _, err := st.w.Write(p); err != nil {
		return err
	}
	return st.rc.Flush()
}

// clearDeadline lifts the last write deadline, so that it cannot cut the
// server's own final write of the response.
func (st *stream) clearDeadline() {
	_ = st.rc.SetWriteDeadline(time.Time{})
}

// acceptsEventStream reports whether the Accept header values allow
// text/event-stream, leniently: no header, or one with no media range,
// allows anything.
func acceptsEventStream(values []string) bool {
	seen := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mediaType, params, _ := strings.Cut(part, ";")
			mediaType = strings.ToLower(strings.TrimSpace(mediaType))
			if mediaType == "" {
				continue
			}
			seen = true
			switch mediaType {
			case "text/event-stream", "text/*", "*/*":
				if !zeroQuality(params) {
					return true
				}
			}
		}
	}
	return !seen
}

// zeroQuality reports whether media range parameters hold q=0 ("not
// acceptable").
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q == 0
	}
	return false
}

// eventTypes flattens repeated and comma-separated event_type values.
func eventTypes(values []string) []string {
	var types []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	return types
}

// lastEventID parses the Last-Event-ID header, or else the query parameter;
// 0 when neither is set.
func lastEventID(header, param string) (uint64, error) {
	s, what := strings.TrimSpace(header), "Last-Event-ID header"
	if s == "" {
		s, what = strings.TrimSpace(param), "lastEventId parameter"
	}
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: must be an event id (a decimal number)", what, s)
	}
	return id, nil
}

// writeError writes Marathon's error body, {"message": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
