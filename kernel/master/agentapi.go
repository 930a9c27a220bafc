package master

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"

	"corral/kernel/internal/agentproto"
	"corral/kernel/resource"
)

// handleAgent serves POST /internal/v1/agent (see package agentproto).
func (m *Master) handleAgent(w http.ResponseWriter, r *http.Request) {
	if !m.awaitRecovery(w, r) {
		return
	}
	var call agentproto.Call
	if err := decodeCall(r, &call); err != nil {
		writeError(w, err)
		return
	}
	switch call.Type {
	case agentproto.CallRegister:
		m.registerAgent(w, r, &call)
	case agentproto.CallUpdate, agentproto.CallHeartbeat:
		if call.Type == agentproto.CallUpdate && call.Update == nil {
			writeError(w, errorf(http.StatusBadRequest, "Expecting 'update' to be present"))
			return
		}
		var apiErr error
		err := m.do(r.Context(), func(c *core) {
			a := c.agents[call.AgentID]
			if a == nil || a.conn == nil || a.conn.id != call.ConnectionID || a.status != agentRegistered {
				apiErr = errorf(http.StatusConflict, "Agent %s is not registered on this connection; register again", call.AgentID)
				return
			}
			now := time.Now()
			a.lastSeen = now
			if call.Type == agentproto.CallUpdate {
				c.statusUpdates(a, call.Update.Updates, now)
			}
		})
		if err != nil {
			writeError(w, errorf(http.StatusServiceUnavailable, "Master is stopping"))
			return
		}
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		writeError(w, errorf(http.StatusBadRequest, "Unsupported agent call type '%s'", call.Type))
	}
}

// registerAgent admits (or re-admits) an agent: it makes the admission
// durable in the registry, then streams events to the agent until the
// connection ends.
func (m *Master) registerAgent(w http.ResponseWriter, r *http.Request, call *agentproto.Call) {
	reg := call.Register
	if reg == nil {
		writeError(w, errorf(http.StatusBadRequest, "Expecting 'register' to be present"))
		return
	}
	if reg.Info.Hostname == "" {
		writeError(w, errorf(http.StatusBadRequest, "'register.info.hostname' is required"))
		return
	}
	total, err := resource.FromWire(reg.Info.Resources)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "'register.info.resources': %v", err))
		return
	}
	if total.Scalar(resource.CPUs) <= 0 || total.Scalar(resource.Mem) <= 0 {
		writeError(w, errorf(http.StatusBadRequest, "'register.info.resources' must include cpus and mem"))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errorf(http.StatusInternalServerError, "streaming unsupported"))
		return
	}
	var (
		id       string
		admitted bool
		refuse   error
	)
	if err := m.do(r.Context(), func(c *core) { id, admitted, refuse = c.registerCheck(call) }); err != nil {
		return
	}
	if refuse != nil {
		writeError(w, errorf(http.StatusForbidden, "%v", refuse))
		return
	}
	if !admitted {
		info, _ := json.Marshal(reg.Info)
		store := m.store
		done := m.registrar.enqueue("admit agent "+id, func(ctx context.Context) error {
			return store.AdmitAgent(ctx, id, reg.Info.Hostname, info)
		})
		select {
		case <-done:
		case <-r.Context().Done():
			return
		}
	}
	conn := &agentConn{id: uuid.NewString(), q: newQueue()}
	err = m.do(r.Context(), func(c *core) { c.registered(id, reg, conn, time.Now()) })
	// Even if the request ended before the loop ran registered(), the loop
	// must learn that this connection is gone (a no-op for a stale one).
	defer m.post(func(c *core) { c.agentGoneAway(id, conn, time.Now()) })
	if err != nil {
		writeError(w, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(agentproto.ConnectionIDHeader, conn.id)
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	pump(r, w, flusher, conn.q)
}
