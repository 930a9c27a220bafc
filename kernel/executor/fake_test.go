package executor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// Test identities.
const (
	testFramework = "F1"
	testExecutor  = "E1"
)

// waitFor bounds every wait of a test on the fake agent or the handler,
// so that a broken test fails instead of hanging. Passing tests never
// wait for it.
const waitFor = 10 * time.Second

// fakeAgent is an agent's executor endpoint: it decodes calls in the
// codec it was made for, checks them as Mesos' validateExecutorCall
// does, hands each SUBSCRIBE's stream to the test and queues the other
// calls.
type fakeAgent struct {
	t        *testing.T
	protobuf bool
	srv      *httptest.Server
	streams  chan *fakeStream
	calls    chan mesos.ExecutorCall // UPDATE and MESSAGE, in arrival order
	quit     chan struct{}

	mu sync.Mutex
	// refuse answers calls of a type with a status code and body.
	refuse map[mesos.ExecutorCallType]refusal
	// Bodies decoded per codec.
	pbBodies, jsonBodies int
}

type refusal struct {
	code int
	body string
}

// fakeStream is one accepted SUBSCRIBE.
type fakeStream struct {
	sub    mesos.ExecutorCall
	events chan mesos.ExecutorEvent
	drop   chan struct{} // closed: the connection breaks mid-stream
}

func newFakeAgent(t *testing.T, protobuf bool) *fakeAgent {
	a := &fakeAgent{
		t:        t,
		protobuf: protobuf,
		streams:  make(chan *fakeStream, 4),
		calls:    make(chan mesos.ExecutorCall, 64),
		quit:     make(chan struct{}),
		refuse:   map[mesos.ExecutorCallType]refusal{},
	}
	a.srv = httptest.NewServer(a)
	t.Cleanup(func() {
		close(a.quit)
		a.srv.Close()
		a.checkCodec()
	})
	return a
}

