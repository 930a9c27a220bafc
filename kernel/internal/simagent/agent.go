package simagent

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"corral/kernel/agent/update"
	"corral/kernel/internal/agentclient"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Protocol constants, as the real agent's.
const (
	// defaultHeartbeat is used when REGISTERED names no interval.
	defaultHeartbeat = 5 * time.Second
	// missedHeartbeats intervals without any event end a session.
	missedHeartbeats = 3
	// callTimeout bounds UPDATE and HEARTBEAT calls.
	callTimeout = 15 * time.Second
	// firstEventTimeout bounds the wait for REGISTERED.
	firstEventTimeout = 30 * time.Second
)

var (
	// errNoMaster: the detector named none.
	errNoMaster = errors.New("no master known")
)

// task is an agent's record of one task. A ghost is a task the agent never
// ran but had to answer for (TASK_LOST, TASK_DROPPED); it is not reported
// at registration.
type task struct {
	framework *mesos.FrameworkInfo
	info      *mesos.TaskInfo // nil for a ghost
	state     mesos.TaskState
	status    mesos.TaskStatus // latest
}

func (t *task) ghost() bool { return t.info == nil }

// session is one registration with a master.
type session struct {
	base         string // the leader's base URL
	connectionID string
	interval     time.Duration
}

// agent is one simulated agent. Everything but mu and pub is owned by the
// goroutine running run.
type agent struct {
	f       *Fleet
	index   int
	info    agentproto.AgentInfo
	id      string
	tasks   map[update.Key]*task
	live    int // tasks that are neither ghosts nor terminal
	updates *update.Manager
	regs    int

	mu  sync.Mutex
	pub AgentStatus
}

func newAgent(f *Fleet, index int, info agentproto.AgentInfo) *agent {
	a := &agent{f: f, index: index, info: info, tasks: map[update.Key]*task{}, updates: f.newUpdates()}
	a.pub = AgentStatus{Index: index, Hostname: info.Hostname}
	return a
}

// preload adds a running task before the agent first registers.
func (a *agent) preload(fw *mesos.FrameworkInfo, ti mesos.TaskInfo) {
	k := update.Key{FrameworkID: fw.ID.Value, TaskID: ti.TaskID.Value}
	st := mesos.TaskStatus{TaskID: ti.TaskID, State: mesos.TaskRunning, Source: mesos.SourceExecutor,
		Timestamp: mesos.Float(float64(time.Now().UnixNano()) / 1e9)}
	a.tasks[k] = &task{framework: fw, info: &ti, state: mesos.TaskRunning, status: st}
	a.live++
	a.publish(nil)
}

func (a *agent) snapshot() AgentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pub
}

// publish refreshes what Fleet.Agents reports; s is the current session
// (nil when none).
func (a *agent) publish(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pub.ID = a.id
	a.pub.Tasks = a.live
	a.pub.Pending = a.updates.Pending()
	a.pub.Registrations = a.regs
	if s == nil {
		a.pub.Registered, a.pub.Master = false, ""
	}
}

