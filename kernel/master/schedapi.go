package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/google/uuid"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// maxCallBytes bounds a scheduler call body.
const maxCallBytes = 32 << 20

// apiError is a client-facing error with its status code; the text is the
// response body, as Mesos answers (plain text).
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError writes err as Mesos does: the status and the message as text.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		// Not the client's mistake: the cause goes to the log.
		code, msg := edge.Fail(r, err)
		ae = &apiError{code: code, msg: msg}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(ae.code)
	_, _ = io.WriteString(w, ae.msg)
}

// decodeCall checks the method and content type and parses a JSON body into
// v. The errors are Mesos' statuses and wording.
func decodeCall(r *http.Request, v any) error {
	body, _, err := callBody(r, false)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "Failed to parse body into Call: %v", err)
	}
	return nil
}

// decodeSchedulerCall is decodeCall for a scheduler call, which may also
// be protobuf (Content-Type application/x-protobuf): one serialized
// mesos.v1.scheduler.Call, decoded to the same value as its JSON form.
func decodeSchedulerCall(r *http.Request, call *mesos.Call) error {
	body, protobuf, err := callBody(r, true)
	if err != nil {
		return err
	}
	if protobuf {
		err = mesospb.UnmarshalCall(body, call)
	} else {
		err = json.Unmarshal(body, call)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "Failed to parse body into Call: %v", err)
	}
	return nil
}

