package master

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/master/internal/core"
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
// may see it (on the loop goroutine).
func (m *Master) publishOperator(ev core.OperatorEvent) {
	if len(m.opStreams) == 0 {
		return
	}
	var payload any
	switch ev.Type {
	case core.OpTaskAdded:
		payload = map[string]any{"task": ev.Task}
	case core.OpTaskUpdated:
		payload = map[string]any{"framework_id": map[string]string{"value": ev.FrameworkID}, "status": ev.Status, "state": ev.State}
	case core.OpAgentAdded:
		payload = map[string]any{"agent": ev.Agent}
	case core.OpAgentRemoved:
		payload = map[string]any{"agent_id": map[string]string{"value": ev.AgentID}}
	case core.OpFrameworkAdded, core.OpFrameworkUpdated:
		payload = map[string]any{"framework": ev.Framework}
	case core.OpFrameworkRemoved:
		payload = map[string]any{"framework_info": ev.Framework.FrameworkInfo}
	default:
		return
	}
	b, err := json.Marshal(map[string]any{"type": ev.Type, strings.ToLower(ev.Type): payload})
	if err != nil {
		return
	}
	act := acl.ViewTasks
	switch ev.Type {
	case core.OpFrameworkAdded, core.OpFrameworkUpdated, core.OpFrameworkRemoved:
		act = acl.ViewFrameworks
	case core.OpAgentAdded, core.OpAgentRemoved:
		act = ""
	}
	for _, s := range m.opStreams {
		if act == "" || m.cfg.Trust.ACLs.Allowed(act, s.principal, ev.User) {
			s.q.push(b)
		}
	}
}

// opSubscribe serves the operator API's SUBSCRIBE: SUBSCRIBED with the
// state the subscriber may see, a HEARTBEAT at once and every 15 s, and
// the cluster's changes as they happen. A client that reconnects gets a
// fresh snapshot (no replay).
func (m *Master) opSubscribe(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, errorf(http.StatusInternalServerError, "streaming unsupported"))
		return
	}
	id, s := uuid.NewString(), &opStream{q: newQueue(), principal: edge.Principal(r.Context())}
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
	state := m.filterSnapshot(r, snap)
	first, _ := json.Marshal(map[string]any{"type": "SUBSCRIBED", "subscribed": map[string]any{
		"get_state": state, "heartbeat_interval_seconds": operatorHeartbeat.Seconds()}})
	heartbeat, _ := json.Marshal(map[string]string{"type": "HEARTBEAT"})
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
	w.Header().Set("Content-Type", "application/json")
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
func (m *Master) filterSnapshot(r *http.Request, s opSnapshot) map[string]any {
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
	return map[string]any{
		"get_agents":     map[string]any{"agents": s.agents, "recovered_agents": s.recovered},
		"get_frameworks": map[string]any{"frameworks": fws(s.frameworks), "completed_frameworks": fws(s.completedFw)},
		"get_tasks":      map[string]any{"tasks": tasks(s.tasks), "unreachable_tasks": tasks(s.unreachable), "completed_tasks": tasks(s.completed)},
		"get_executors":  map[string]any{"executors": execs},
	}
}
