package master

import (
	"corral/internal/acl"
	"net/http"
	"time"

	"github.com/google/uuid"

	"corral/kernel/internal/agentproto"
	"corral/kernel/master/internal/core"
	"corral/kernel/resource"
)

// handleAgent serves POST /internal/v1/agent (see package agentproto).
func (m *Master) handleAgent(w http.ResponseWriter, r *http.Request) {
	if !m.awaitRecovery(w, r) {
		return
	}
	var call agentproto.Call
	if err := decodeCall(r, &call); err != nil {
		writeError(w, r, err)
		return
	}
	// Every agent call, not only REGISTER: updates and heartbeats speak
	// for an agent too.
	if !m.authorize(w, r, acl.RegisterAgents, "") {
		return
	}
	switch call.Type {
	case agentproto.CallRegister:
		m.registerAgent(w, r, &call)
	case agentproto.CallUpdate, agentproto.CallHeartbeat:
		if call.Type == agentproto.CallUpdate && call.Update == nil {
			writeError(w, r, errorf(http.StatusBadRequest, "Expecting 'update' to be present"))
			return
		}
		var updates []agentproto.StatusUpdate
		if call.Type == agentproto.CallUpdate {
			updates = call.Update.Updates
		}
		var ok bool
		err := m.do(r.Context(), func(c *core.Core) {
			var fx core.Effects
			fx, ok = c.AgentCall(call.AgentID, call.ConnectionID, updates, time.Now())
			m.apply(fx)
		})
		if err != nil {
			writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
			return
		}
		if !ok {
			writeError(w, r, errorf(http.StatusConflict, "Agent %s is not registered on this connection; register again", call.AgentID))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		writeError(w, r, errorf(http.StatusBadRequest, "Unsupported agent call type '%s'", call.Type))
	}
}

// registerAgent admits (or re-admits) an agent: it makes the admission
// durable in the registry, then streams events to the agent until the
// connection ends.
func (m *Master) registerAgent(w http.ResponseWriter, r *http.Request, call *agentproto.Call) {
	reg := call.Register
	if reg == nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Expecting 'register' to be present"))
		return
	}

	if reg.Info.Hostname == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "'register.info.hostname' is required"))
		return
	}
	total, err := resource.FromWire(reg.Info.Resources)
	if err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "'register.info.resources': %v", err))
		return
	}
	if total.Scalar(resource.CPUs) <= 0 || total.Scalar(resource.Mem) <= 0 {
		writeError(w, r, errorf(http.StatusBadRequest, "'register.info.resources' must include cpus and mem"))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, errorf(http.StatusInternalServerError, "streaming unsupported"))
		return
	}
	var (
		id     string
		admit  *core.AdmitAgent
		refuse error
	)
	if err := m.do(r.Context(), func(c *core.Core) { id, admit, refuse = c.RegisterCheck(call.AgentID, reg) }); err != nil {
		return
	}
	if refuse != nil {
		writeError(w, r, errorf(http.StatusForbidden, "%v", refuse))
		return
	}
	// The admission is durable before the agent hears it is registered.
	if admit != nil {
		select {
		case err := <-m.registrar.enqueue(admit.String(), m.writeFunc(*admit)):
			if err != nil {
				writeError(w, r, notWritten(err))
				return
			}
		case <-r.Context().Done():
			return
		}
	}
	connID, q := uuid.NewString(), newQueue()
	err = m.do(r.Context(), func(c *core.Core) {
		m.agentConns[connID] = q
		m.apply(c.Register(id, reg, connID, time.Now()))
	})
	// Even if the request ended before the loop ran Register, the loop
	// must learn that this connection is gone (a no-op for a stale one).
	defer m.post(func(c *core.Core) {
		m.apply(c.AgentClosed(id, connID, time.Now()))
		delete(m.agentConns, connID)
	})
	if err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(agentproto.ConnectionIDHeader, connID)
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	pump(r, w, flusher, q)
}
