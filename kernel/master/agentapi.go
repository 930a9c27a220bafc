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
	case agentproto.CallExecutors:
		if call.Executors == nil {
			writeError(w, r, errorf(http.StatusBadRequest, "Expecting 'executors' to be present"))
			return
		}
		var ok bool
		err := m.do(r.Context(), func(c *core.Core) {
			var fx core.Effects
			fx, ok = c.ExecutorReports(call.AgentID, call.ConnectionID, call.Executors, time.Now())
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
	case agentproto.CallSecrets:
		m.taskSecrets(w, r, &call)
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

// taskSecrets answers a SECRETS call (see agentproto.SecretsRequest): the
// values of the stored secrets that the task references, read from the
// store outside the loop. Which secrets those are comes from the master's
// own record of the task, and only for the agent that runs it, on its
// current connection. No value is ever logged or put in an error.
func (m *Master) taskSecrets(w http.ResponseWriter, r *http.Request, call *agentproto.Call) {
	req := call.Secrets
	switch {
	case req == nil:
		writeError(w, r, errorf(http.StatusBadRequest, "Expecting 'secrets' to be present"))
		return
	case req.FrameworkID == "":
		writeError(w, r, errorf(http.StatusBadRequest, "'secrets.framework_id' is required"))
		return
	case req.TaskID == "":
		writeError(w, r, errorf(http.StatusBadRequest, "'secrets.task_id' is required"))
		return
	}
	var (
		refs core.TaskSecretRefs
		ok   bool
	)
	if err := m.do(r.Context(), func(c *core.Core) {
		refs, ok = c.TaskSecrets(call.AgentID, call.ConnectionID, req.FrameworkID, req.TaskID)
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if !ok {
		writeError(w, r, errorf(http.StatusNotFound, "Task '%s' of framework '%s' is not launching or running on agent '%s' registered on this connection",
			req.TaskID, req.FrameworkID, call.AgentID))
		return
	}
	out := agentproto.SecretsAnswer{Secrets: make(map[string][]byte, len(refs.Names))}
	if len(refs.Names) > 0 {
		// Checked at ACCEPT already; checked again in case the ACLs
		// changed since (a master failover with other --acls).
		use := authorizeSecret(m.cfg.Trust.ACLs)
		for _, name := range refs.Names {
			if err := use(refs.Principal, name); err != nil {
				writeError(w, r, errorf(http.StatusForbidden, "Secret '%s' of task '%s': %v", name, req.TaskID, err))
				return
			}
		}
		store, err := m.secrets.forTasks()
		if err != nil {
			writeError(w, r, err)
			return
		}
		for _, name := range refs.Names {
			v, _, err := store.Get(r.Context(), name)
			if err != nil {
				writeError(w, r, secretGetError(name, req.TaskID, err))
				return
			}
			out.Secrets[name] = v
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}
