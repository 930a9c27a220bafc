package master

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// operatorHeartbeat is the operator stream's HEARTBEAT period, as in
// Mesos.
const operatorHeartbeat = 15 * time.Second

// opStream is one operator SUBSCRIBE stream and whose it is.
type opStream struct {
	q         *queue
	principal string
}

// publishOperator queues an operator event on the streams whose principal
// may see it (on the loop goroutine), encoded once per media type in use.
func (m *Master) publishOperator(ev core.OperatorEvent) {
	if len(m.opStreams) == 0 {
		return
	}
	out := &opEvent{Type: ev.Type}
	switch ev.Type {
	case core.OpTaskAdded:
		out.TaskAdded = &opTaskAdded{Task: ev.Task}
	case core.OpTaskUpdated:
		out.TaskUpdated = &opTaskUpdated{FrameworkID: mesos.ID{Value: ev.FrameworkID}, Status: ev.Status, State: ev.State}
	case core.OpAgentAdded:
		out.AgentAdded = &opAgentAdded{Agent: ev.Agent}
	case core.OpAgentRemoved:
		out.AgentRemoved = &opAgentRemoved{AgentID: mesos.ID{Value: ev.AgentID}}
	case core.OpFrameworkAdded:
		out.FrameworkAdded = &opFrameworkEvent{Framework: ev.Framework}
	case core.OpFrameworkUpdated:
		out.FrameworkUpdated = &opFrameworkEvent{Framework: ev.Framework}
	case core.OpFrameworkRemoved:
		out.FrameworkRemoved = &opFrameworkRemoved{FrameworkInfo: ev.Framework.FrameworkInfo}
	default:
		return
	}
	act := acl.ViewTasks
	switch ev.Type {
	case core.OpFrameworkAdded, core.OpFrameworkUpdated, core.OpFrameworkRemoved:
		act = acl.ViewFrameworks
	case core.OpAgentAdded, core.OpAgentRemoved:
		act = ""
	}
	var (
		encoded [2][]byte // JSON, protobuf; nil: could not be encoded
		tried   [2]bool
	)
	for _, s := range m.opStreams {
		if act != "" && !m.cfg.Trust.ACLs.Allowed(act, s.principal, ev.User) {
			continue
		}
		i := 0
		if s.q.protobuf {
			i = 1
		}
		if !tried[i] {
			encoded[i], tried[i] = m.encodeOpEvent(out, s.q.protobuf), true
		}
		s.q.push(encoded[i])
	}
}

// encodeOpEvent is ev in JSON or protobuf, or nil (logged) if it cannot
// be encoded, which is a bug: the event is dropped rather than the
// stream or the master.
func (m *Master) encodeOpEvent(ev *opEvent, protobuf bool) []byte {
	var b []byte
	var err error
	if protobuf {
		b, err = mesospb.Marshal(ev)
	} else {
		b, err = json.Marshal(ev)
	}
	if err != nil {
		m.log.Error("dropping an operator event that cannot be encoded", "type", ev.Type, "protobuf", protobuf, "err", err)
		return nil
	}
	return b
}

// opSubscribe serves the operator API's SUBSCRIBE: SUBSCRIBED with the
// state the subscriber may see, a HEARTBEAT at once and every 15 s, and
// the cluster's changes as they happen, RecordIO-framed, in protobuf if
// the request's Accept allows only that (opAnswerType), else JSON. A
// client that reconnects gets a fresh snapshot (no replay).
func (m *Master) opSubscribe(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, errorf(http.StatusInternalServerError, "streaming unsupported"))
		return
	}
	mediaType := opAnswerType(r)
	id, s := uuid.NewString(), &opStream{q: newQueue(), principal: edge.Principal(r.Context())}
	s.q.protobuf = mediaType == mesospb.MediaType
	var snap opSnapshot
	// The snapshot and the registration are one step: no event falls
	// between them.
	if err := m.do(r.Context(), func(c *core.Core) {
		snap = readSnapshot(c)
		m.opStreams[id] = s
		c.WatchOperator(true)
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	defer m.post(func(c *core.Core) {
		delete(m.opStreams, id)
		c.WatchOperator(len(m.opStreams) > 0)
	})
	first := m.encodeOpEvent(&opEvent{Type: "SUBSCRIBED", Subscribed: &opSubscribed{
		GetState: m.filterSnapshot(r, snap), HeartbeatIntervalSeconds: operatorHeartbeat.Seconds()}}, s.q.protobuf)
	heartbeat := m.encodeOpEvent(&opEvent{Type: "HEARTBEAT"}, s.q.protobuf)
	if first == nil || heartbeat == nil {
		writeError(w, r, errors.New("the operator stream's first events cannot be encoded"))
		return
	}
	s.q.mu.Lock()
	s.q.items = append([][]byte{first, heartbeat}, s.q.items...)
	s.q.mu.Unlock()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(operatorHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.q.push(heartbeat)
			case <-stop:
				return
			}
		}
	}()
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	pump(r, w, flusher, s.q)
}

// opSnapshot is the cluster as GET_STATE reads it, before authorization.
type opSnapshot struct {
	agents      []core.OpAgent
	recovered   []core.OpAgentInfo
	frameworks  []core.OpFramework
	completedFw []core.OpFramework
	tasks       []core.OpTask
	unreachable []core.OpTask
	completed   []core.OpTask
	executors   []core.OpExecutor
}

func readSnapshot(c *core.Core) opSnapshot {
	var s opSnapshot
	s.agents, s.recovered = c.OpAgents()
	s.frameworks, s.completedFw = c.OpFrameworks()
	s.tasks, s.unreachable, s.completed = c.OpTasks()
	s.executors = c.OpExecutors()
	return s
}

// filterSnapshot is GET_STATE's body: s as r's principal may see it.
func (m *Master) filterSnapshot(r *http.Request, s opSnapshot) *opGetState {
	p, acls := edge.Principal(r.Context()), m.cfg.Trust.ACLs
	fws := func(in []core.OpFramework) []core.OpFramework {
		out := []core.OpFramework{}
		for _, f := range in {
			if acls.Allowed(acl.ViewFrameworks, p, f.FrameworkInfo.User) {
				out = append(out, f)
			}
		}
		return out
	}
	tasks := func(in []core.OpTask) []core.OpTask {
		out := []core.OpTask{}
		for _, t := range in {
			if acls.Allowed(acl.ViewTasks, p, t.User) {
				out = append(out, t)
			}
		}
		return out
	}
	execs := []core.OpExecutor{}
	for _, e := range s.executors {
		if acls.Allowed(acl.ViewExecutors, p, e.User) {
			execs = append(execs, e)
		}
	}
	return &opGetState{
		GetAgents:     opGetAgents{Agents: s.agents, RecoveredAgents: s.recovered},
		GetFrameworks: opGetFrameworks{Frameworks: fws(s.frameworks), CompletedFrameworks: fws(s.completedFw)},
		GetTasks:      opGetTasks{Tasks: tasks(s.tasks), UnreachableTasks: tasks(s.unreachable), CompletedTasks: tasks(s.completed)},
		GetExecutors:  opGetExecutors{Executors: execs},
	}
}