// callBody checks the method and content type and reads the body; it
// reports whether the body is protobuf, which only protobufOK allows.
func callBody(r *http.Request, protobufOK bool) ([]byte, bool, error) {
	if r.Method != http.MethodPost {
		return nil, false, errorf(http.StatusMethodNotAllowed, "Expecting a 'POST' request, received '%s'", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, false, errorf(http.StatusBadRequest, "Expecting 'Content-Type' to be present")
	}
	mt, _, err := mime.ParseMediaType(ct)
	protobuf := err == nil && mt == mesospb.MediaType
	switch {
	case protobuf && !protobufOK:
		return nil, false, errorf(http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json: protobuf requests are not supported")
	case protobuf:
	case err != nil || mt != "application/json":
		if protobufOK {
			return nil, false, errorf(http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json or %s", mesospb.MediaType)
		}
		return nil, false, errorf(http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json")
	}
	body, err := edge.ReadBody(r)
	if err != nil {
		return nil, false, err
	}
	if len(body) > maxCallBytes {
		return nil, false, errorf(http.StatusRequestEntityTooLarge, "Request body is larger than %d bytes", maxCallBytes)
	}
	return body, protobuf, nil
}

// recoveryWait bounds how long a call waits for a master that has just
// taken over to finish recovering its registry.
const recoveryWait = 10 * time.Second

// awaitRecovery holds a call until the registry is recovered, so that
// agents and frameworks that find a new leader at once are served as soon
// as it can, rather than sent into their backoff. It answers 503 (with
// Retry-After) and returns false if recovery takes longer than
// recoveryWait, the master stops, or the client goes away. The body is not
// read before recovery, so waiting calls cost no parsing.
func (m *Master) awaitRecovery(w http.ResponseWriter, r *http.Request) bool {
	if m.recovered.Load() {
		return true
	}
	t := time.NewTimer(recoveryWait)
	defer t.Stop()
	select {
	case <-m.ready:
		return true
	case <-m.stopped:
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, r, errorf(http.StatusServiceUnavailable, "Master has not finished recovery"))
	return false
}

// handleScheduler serves POST /api/v1/scheduler.
func (m *Master) handleScheduler(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var call mesos.Call
	callType := "INVALID"
	defer func() { m.metrics.apiSeconds.WithLabelValues(callType).Observe(time.Since(start).Seconds()) }()
	if !m.awaitRecovery(w, r) {
		return
	}
	if err := decodeSchedulerCall(r, &call); err != nil {
		writeError(w, r, err)
		return
	}
	if call.Type == mesos.CallUnknown {
		writeError(w, r, errorf(http.StatusNotImplemented, "Received 'UNKNOWN' call"))
		return
	}
	if err := validateCall(&call); err != nil {
		if errors.Is(err, errUnsupportedCall) {
			writeError(w, r, errorf(http.StatusBadRequest, "Unsupported call type '%s'", call.Type))
			return
		}
		writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	callType = string(call.Type) // only known types become metric labels
	principal := edge.Principal(r.Context())
	if call.Type == mesos.CallSubscribe {
		for _, role := range call.Subscribe.FrameworkInfo.EffectiveRoles() {
			if !m.authorize(w, r, acl.RegisterFrameworks, role) {
				return
			}
		}
		if m.cfg.Trust.Credentials != nil {
			fi := &call.Subscribe.FrameworkInfo
			if fi.Principal == "" {
				fi.Principal = principal
			} else if fi.Principal != principal {
				writeError(w, r, errorf(http.StatusForbidden, "framework_info.principal %q is not the authenticated principal %q", fi.Principal, principal))
				return
			}
		}
		m.subscribe(w, r, &call)
		return
	}
	if call.Type == mesos.CallUpdateFramework && call.UpdateFramework != nil {
		for _, role := range call.UpdateFramework.FrameworkInfo.EffectiveRoles() {
			if !m.authorize(w, r, acl.RegisterFrameworks, role) {
				return
			}
		}
	}
	streamID := r.Header.Get("Mesos-Stream-Id")
	if streamID == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"))
		return
	}
	var refusal *core.Refusal
	var intruder string
	err := m.do(r.Context(), func(c *core.Core) {
		if intruder = m.notOwner(c, call.FrameworkID.Value, principal); intruder != "" {
			return
		}
		var fx core.Effects
		fx, refusal = c.Call(&call, streamID, time.Now())
		m.apply(fx)
	})
	if intruder != "" {
		writeError(w, r, errorf(http.StatusForbidden, "%s", intruder))
		return
	}
	if err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if refusal != nil {
		code := http.StatusBadRequest
		if refusal.NotSubscribed {
			code = http.StatusForbidden
		}
		writeError(w, r, errorf(code, "%s", refusal.Message))
		return
	}
	if call.Type == mesos.CallUpdateFramework {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// subscribe serves a SUBSCRIBE: it answers with a RecordIO stream of events
// until the client goes away, the framework subscribes again elsewhere, or
// the master stops.
func (m *Master) subscribe(w http.ResponseWriter, r *http.Request, call *mesos.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		writeError(w, r, errorf(http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header"))
		return
	}
	mediaType := mesospb.StreamType(r.Header.Get("Accept"))
	if mediaType == "" {
		writeError(w, r, errorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow 'application/json' or '%s'", mesospb.MediaType))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, errors.New("streaming unsupported"))
		return
	}
	var id, refusal, intruder string
	streamID, q := uuid.NewString(), newQueue()
	q.protobuf = mediaType == mesospb.MediaType
	q.limit = m.cfg.FrameworkStreamQueueBytes
	// Check and subscribe in one step, so nothing can remove the framework
	// in between. Whatever happens to this request afterwards, the loop
	// hears that the stream ended (a no-op if it never became current).
	err := m.do(r.Context(), func(c *core.Core) {
		if fid := call.Subscribe.FrameworkInfo.ID; fid != nil {
			if intruder = m.notOwner(c, fid.Value, call.Subscribe.FrameworkInfo.Principal); intruder != "" {
				return
			}
		}
		m.fwStreams[streamID] = q
		var fx core.Effects
		id, refusal, fx = c.Subscribe(call, streamID, time.Now())
		if refusal != "" {
			delete(m.fwStreams, streamID)
		}
		m.apply(fx)
	})
	defer m.post(func(c *core.Core) {
		m.apply(c.Disconnected(id, streamID, time.Now()))
		delete(m.fwStreams, streamID)
	})
	if err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if intruder != "" {
		writeError(w, r, errorf(http.StatusForbidden, "%s", intruder))
		return
	}
	if refusal != "" {
		w.Header().Set("Content-Type", mediaType)
		w.WriteHeader(http.StatusOK)
		_ = mesos.WriteRecord(w, encodeEvent(&mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: refusal}}, q.protobuf))
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Mesos-Stream-Id", streamID)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	m.log.Info("framework subscribed", "framework", id, "name", call.Subscribe.FrameworkInfo.Name, "stream", streamID)
	pumpWithin(r, w, flusher, q, m.cfg.FrameworkStreamTimeout)
	if q.full() {
		m.log.Warn("framework stream queue full: disconnecting the framework", "framework", id, "stream", streamID,
			"limit_bytes", q.limit)
	}
}

// notOwner says why principal may not act for framework id, or "" when
// it may: with authentication on, a framework id belongs to the principal
// that registered it. A framework registered without a principal (before
// authentication was turned on) is anyone's to claim.
func (m *Master) notOwner(c *core.Core, id, principal string) string {
	if m.cfg.Trust.Credentials == nil {
		return ""
	}
	owner, ok := c.Owner(id)
	if !ok || owner == "" || owner == principal {
		return ""
	}
	return fmt.Sprintf("framework %s belongs to principal %q; principal %q may not act for it", id, owner, principal)
}

// streamWriteTimeout bounds how long a write to a stream may make no
// progress: a client that stops reading is cut off instead of holding its
// handler (and its queue) forever. It is the default of
// Config.FrameworkStreamTimeout, and the bound for agents' streams.
const streamWriteTimeout = 30 * time.Second

// pump is pumpWithin streamWriteTimeout.
func pump(r *http.Request, w http.ResponseWriter, flusher http.Flusher, q *queue) {
	pumpWithin(r, w, flusher, q, streamWriteTimeout)
}

// pumpWithin writes a queue's records to a streaming response until the
// queue is closed, the client goes away, or a write (of a record or a
// flush) cannot complete within timeout because the client does not read,
// or its queue overflows (see queue).
func pumpWithin(r *http.Request, w http.ResponseWriter, flusher http.Flusher, q *queue, timeout time.Duration) {
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	// Each write gets the whole timeout, so a client that reads slowly
	// but steadily is not cut off by a long batch.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(timeout)) }
	// A queue that overflows ends a write stuck on a client that does
	// not read; pumping stops then (take returns the queue closed).
	q.onOverflow(func() { _ = rc.SetWriteDeadline(time.Unix(1, 0)) })
	for {
		items, closed := q.take()
		for _, b := range items {
			deadline()
			if err := mesos.WriteRecord(bw, b); err != nil {
				return
			}
		}
		if len(items) > 0 {
			deadline()
			if bw.Flush() != nil {
				return
			}
			// A flush that fails ends the request's context (net/http
			// cancels it when the connection's write fails).
			flusher.Flush()
		}
		if closed {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-q.notify:
		}
	}
}
