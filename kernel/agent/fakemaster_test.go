package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// fakeMaster speaks the master side of agentproto for tests: it admits
// agents, streams events the test sends, records status updates and, when
// autoAck is on, acknowledges each update as a framework would.
type fakeMaster struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	seq       int
	cur       *fakeConn
	registers []agentproto.Call
	updates   []agentproto.StatusUpdate // in arrival order
	executors agentproto.Executors      // EXECUTORS reports, merged
	autoAck   bool
	heartbeat float64
	silent    bool // no HEARTBEAT events
	regCh     chan agentproto.Call
	updCh     chan struct{}
}

type fakeConn struct {
	id     string
	events chan agentproto.Event
	done   chan struct{}
	once   sync.Once
}

func (c *fakeConn) close() { c.once.Do(func() { close(c.done) }) }

// newFakeMaster starts a fake master announcing a heartbeat interval of
// one second: the agent gives up a stream after three silent intervals,
// and a shorter one let a loaded machine (the race detector, parallel
// packages) stall past it, so the agent re-registered and the events
// queued on the dropped stream (a kill) were lost. Tests of the
// heartbeat itself set their own.
func newFakeMaster(t *testing.T) *fakeMaster {
	m := &fakeMaster{t: t, autoAck: true, heartbeat: 1, regCh: make(chan agentproto.Call, 16), updCh: make(chan struct{}, 1)}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(func() {
		m.mu.Lock()
		if m.cur != nil {
			m.cur.close()
		}
		m.mu.Unlock()
		m.srv.CloseClientConnections()
		m.srv.Close()
	})
	return m
}

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != agentproto.Path || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var call agentproto.Call
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch call.Type {
	case agentproto.CallRegister:
		m.register(w, r, call)
	case agentproto.CallUpdate, agentproto.CallHeartbeat:
		m.mu.Lock()
		stale := m.cur == nil || m.cur.id != call.ConnectionID
		m.mu.Unlock()
		if stale {
			http.Error(w, "stale connection", http.StatusConflict)
			return
		}
		if call.Type == agentproto.CallUpdate {
			m.mu.Lock()
			m.updates = append(m.updates, call.Update.Updates...)
			auto := m.autoAck
			m.mu.Unlock()
			if auto {
				for _, u := range call.Update.Updates {
					m.ack(u)
				}
			}
			select {
			case m.updCh <- struct{}{}:
			default:
			}
		}
		w.WriteHeader(http.StatusAccepted)
	case agentproto.CallExecutors:
		m.mu.Lock()
		m.executors.Exited = append(m.executors.Exited, call.Executors.Exited...)
		m.executors.Messages = append(m.executors.Messages, call.Executors.Messages...)
		m.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "unknown call", http.StatusBadRequest)
	}
}

func (m *fakeMaster) register(w http.ResponseWriter, r *http.Request, call agentproto.Call) {
	m.mu.Lock()
	m.seq++
	agentID := call.AgentID
	if agentID == "" {
		agentID = fmt.Sprintf("agent-%d", m.seq)
	}
	if m.cur != nil {
		m.cur.close()
	}
	c := &fakeConn{id: fmt.Sprintf("conn-%d", m.seq), events: make(chan agentproto.Event, 4096), done: make(chan struct{})}
	m.cur = c
	m.registers = append(m.registers, call)
	hb := m.heartbeat
	silent := m.silent
	m.mu.Unlock()
	m.regCh <- call

	w.Header().Set("Content-Type", "application/recordio")
	w.Header().Set(agentproto.ConnectionIDHeader, c.id)
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	write := func(ev agentproto.Event) bool {
		b, _ := json.Marshal(ev)
		if err := mesos.WriteRecord(w, b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	write(agentproto.Event{Type: agentproto.EventRegistered, Registered: &agentproto.Registered{
		AgentID: agentID, ConnectionID: c.id, HeartbeatIntervalSeconds: hb}})
	tick := time.NewTicker(time.Duration(hb * float64(time.Second)))
	defer tick.Stop()
	for {
		select {
		case ev := <-c.events:
			if !write(ev) {
				return
			}
		case <-tick.C:
			if silent {
				continue
			}
			if !write(agentproto.Event{Type: agentproto.EventHeartbeat}) {
				return
			}
		case <-c.done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// event queues an event on the current stream.
func (m *fakeMaster) event(ev agentproto.Event) {
	m.mu.Lock()
	c := m.cur
	m.mu.Unlock()
	if c == nil {
		m.t.Fatalf("no agent connected")
	}
	c.events <- ev
}

func (m *fakeMaster) ack(u agentproto.StatusUpdate) {
	m.mu.Lock()
	c := m.cur
	m.mu.Unlock()
	if c != nil {
		c.events <- agentproto.Event{Type: agentproto.EventAcknowledge, Acknowledge: &agentproto.Acknowledge{
			FrameworkID: u.FrameworkID, TaskID: u.Status.TaskID.Value, UUID: u.Status.UUID}}
	}
}

// breakStream ends the current stream as a crashed master would.
func (m *fakeMaster) breakStream() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		m.cur.close()
		m.cur = nil
	}
}

func (m *fakeMaster) setAutoAck(on bool) {
	m.mu.Lock()
	m.autoAck = on
	m.mu.Unlock()
}

// waitRegister returns the next REGISTER call.
func (m *fakeMaster) waitRegister(t *testing.T) agentproto.Call {
	t.Helper()
	select {
	case c := <-m.regCh:
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not register")
	}
	return agentproto.Call{}
}

// updatesOf returns the updates received for a task, in order.
func (m *fakeMaster) updatesOf(taskID string) []agentproto.StatusUpdate {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []agentproto.StatusUpdate
	for _, u := range m.updates {
		if u.Status.TaskID.Value == taskID {
			out = append(out, u)
		}
	}
	return out
}

// waitState waits until the task's latest received update has state s and
// returns it.
func (m *fakeMaster) waitState(t *testing.T, taskID string, s mesos.TaskState, timeout time.Duration) agentproto.StatusUpdate {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		us := m.updatesOf(taskID)
		if n := len(us); n > 0 && us[n-1].Status.State == s {
			return us[n-1]
		}
		if time.Now().After(deadline) {
			var got []mesos.TaskState
			for _, u := range us {
				got = append(got, u.Status.State)
			}
			t.Fatalf("task %s: updates %v; want last %s", taskID, got, s)
		}
		select {
		case <-m.updCh:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// states returns the distinct updates (by uuid) of a task as states.
func (m *fakeMaster) states(taskID string) []mesos.TaskState {
	seen := map[string]bool{}
	var out []mesos.TaskState
	for _, u := range m.updatesOf(taskID) {
		if !seen[u.Status.UUID] {
			seen[u.Status.UUID] = true
			out = append(out, u.Status.State)
		}
	}
	return out
}
