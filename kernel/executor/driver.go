package executor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// ErrNotSubscribed is returned (wrapped) by Driver calls made while the
// executor holds no subscribed stream: before the first SUBSCRIBED, while
// Run re-subscribes, and after Run returned. An Update made then is kept
// and delivered with the next SUBSCRIBE; a message is dropped.
var ErrNotSubscribed = errors.New("executor: not subscribed")

// CallError is an agent's non-2xx answer to a call (a SUBSCRIBE that is
// not answered 200, or another call). Message quotes the agent's body.
type CallError struct {
	Call    mesos.ExecutorCallType // the call that failed
	Code    int                    // HTTP status code
	Message string                 // the agent's explanation (body, trimmed and capped), possibly ""
}

// Error returns "executor: <CALL>: agent answered <code>: <message>".
func (e *CallError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("executor: %s: agent answered %d: %s", e.Call, e.Code, msg)
}

// permanent reports whether repeating the request cannot help: a client
// error other than a timeout or rate limit (the agent does not know the
// framework or executor, or refuses the request's form).
func (e *CallError) permanent() bool {
	return e.Code >= 400 && e.Code < 500 &&
		e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
}

// maxErrorBody caps the message kept from an error response.
const maxErrorBody = 4 << 10

func newCallError(call mesos.ExecutorCallType, resp *http.Response) *CallError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &CallError{Call: call, Code: resp.StatusCode, Message: strings.TrimSpace(string(b))}
}

// Driver is the executor's side of its subscription. Run makes one and
// hands it to every Handler method. It sends status updates and messages
// to the agent and remembers what the agent has not acknowledged. Its
// methods are safe for concurrent use, also from goroutines a handler
// started; they keep working (and failing with ErrNotSubscribed) after
// Run returned.
type Driver struct {
	cfg    Config
	log    *slog.Logger
	callHC *http.Client

	mu         sync.Mutex
	subscribed bool             // a SUBSCRIBED arrived on the open stream
	tasks      []mesos.TaskInfo // launched, no update of theirs acknowledged; launch order
	updates    []*pendingUpdate // not acknowledged; creation order
}

// pendingUpdate is a status update the agent has not acknowledged.
type pendingUpdate struct {
	status mesos.TaskStatus
	uuid   uuid.UUID
	sent   time.Time // last attempt to deliver it; zero before the first
}

// Config returns the configuration Run runs with, defaults applied.
func (d *Driver) Config() Config { return d.cfg }

// Update sends a status update of task taskID: a TaskStatus with state,
// message and data, a new random UUID, source SOURCE_EXECUTOR, the
// executor's id and the current time. The Driver keeps the update until
// the agent acknowledges it: it is sent again every ResendInterval while
// subscribed and listed in every re-subscription. So an error only says
// that this attempt did not reach the agent (ErrNotSubscribed, or a
// *CallError); the caller must not send the same transition again, which
// would make a second update. Invalid arguments (no task id, TASK_STAGING,
// which agents refuse from executors) are errors and nothing is kept.
func (d *Driver) Update(ctx context.Context, taskID string, state mesos.TaskState, message string, data []byte) error {
	if taskID == "" {
		return errors.New("executor: update without a task id")
	}
	if state == "" || state == mesos.TaskStaging {
		return fmt.Errorf("executor: task %s: an executor cannot send state %q", taskID, state)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("executor: update uuid: %w", err)
	}
	p := &pendingUpdate{
		uuid: id,
		status: mesos.TaskStatus{
			TaskID:     mesos.ID{Value: taskID},
			State:      state,
			Message:    message,
			Source:     mesos.SourceExecutor,
			ExecutorID: &mesos.ID{Value: d.cfg.ExecutorID},
			Timestamp:  mesos.Float(float64(time.Now().UnixNano()) / 1e9),
			UUID:       base64.StdEncoding.EncodeToString(id[:]),
		},
	}
	if len(data) > 0 {
		p.status.Data = base64.StdEncoding.EncodeToString(data)
	}
	d.mu.Lock()
	d.updates = append(d.updates, p)
	ok := d.subscribed
	if ok {
		p.sent = time.Now()
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s of task %s kept for the next subscription", ErrNotSubscribed, state, taskID)
	}
	return d.sendUpdate(ctx, p.status)
}

// SendMessage sends MESSAGE: data for the framework's scheduler, best
// effort. Nothing is kept or retried.
func (d *Driver) SendMessage(ctx context.Context, data []byte) error {
	if !d.isSubscribed() {
		return fmt.Errorf("%w: message dropped", ErrNotSubscribed)
	}
	return d.call(ctx, &mesos.ExecutorCall{
		Type:    mesos.ExecCallMessage,
		Message: &mesos.ExecutorMessage{Data: base64.StdEncoding.EncodeToString(data)},
	})
}

func (d *Driver) sendUpdate(ctx context.Context, st mesos.TaskStatus) error {
	return d.call(ctx, &mesos.ExecutorCall{
		Type:   mesos.ExecCallUpdate,
		Update: &mesos.ExecutorUpdate{Status: st},
	})
}