// run keeps the agent registered until ctx ends: it asks the detector for
// the masters, holds a session with one, and after each session or failed
// attempt waits out the backoff (or a change of leader) and tries again.
func (a *agent) run(ctx context.Context) {
	b := backoff{factor: a.f.cfg.RegisterBackoffFactor, max: a.f.cfg.RegisterBackoffMax}
	log := a.f.log.With("agent", a.index)
	for i := 0; ctx.Err() == nil; {
		var changed <-chan struct{}
		if ch, ok := a.f.cfg.Masters.(interface{ Changes() <-chan struct{} }); ok {
			changed = ch.Changes()
		}
		masters, err := a.f.cfg.Masters.Masters(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil && len(masters) == 0 {
			err = errNoMaster
		}
		registered, base := false, ""
		if err == nil {
			base = strings.TrimRight(masters[i%len(masters)], "/")
			registered, err = a.session(ctx, base)
		}
		if ctx.Err() != nil {
			return
		}
		if registered {
			b.reset()
			log.Debug("session ended; re-registering", "master", base, "err", err)
		} else {
			i++ // try the next master
			log.Debug("registration failed", "master", base, "err", err)
		}
		t := time.NewTimer(b.next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-changed:
			// A new leader is known: register with it now, and retry
			// quickly while it is still taking over.
			t.Stop()
			b.reset()
		}
	}
}

// callResult is the outcome of an UPDATE or HEARTBEAT call.
type callResult struct {
	update bool
	err    error
}

// session registers with the master at base and serves the stream until it
// breaks, goes quiet, a call says the connection is stale, or ctx ends.
// registered says whether REGISTERED arrived.
func (a *agent) session(ctx context.Context, base string) (registered bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, leader, err := agentclient.Post(sctx, a.f.client, base, a.registerCall())
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if err := agentclient.StatusError(resp); err != nil {
		return false, err
	}
	rd := newRecordReader(resp.Body)
	first := time.AfterFunc(firstEventTimeout, cancel)
	ev, err := readEvent(rd)
	first.Stop()
	if err != nil {
		return false, fmt.Errorf("reading REGISTERED: %w", err)
	}
	if ev.Type != agentproto.EventRegistered || ev.Registered == nil || ev.Registered.AgentID == "" {
		return false, fmt.Errorf("first event is %s, want REGISTERED with an agent id", ev.Type)
	}
	r := ev.Registered
	s := &session{base: leader, connectionID: r.ConnectionID, interval: time.Duration(r.HeartbeatIntervalSeconds * float64(time.Second))}
	if s.connectionID == "" {
		s.connectionID = resp.Header.Get(agentproto.ConnectionIDHeader)
	}
	if s.interval <= 0 {
		s.interval = defaultHeartbeat
	}
	a.registered(r.AgentID, s)
	defer a.publish(nil)

	// Goroutines of this session; joined after sctx is cancelled (defers
	// run last-in first-out).
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	events := make(chan agentproto.Event, 8)
	var readErr error
	wg.Go(func() {
		defer close(events)
		for {
			ev, err := readEvent(rd)
			if err != nil {
				readErr = err
				return
			}
			select {
			case events <- ev:
			case <-sctx.Done():
				readErr = sctx.Err()
				return
			}
		}
	})

	silence := missedHeartbeats * s.interval
	watchdog := time.NewTimer(silence)
	defer watchdog.Stop()
	beat := time.NewTicker(s.interval)
	defer beat.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	// At most one UPDATE and one HEARTBEAT are in flight: results never
	// block their goroutines.
	results := make(chan callResult, 2)
	sending, beating := false, false
	for {
		if !sending {
			if batch := a.updates.Due(time.Now()); len(batch) > 0 {
				sending = true
				call := agentproto.Call{Type: agentproto.CallUpdate, AgentID: a.id, ConnectionID: s.connectionID,
					Update: &agentproto.Updates{Updates: batch}}
				wg.Go(func() { results <- callResult{update: true, err: a.f.call(sctx, s.base, call)} })
			}
		}
		a.armRetry(retry, sending)
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return true, readErr // the reader's last write happens before close
			}
			watchdog.Reset(silence)
			a.handle(ev)
			a.publish(s)
		case <-watchdog.C:
			return true, fmt.Errorf("no event from master for %v", silence)
		case <-beat.C:
			if !beating {
				beating = true
				call := agentproto.Call{Type: agentproto.CallHeartbeat, AgentID: a.id, ConnectionID: s.connectionID}
				wg.Go(func() { results <- callResult{err: a.f.call(sctx, s.base, call)} })
			}
		case res := <-results:
			if res.update {
				sending = false
				if res.err != nil {
					return true, fmt.Errorf("sending status updates: %w", res.err)
				}
				continue
			}
			beating = false
			if errors.Is(res.err, agentclient.ErrStale) {
				return true, fmt.Errorf("heartbeat: %w", res.err)
			}
		case <-retry.C:
		}
	}
}

