package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"corral/internal/edge"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// executorAPIPaths serve the v1 executor API. Mesos' own executor library
// builds its URL from MESOS_SLAVE_PID, hence the second path.
var executorAPIPaths = []string{"/api/v1/executor", "/slave(1)/api/v1/executor"}

// maxExecutorCallBytes bounds an executor call's body.
const maxExecutorCallBytes = 8 << 20

// executorHeartbeat is how often a subscribed executor gets HEARTBEAT, as
// in Mesos (the first one a whole interval after SUBSCRIBED).
const executorHeartbeat = 30 * time.Minute

// execError is an executor API refusal: the status and Mesos-style text.
type execError struct {
	code int
	msg  string
}

func (e *execError) Error() string { return e.msg }

func execErrorf(code int, format string, args ...any) error {
	return &execError{code: code, msg: fmt.Sprintf(format, args...)}
}

func writeExecError(w http.ResponseWriter, r *http.Request, err error) {
	var ee *execError
	if !errors.As(err, &ee) {
		code, msg := edge.Fail(r, err)
		ee = &execError{code: code, msg: msg}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(ee.code)
	_, _ = io.WriteString(w, ee.msg)
}

// handleExecutor serves POST /api/v1/executor, Mesos' v1 executor API in
// JSON or protobuf: SUBSCRIBE gets a RecordIO stream of events (200);
// UPDATE, MESSAGE and HEARTBEAT get 202. Callers present the token the
// agent gave the executor (MESOS_EXECUTOR_AUTHENTICATION_TOKEN) as a
// bearer token; it is required when the agent demands credentials, and
// checked whenever it is presented.
func (a *Agent) handleExecutor(w http.ResponseWriter, r *http.Request) {
	call, err := decodeExecutorCall(r)
	if err != nil {
		writeExecError(w, r, err)
		return
	}
	token, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasToken && a.cfg.Trust.Credentials != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="corral executors"`)
		writeExecError(w, r, execErrorf(http.StatusUnauthorized, "Executor calls need 'Authorization: Bearer <MESOS_EXECUTOR_AUTHENTICATION_TOKEN>'"))
		return
	}
	if call.Type == mesos.ExecCallHeartbeat {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := validateExecutorCall(call); err != nil {
		writeExecError(w, r, err)
		return
	}
	ek := execKey{FrameworkID: call.FrameworkID.Value, ExecutorID: call.ExecutorID.Value}
	switch call.Type {
	case mesos.ExecCallSubscribe:
		a.subscribeExecutorStream(w, r, call, ek, token, hasToken)
		return
	case mesos.ExecCallUpdate, mesos.ExecCallMessage:
	default:
		writeExecError(w, r, execErrorf(http.StatusNotImplemented, "Unsupported executor call type '%s'", call.Type))
		return
	}
	var callErr error
	err = a.ask(r.Context(), func(l *loop) {
		ex := l.executors[ek]
		switch {
		case ex == nil:
			callErr = execErrorf(http.StatusBadRequest, "Executor '%s' of framework '%s' is not running on this agent", ek.ExecutorID, ek.FrameworkID)
		case hasToken && !ex.checkToken(token):
			callErr = execErrorf(http.StatusUnauthorized, "The token does not belong to executor '%s' of framework '%s'", ek.ExecutorID, ek.FrameworkID)
		case ex.state != execSubscribed:
			callErr = execErrorf(http.StatusForbidden, "Executor '%s' is not subscribed", ek.ExecutorID)
		case call.Type == mesos.ExecCallUpdate:
			if err := l.executorUpdate(ex, call.Update.Status); err != nil {
				callErr = execErrorf(http.StatusBadRequest, "%v", err)
			}
		default:
			if err := l.executorMessage(ek, call.Message.Data); err != nil {
				callErr = execErrorf(http.StatusServiceUnavailable, "%v", err)
			}
		}
	})
	if err == nil {
		err = callErr
	}
	if err != nil {
		writeExecError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// decodeExecutorCall checks the method and content type and decodes the
// body, JSON or protobuf.
func decodeExecutorCall(r *http.Request) (*mesos.ExecutorCall, error) {
	if r.Method != http.MethodPost {
		return nil, execErrorf(http.StatusMethodNotAllowed, "Expecting a 'POST' request, received '%s'", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, execErrorf(http.StatusBadRequest, "Expecting 'Content-Type' to be present")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != mesospb.MediaType) {
		return nil, execErrorf(http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json or %s", mesospb.MediaType)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxExecutorCallBytes+1))
	if err != nil {
		return nil, execErrorf(http.StatusBadRequest, "Failed to read the body: %v", err)
	}
	if len(body) > maxExecutorCallBytes {
		return nil, execErrorf(http.StatusRequestEntityTooLarge, "Request body is larger than %d bytes", maxExecutorCallBytes)
	}
	call := &mesos.ExecutorCall{}
	if mt == mesospb.MediaType {
		err = mesospb.UnmarshalExecutorCall(body, call)
	} else {
		err = json.Unmarshal(body, call)
	}
	if err != nil {
		return nil, execErrorf(http.StatusBadRequest, "Failed to parse body into Call: %v", err)
	}
	return call, nil
}

// validateExecutorCall checks a call as Mesos' validateExecutorCall does.
func validateExecutorCall(c *mesos.ExecutorCall) error {
	bad := func(format string, args ...any) error {
		return execErrorf(http.StatusBadRequest, "Failed to validate executor::Call: "+format, args...)
	}
	switch {
	case c.Type == "" || c.Type == mesos.ExecCallUnknown:
		return execErrorf(http.StatusNotImplemented, "Executor call type UNKNOWN is not supported")
	case c.ExecutorID.Value == "":
		return bad("Expecting 'executor_id' to be present")
	case c.FrameworkID.Value == "":
		return bad("Expecting 'framework_id' to be present")
	}
	switch c.Type {
	case mesos.ExecCallSubscribe:
	case mesos.ExecCallUpdate:
		if c.Update == nil {
			return bad("Expecting 'update' to be present")
		}
		st := c.Update.Status
		raw, err := base64.StdEncoding.DecodeString(st.UUID)
		switch {
		case st.TaskID.Value == "":
			return bad("Expecting 'update.status.task_id' to be present")
		case err != nil || len(raw) != 16:
			return bad("'update.status.uuid' must be the 16 bytes of a UUID")
		case st.Source != mesos.SourceExecutor:
			return bad("Received Call from executor with 'update.status.source' %q; expecting SOURCE_EXECUTOR", st.Source)
		case st.State == mesos.TaskStaging || st.State == "":
			return bad("Received TASK_STAGING (or no state) from executor; TASK_STAGING is the agent's")
		case st.ExecutorID != nil && st.ExecutorID.Value != c.ExecutorID.Value:
			return bad("'update.status.executor_id' %q is not the call's executor %q", st.ExecutorID.Value, c.ExecutorID.Value)
		}
		if _, err := uuid.FromBytes(raw); err != nil {
			return bad("'update.status.uuid' is not a UUID")
		}
	case mesos.ExecCallMessage:
		if c.Message == nil {
			return bad("Expecting 'message' to be present")
		}
		if _, err := base64.StdEncoding.DecodeString(c.Message.Data); err != nil {
			return bad("'message.data' is not base64: %v", err)
		}
	default:
		return execErrorf(http.StatusNotImplemented, "Unsupported executor call type '%s'", c.Type)
	}
	return nil
}

// subscribeExecutorStream serves SUBSCRIBE: it registers a stream with
// the loop and writes its events until the executor goes away, another
// SUBSCRIBE replaces it or the agent ends it.
func (a *Agent) subscribeExecutorStream(w http.ResponseWriter, r *http.Request, call *mesos.ExecutorCall, ek execKey, token string, hasToken bool) {
	mt := mesospb.StreamType(r.Header.Get("Accept"))
	if mt == "" {
		writeExecError(w, r, execErrorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow application/json or %s", mesospb.MediaType))
		return
	}
	codec := "json"
	if mt == mesospb.MediaType {
		codec = "protobuf"
	}
	s := newExecStream(codec)
	var subErr error
	err := a.ask(r.Context(), func(l *loop) {
		ex := l.executors[ek]
		if ex != nil && hasToken && !ex.checkToken(token) {
			subErr = execErrorf(http.StatusUnauthorized, "The token does not belong to executor '%s' of framework '%s'", ek.ExecutorID, ek.FrameworkID)
			return
		}
		if err := l.subscribeExecutor(ek, call.Subscribe, s); err != nil {
			subErr = execErrorf(http.StatusBadRequest, "%v", err)
		}
	})
	if err == nil {
		err = subErr
	}
	if err != nil {
		writeExecError(w, r, err)
		return
	}
	defer a.send(context.WithoutCancel(r.Context()), func(_ context.Context, l *loop) { l.unsubscribed(ek, s) })
	// The stream outlives the server's write timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	heartbeat := time.NewTicker(executorHeartbeat)
	defer heartbeat.Stop()
	var buf bytes.Buffer
	write := func(ev *mesos.ExecutorEvent) error {
		var b []byte
		var err error
		if mt == mesospb.MediaType {
			b, err = mesospb.MarshalExecutorEvent(ev)
		} else {
			b, err = json.Marshal(ev)
		}
		if err != nil {
			return err
		}
		return mesos.WriteRecord(&buf, b)
	}
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	for {
		select {
		case ev := <-s.events:
			if err := write(ev); err != nil {
				return
			}
			// Write what is queued in one go.
			for more := true; more; {
				select {
				case ev := <-s.events:
					if err := write(ev); err != nil {
						return
					}
				default:
					more = false
				}
			}
			if flush() != nil {
				return
			}
		case <-heartbeat.C:
			if write(&mesos.ExecutorEvent{Type: mesos.ExecEventHeartbeat}) != nil || flush() != nil {
				return
			}
		case <-s.done:
			for {
				select {
				case ev := <-s.events:
					if write(ev) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			flush()
			return
		case <-r.Context().Done():
			return
		case <-a.stopped:
			return
		}
	}
}