func (d *Driver) isSubscribed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.subscribed
}

func (d *Driver) setSubscribed(b bool) {
	d.mu.Lock()
	d.subscribed = b
	d.mu.Unlock()
}

// launched records a task the agent handed over: it is unacknowledged
// until an update of it is acknowledged.
func (d *Driver) launched(task mesos.TaskInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks = slices.DeleteFunc(d.tasks, func(t mesos.TaskInfo) bool { return t.TaskID.Value == task.TaskID.Value })
	d.tasks = append(d.tasks, task)
}

// acknowledged forgets the update of taskID whose UUID is id (base64),
// and the task: the agent has it. It reports whether the update was
// pending.
func (d *Driver) acknowledged(taskID, id string) bool {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks = slices.DeleteFunc(d.tasks, func(t mesos.TaskInfo) bool { return t.TaskID.Value == taskID })
	n := len(d.updates)
	d.updates = slices.DeleteFunc(d.updates, func(p *pendingUpdate) bool {
		return p.status.TaskID.Value == taskID && bytes.Equal(p.uuid[:], raw)
	})
	return len(d.updates) < n
}

// unacknowledged returns what a SUBSCRIBE lists: the tasks and updates
// the agent has not acknowledged, oldest first. It marks the updates sent
// at now.
func (d *Driver) unacknowledged(now time.Time) *mesos.ExecutorSubscribe {
	d.mu.Lock()
	defer d.mu.Unlock()
	sub := &mesos.ExecutorSubscribe{UnacknowledgedTasks: slices.Clone(d.tasks)}
	for _, p := range d.updates {
		p.sent = now
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, mesos.ExecutorUpdate{Status: p.status})
	}
	return sub
}

// due returns the pending updates last sent before cutoff or never, and
// marks them sent at now. A zero cutoff selects only those never sent.
func (d *Driver) due(cutoff, now time.Time) []mesos.TaskStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []mesos.TaskStatus
	for _, p := range d.updates {
		if p.sent.IsZero() || p.sent.Before(cutoff) {
			p.sent = now
			out = append(out, p.status)
		}
	}
	return out
}

// resend delivers pending updates until ctx is done: at once those that
// never reached a subscribed agent, then at every tick those not sent
// since the previous tick, so an update is sent again between one and two
// intervals after its last attempt. Duplicates are harmless: the agent
// drops an update whose UUID it already has.
func (d *Driver) resend(ctx context.Context, every time.Duration) {
	send := func(sts []mesos.TaskStatus) {
		for _, st := range sts {
			if err := d.sendUpdate(ctx, st); err != nil && ctx.Err() == nil {
				d.log.Warn("resending update failed", "task_id", st.TaskID.Value, "state", st.State, "err", err)
			}
		}
	}
	send(d.due(time.Time{}, time.Now()))
	t := time.NewTicker(every)
	defer t.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			send(d.due(prev, now))
			prev = now
		}
	}
}

// call sends a non-SUBSCRIBE call on its own connection; any 2xx answer
// (the agent's is 202) is success.
func (d *Driver) call(ctx context.Context, c *mesos.ExecutorCall) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	req, err := newRequest(ctx, d.cfg, c)
	if err != nil {
		return err
	}
	resp, err := d.callHC.Do(req)
	if err != nil {
		return fmt.Errorf("executor: %s: %w", c.Type, err)
	}
	defer discard(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newCallError(c.Type, resp)
	}
	return nil
}

// mediaType is the media type of the calls and of the stream asked for.
func mediaType(protobuf bool) string {
	if protobuf {
		return mesospb.MediaType
	}
	return "application/json"
}

// newRequest builds every request sent to the agent: it fills in the
// executor's ids, encodes c in cfg's codec and sets the content
// negotiation headers.
func newRequest(ctx context.Context, cfg Config, c *mesos.ExecutorCall) (*http.Request, error) {
	c.ExecutorID = mesos.ID{Value: cfg.ExecutorID}
	c.FrameworkID = mesos.ID{Value: cfg.FrameworkID}
	var (
		body []byte
		err  error
	)
	if cfg.Protobuf {
		body, err = mesospb.MarshalExecutorCall(c)
	} else {
		body, err = json.Marshal(c)
	}
	if err != nil {
		return nil, fmt.Errorf("executor: encoding %s: %w", c.Type, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.AgentURL+executorPath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("executor: %s: %w", c.Type, err)
	}
	req.Header.Set("Content-Type", mediaType(cfg.Protobuf))
	req.Header.Set("Accept", mediaType(cfg.Protobuf))
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	return req, nil
}

// decodeEvent parses one record of the stream in cfg's codec.
func decodeEvent(protobuf bool, rec []byte, ev *mesos.ExecutorEvent) error {
	if protobuf {
		return mesospb.UnmarshalExecutorEvent(rec, ev)
	}
	return json.Unmarshal(rec, ev)
}

// discard drains a little of body so its connection can be reused, then
// closes it.
func discard(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}