// armRetry sets t to the next resend of an unacknowledged update.
func (a *agent) armRetry(t *time.Timer, sending bool) {
	t.Stop()
	if next, ok := a.updates.Next(); ok && !sending {
		t.Reset(max(0, time.Until(next)))
	}
}

// registered starts a session: everything unacknowledged is due again,
// since the master may have lost whatever was in flight.
func (a *agent) registered(id string, s *session) {
	if a.id != id && a.id != "" {
		a.f.log.Warn("master assigned a new agent id", "agent", a.index, "old", a.id, "new", id)
	}
	a.id = id
	a.regs++
	a.f.registrations.Add(1)
	a.updates.ResendAll()
	a.mu.Lock()
	a.pub.Registered, a.pub.Master, a.pub.RegisteredAt = true, s.base, time.Now()
	a.mu.Unlock()
	a.publish(s)
}

// registerCall builds REGISTER from the agent's tasks.
func (a *agent) registerCall() agentproto.Call {
	reg := &agentproto.Register{Info: a.info, Tasks: make([]agentproto.Task, 0, len(a.tasks))}
	for k, t := range a.tasks {
		if t.ghost() {
			continue
		}
		st := t.status
		reg.Tasks = append(reg.Tasks, agentproto.Task{FrameworkID: k.FrameworkID, FrameworkInfo: t.framework,
			TaskInfo: *t.info, State: t.state, Status: &st})
	}
	return agentproto.Call{Type: agentproto.CallRegister, AgentID: a.id, Register: reg}
}

// handle applies one event of the stream.
func (a *agent) handle(ev agentproto.Event) {
	switch ev.Type {
	case agentproto.EventLaunch:
		if ev.Launch == nil {
			return
		}
		fw := ev.Launch.FrameworkInfo
		for i := range ev.Launch.Tasks {
			ti := ev.Launch.Tasks[i]
			k := update.Key{FrameworkID: ev.Launch.FrameworkID, TaskID: ti.TaskID.Value}
			if a.tasks[k] != nil {
				continue
			}
			t := &task{framework: &fw, info: &ti}
			a.tasks[k] = t
			a.emit(k, t, a.status(k, mesos.TaskRunning, "", "", mesos.SourceExecutor))
		}
	case agentproto.EventKill:
		if ev.Kill == nil {
			return
		}
		k := update.Key{FrameworkID: ev.Kill.FrameworkID, TaskID: ev.Kill.TaskID}
		if a.tasks[k] == nil {
			a.ghost(k, mesos.TaskLost, mesos.ReasonTaskUnknown, "Task is unknown to the agent")
			return
		}
		a.kill(k)
	case agentproto.EventAcknowledge:
		if ev.Acknowledge == nil {
			return
		}
		k := update.Key{FrameworkID: ev.Acknowledge.FrameworkID, TaskID: ev.Acknowledge.TaskID}
		if a.tasks[k] == nil || !a.updates.IsHead(k, ev.Acknowledge.UUID) {
			return
		}
		if r := a.updates.Ack(k, ev.Acknowledge.UUID); r.Drained && r.Terminal {
			delete(a.tasks, k)
			a.updates.Remove(k)
		}
	case agentproto.EventReconcile:
		if ev.Reconcile == nil {
			return
		}
		for _, rt := range ev.Reconcile.Tasks {
			k := update.Key{FrameworkID: rt.FrameworkID, TaskID: rt.TaskID}
			if a.tasks[k] == nil {
				a.ghost(k, mesos.TaskDropped, mesos.ReasonReconciliation, "Task is unknown to the agent")
			}
		}
	case agentproto.EventShutdownFramework:
		if ev.ShutdownFramework == nil {
			return
		}
		for k := range a.tasks {
			if k.FrameworkID == ev.ShutdownFramework.FrameworkID {
				a.kill(k)
			}
		}
	case agentproto.EventHeartbeat, agentproto.EventRegistered:
	default:
		a.f.log.Debug("ignoring unknown event", "agent", a.index, "type", ev.Type)
	}
}