// config is a Config for this agent with short backoffs.
func (a *fakeAgent) config(checkpoint bool) Config {
	return Config{
		FrameworkID:            testFramework,
		ExecutorID:             testExecutor,
		AgentURL:               a.srv.URL,
		Checkpoint:             checkpoint,
		RecoveryTimeout:        time.Minute,
		SubscriptionBackoffMax: time.Millisecond,
		ResendInterval:         time.Hour,
		Protobuf:               a.protobuf,
		HTTPClient:             a.srv.Client(),
		Logger:                 slog.New(slog.NewTextHandler(a.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (a *fakeAgent) setRefusal(call mesos.ExecutorCallType, code int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuse[call] = refusal{code, body}
}

// checkCodec fails the test unless every body came in the agent's codec,
// and at least one did.
func (a *fakeAgent) checkCodec() {
	a.mu.Lock()
	defer a.mu.Unlock()
	want, other := a.jsonBodies, a.pbBodies
	if a.protobuf {
		want, other = a.pbBodies, a.jsonBodies
	}
	if want == 0 || other != 0 {
		a.t.Errorf("fake agent decoded %d protobuf and %d JSON bodies; want only %s", a.pbBodies, a.jsonBodies, mediaType(a.protobuf))
	}
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != executorPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var call mesos.ExecutorCall
	switch ct := r.Header.Get("Content-Type"); ct {
	case mesospb.MediaType:
		err = mesospb.UnmarshalExecutorCall(body, &call)
		a.mu.Lock()
		a.pbBodies++
		a.mu.Unlock()
	case "application/json":
		err = json.Unmarshal(body, &call)
		a.mu.Lock()
		a.jsonBodies++
		a.mu.Unlock()
	default:
		a.t.Errorf("fake agent: Content-Type %q", ct)
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		a.t.Errorf("fake agent: decoding %s body: %v", r.Header.Get("Content-Type"), err)
		http.Error(w, "Failed to parse body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if msg := validate(&call); msg != "" {
		a.t.Errorf("fake agent: invalid %s call: %s", call.Type, msg)
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	ref, refused := a.refuse[call.Type]
	a.mu.Unlock()
	if refused {
		http.Error(w, ref.body, ref.code)
		return
	}
	if call.Type != mesos.ExecCallSubscribe {
		select {
		case a.calls <- call:
		case <-a.quit:
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if got := r.Header.Get("Accept"); got != mediaType(a.protobuf) {
		a.t.Errorf("fake agent: SUBSCRIBE Accept = %q; want %q", got, mediaType(a.protobuf))
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	a.stream(w, r, call)
}

// stream serves one subscription: the test sends its events through the
// fakeStream.
func (a *fakeAgent) stream(w http.ResponseWriter, r *http.Request, call mesos.ExecutorCall) {
	st := &fakeStream{sub: call, events: make(chan mesos.ExecutorEvent, 16), drop: make(chan struct{})}
	w.Header().Set("Content-Type", mediaType(a.protobuf))
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush()
	select {
	case a.streams <- st:
	case <-r.Context().Done():
		return
	case <-a.quit:
		return
	}
	for {
		select {
		case ev := <-st.events:
			var rec []byte
			var err error
			if a.protobuf {
				rec, err = mesospb.MarshalExecutorEvent(&ev)
			} else {
				rec, err = json.Marshal(&ev)
			}
			if err != nil {
				a.t.Errorf("fake agent: encoding %s: %v", ev.Type, err)
				return
			}
			if err := mesos.WriteRecord(w, rec); err != nil {
				return
			}
			flusher.Flush()
		case <-st.drop:
			panic(http.ErrAbortHandler) // the connection breaks, no clean end
		case <-r.Context().Done():
			return
		case <-a.quit:
			return
		}
	}
}

// validate returns why Mesos' agent would refuse call, or "".
func validate(call *mesos.ExecutorCall) string {
	switch {
	case call.FrameworkID.Value != testFramework:
		return fmt.Sprintf("unknown framework %q", call.FrameworkID.Value)
	case call.ExecutorID.Value != testExecutor:
		return fmt.Sprintf("unknown executor %q", call.ExecutorID.Value)
	}
	switch call.Type {
	case mesos.ExecCallSubscribe:
		if call.Subscribe == nil {
			return "Expecting 'subscribe' to be present"
		}
		for _, u := range call.Subscribe.UnacknowledgedUpdates {
			if msg := validateStatus(call, &u.Status); msg != "" {
				return "unacknowledged update: " + msg
			}
		}
	case mesos.ExecCallUpdate:
		if call.Update == nil {
			return "Expecting 'update' to be present"
		}
		return validateStatus(call, &call.Update.Status)
	case mesos.ExecCallMessage:
		if call.Message == nil {
			return "Expecting 'message' to be present"
		}
	default:
		return fmt.Sprintf("unexpected call type %q", call.Type)
	}
	return ""
}

func validateStatus(call *mesos.ExecutorCall, st *mesos.TaskStatus) string {
	raw, err := base64.StdEncoding.DecodeString(st.UUID)
	if err != nil || len(raw) != 16 {
		return fmt.Sprintf("uuid %q is not 16 bytes in base64", st.UUID)
	}
	if id, _ := uuid.FromBytes(raw); id.Version() != 4 {
		return fmt.Sprintf("uuid %s is not a version 4 UUID", id)
	}
	switch {
	case st.TaskID.Value == "":
		return "no task id"
	case st.Source != mesos.SourceExecutor:
		return fmt.Sprintf("source %q, want SOURCE_EXECUTOR", st.Source)
	case st.State == mesos.TaskStaging:
		return "state TASK_STAGING"
	case st.ExecutorID == nil || st.ExecutorID.Value != call.ExecutorID.Value:
		return fmt.Sprintf("status executor_id %v differs from the call's", st.ExecutorID)
	case st.Timestamp <= 0:
		return "no timestamp"
	}
	return ""
}

// nextStream returns the next subscription the executor opened.
func (a *fakeAgent) nextStream(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case st := <-a.streams:
		return st
	case <-time.After(waitFor):
		t.Fatal("no SUBSCRIBE reached the agent")
		return nil
	}
}

// subscribe waits for the next subscription and sends SUBSCRIBED on it.
func (a *fakeAgent) subscribe(t *testing.T) *fakeStream {
	t.Helper()
	st := a.nextStream(t)
	st.send(subscribedEvent())
	return st
}

// nextCall returns the next UPDATE or MESSAGE call.
func (a *fakeAgent) nextCall(t *testing.T) mesos.ExecutorCall {
	t.Helper()
	select {
	case c := <-a.calls:
		return c
	case <-time.After(waitFor):
		t.Fatal("no call reached the agent")
		return mesos.ExecutorCall{}
	}
}

// nextUpdate returns the next call, which must be an UPDATE.
func (a *fakeAgent) nextUpdate(t *testing.T) mesos.TaskStatus {
	t.Helper()
	c := a.nextCall(t)
	if c.Type != mesos.ExecCallUpdate || c.Update == nil {
		t.Fatalf("agent got %s; want UPDATE", c.Type)
	}
	return c.Update.Status
}

func (st *fakeStream) send(ev mesos.ExecutorEvent) { st.events <- ev }

func subscribedEvent() mesos.ExecutorEvent {
	return mesos.ExecutorEvent{
		Type: mesos.ExecEventSubscribed,
		Subscribed: &mesos.ExecutorSubscribed{
			ExecutorInfo:  mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: testExecutor}},
			FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "test", ID: &mesos.ID{Value: testFramework}},
			AgentInfo:     mesos.AgentInfo{Hostname: "localhost", ID: &mesos.ID{Value: "S0"}},
		},
	}
}

func launchEvent(taskID string) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{
		Type: mesos.ExecEventLaunch,
		Launch: &mesos.ExecutorLaunch{Task: mesos.TaskInfo{
			Name:    "task " + taskID,
			TaskID:  mesos.ID{Value: taskID},
			AgentID: mesos.ID{Value: "S0"},
		}},
	}
}

func ackEvent(st mesos.TaskStatus) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{
		Type:         mesos.ExecEventAcknowledged,
		Acknowledged: &mesos.ExecutorAcknowledged{TaskID: st.TaskID, UUID: st.UUID},
	}
}

func messageEvent(data string) mesos.ExecutorEvent {
	return mesos.ExecutorEvent{
		Type:    mesos.ExecEventMessage,
		Message: &mesos.ExecutorEventMessage{Data: base64.StdEncoding.EncodeToString([]byte(data))},
	}
}

// recorder is a Handler that reports every call on a channel. On LAUNCH
// it sends the updates of launchStates; on SHUTDOWN it sends TASK_KILLED
// for shutdownKills.
type recorder struct {
	launchStates  []mesos.TaskState
	shutdownKills []string

	driver     chan *Driver
	subscribed chan mesos.ExecutorSubscribed
	launched   chan mesos.TaskInfo
	killed     chan mesos.ID
	messages   chan string
	shutdown   chan struct{}
	errs       chan error // Update errors
}

func newRecorder(launchStates ...mesos.TaskState) *recorder {
	return &recorder{
		launchStates: launchStates,
		driver:       make(chan *Driver, 16),
		subscribed:   make(chan mesos.ExecutorSubscribed, 16),
		launched:     make(chan mesos.TaskInfo, 16),
		killed:       make(chan mesos.ID, 16),
		messages:     make(chan string, 16),
		shutdown:     make(chan struct{}, 1),
		errs:         make(chan error, 16),
	}
}

func (h *recorder) Subscribed(_ context.Context, d *Driver, info mesos.ExecutorSubscribed) {
	h.driver <- d
	h.subscribed <- info
}

func (h *recorder) Launch(ctx context.Context, d *Driver, task mesos.TaskInfo) {
	for _, s := range h.launchStates {
		if err := d.Update(ctx, task.TaskID.Value, s, "", nil); err != nil {
			h.errs <- err
		}
	}
	h.launched <- task
}

func (h *recorder) Kill(ctx context.Context, d *Driver, taskID mesos.ID, _ *mesos.KillPolicy) {
	if err := d.Update(ctx, taskID.Value, mesos.TaskKilled, "killed", nil); err != nil {
		h.errs <- err
	}
	h.killed <- taskID
}

func (h *recorder) Message(ctx context.Context, d *Driver, data []byte) {
	if string(data) == "ping" {
		if err := d.SendMessage(ctx, []byte("pong")); err != nil {
			h.errs <- err
		}
	}
	h.messages <- string(data)
}

func (h *recorder) Shutdown(ctx context.Context, d *Driver) {
	for _, id := range h.shutdownKills {
		if err := d.Update(ctx, id, mesos.TaskKilled, "shutdown", nil); err != nil {
			h.errs <- err
		}
	}
	h.shutdown <- struct{}{}
}

// recv returns the next value of ch or fails the test.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("no %s", what)
		var zero T
		return zero
	}
}

// sync returns once the executor has handled every event sent on st
// before: events are handled in order, so the echo of a message sent
// last proves it.
func (h *recorder) sync(t *testing.T, st *fakeStream) {
	t.Helper()
	st.send(messageEvent("sync"))
	if got := recv(t, h.messages, "sync message"); got != "sync" {
		t.Fatalf("handler got message %q; want sync", got)
	}
}

// noErrors fails the test if the handler's Driver calls failed.
func (h *recorder) noErrors(t *testing.T) {
	t.Helper()
	for {
		select {
		case err := <-h.errs:
			t.Errorf("driver call failed: %v", err)
		default:
			return
		}
	}
}

// start runs Run in a goroutine and returns its result channel. Run is
// stopped and joined when the test ends.
func start(t *testing.T, cfg Config, h Handler) <-chan error {
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- Run(ctx, cfg, h)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return errc
}

// pending returns the task ids and update UUIDs d holds unacknowledged.
func pending(d *Driver) (tasks, updates []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, task := range d.tasks {
		tasks = append(tasks, task.TaskID.Value)
	}
	for _, p := range d.updates {
		updates = append(updates, p.status.UUID)
	}
	return tasks, updates
}

// codecs runs f once per codec.
func codecs(t *testing.T, f func(t *testing.T, protobuf bool)) {
	for _, pb := range []bool{false, true} {
		name := "json"
		if pb {
			name = "protobuf"
		}
		t.Run(name, func(t *testing.T) { f(t, pb) })
	}
}