// kill ends a task it runs: a simulated task dies at once.
func (a *agent) kill(k update.Key) {
	t := a.tasks[k]
	if t.ghost() || t.state.Terminal() {
		return
	}
	a.emit(k, t, a.status(k, mesos.TaskKilled, "", "Command terminated with signal Terminated", mesos.SourceExecutor))
}

// ghost answers for a task the agent does not know.
func (a *agent) ghost(k update.Key, state mesos.TaskState, reason, msg string) {
	t := &task{}
	a.tasks[k] = t
	a.emit(k, t, a.status(k, state, reason, msg, mesos.SourceAgent))
}

// emit moves t to st's state and queues st as a reliable update.
func (a *agent) emit(k update.Key, t *task, st mesos.TaskStatus) {
	wasLive := !t.ghost() && t.state != "" && !t.state.Terminal()
	isLive := !t.ghost() && !st.State.Terminal()
	switch {
	case isLive && !wasLive:
		a.live++
	case wasLive && !isLive:
		a.live--
	}
	t.state, t.status = st.State, st
	a.updates.Add(agentproto.StatusUpdate{FrameworkID: k.FrameworkID, Status: st})
}

// status builds a reliable status of task k.
func (a *agent) status(k update.Key, state mesos.TaskState, reason, msg, source string) mesos.TaskStatus {
	u := uuid.New()
	st := mesos.TaskStatus{
		TaskID:    mesos.ID{Value: k.TaskID},
		State:     state,
		Message:   msg,
		Source:    source,
		Reason:    reason,
		Timestamp: mesos.Float(float64(time.Now().UnixNano()) / 1e9),
		UUID:      base64.StdEncoding.EncodeToString(u[:]),
	}
	if a.id != "" {
		st.AgentID = &mesos.ID{Value: a.id}
	}
	return st
}

// --- HTTP ---

// call sends a short call (UPDATE, HEARTBEAT) to the session's master.
func (f *Fleet) call(ctx context.Context, base string, c agentproto.Call) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, _, err := agentclient.Post(ctx, f.client, base, c)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return agentclient.StatusError(resp)
}

func readEvent(rd *recordReader) (agentproto.Event, error) {
	rec, err := rd.next()
	if err != nil {
		return agentproto.Event{}, err
	}
	var ev agentproto.Event
	if err := json.Unmarshal(rec, &ev); err != nil {
		return agentproto.Event{}, fmt.Errorf("decoding event: %w", err)
	}
	return ev, nil
}

// recordReader reads RecordIO records as mesos.Reader does, through a
// small buffer: mesos.Reader's 64 kB buffer per stream would make 64 MB
// for a thousand agents, whose events are a few kB each.
type recordReader struct {
	r *bufio.Reader
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(r, 4<<10)}
}

// next returns the next record: io.EOF at a clean end of the stream,
// io.ErrUnexpectedEOF inside a record.
func (rr *recordReader) next() ([]byte, error) {
	line, err := rr.r.ReadSlice('\n')
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		if err == bufio.ErrBufferFull {
			return nil, errors.New("recordio: record length too long")
		}
		return nil, err
	}
	n, err := strconv.ParseUint(string(line[:len(line)-1]), 10, 64)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("recordio: invalid record length %q", line[:len(line)-1])
	}
	if n > mesos.MaxRecordSize {
		return nil, fmt.Errorf("recordio: record larger than %d bytes", mesos.MaxRecordSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rr.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// backoff is the registration backoff: a random wait in [0, cur], cur
// doubling from factor to max.
type backoff struct {
	factor, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.factor
	}
	d := time.Duration(rand.Int64N(int64(b.cur) + 1))
	b.cur = min(2*b.cur, b.max)
	return d
}

func (b *backoff) reset() { b.cur = 0 }
