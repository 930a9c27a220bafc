package master

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/internal/registry"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// The v1 operator API: POST /api/v1 with {"type": "GET_X" | ..., "<call>":
// {...}}, answered {"type": "GET_X", "get_x": {...}} (reads) or an empty
// 200 (changes), in Mesos' JSON shapes (include/mesos/v1/master/
// master.proto). Errors are Mesos' statuses with a plain-text reason.

// opCall is the body of POST /api/v1.
type opCall struct {
	Type            string          `json:"type"`
	DrainAgent      *opDrainAgent   `json:"drain_agent,omitempty"`
	DeactivateAgent *opAgentID      `json:"deactivate_agent,omitempty"`
	ReactivateAgent *opAgentID      `json:"reactivate_agent,omitempty"`
	MarkAgentGone   *opAgentID      `json:"mark_agent_gone,omitempty"`
	UpdateWeights   *opWeights      `json:"update_weights,omitempty"`
	Teardown        *opTeardown     `json:"teardown,omitempty"`
	GetMetrics      json.RawMessage `json:"get_metrics,omitempty"`
	UpdateQuota     *opUpdateQuota  `json:"update_quota,omitempty"`

	UpdateMaintenanceSchedule *opSchedule `json:"update_maintenance_schedule,omitempty"`
	StartMaintenance          *opMachines `json:"start_maintenance,omitempty"`
	StopMaintenance           *opMachines `json:"stop_maintenance,omitempty"`
}

type opUpdateQuota struct {
	Force        bool               `json:"force,omitempty"`
	QuotaConfigs []core.QuotaConfig `json:"quota_configs"`
}

type opAgentID struct {
	AgentID mesos.ID `json:"agent_id"`
}

// opDrainAgent is Call.DrainAgent; max_grace_period is a
// google.protobuf.Duration ({"seconds": N, "nanos": M}), as in Mesos.
type opDrainAgent struct {
	AgentID        mesos.ID `json:"agent_id"`
	MaxGracePeriod *struct {
		Seconds mesos.Int `json:"seconds"`
		Nanos   mesos.Int `json:"nanos"`
	} `json:"max_grace_period,omitempty"`
	MarkGone bool `json:"mark_gone,omitempty"`
}

type opWeights struct {
	WeightInfos []WeightInfo `json:"weight_infos"`
}

type opTeardown struct {
	FrameworkID mesos.ID `json:"framework_id"`
}

// handleOperator serves POST /api/v1.
func (m *Master) handleOperator(w http.ResponseWriter, r *http.Request) {
	if !m.awaitRecovery(w, r) {
		return
	}
	body, protobuf, err := callBody(r, true)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if protobuf {
		writeError(w, r, errorf(http.StatusUnsupportedMediaType, "The operator API speaks application/json; protobuf is not supported yet"))
		return
	}
	var call opCall
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&call); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to parse body into Call: %v", err))
		return
	}
	if accept := r.Header.Get("Accept"); accept != "" && !strings.Contains(accept, "json") && !strings.Contains(accept, "*/*") {
		writeError(w, r, errorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow application/json"))
		return
	}
	switch call.Type {
	case "GET_HEALTH":
		ok, _ := m.registrar.health()
		m.opReply(w, call.Type, map[string]any{"healthy": ok && m.recovered.Load()})
	case "GET_VERSION":
		m.opReply(w, call.Type, map[string]any{"version_info": map[string]string{"version": m.cfg.Version}})
	case "GET_FLAGS":
		if !m.authorize(w, r, acl.ViewFlags, "") {
			return
		}
		flags := m.cfg.Flags
		if flags == nil {
			flags = []Flag{}
		}
		m.opReply(w, call.Type, map[string]any{"flags": flags})
	case "GET_METRICS":
		m.opMetrics(w, r, call.Type)
	case "GET_MASTER":
		m.opReply(w, call.Type, map[string]any{"master_info": m.info, "start_time": secs(m.startedAt), "elected_time": secs(m.startedAt)})
	case "GET_AGENTS", "GET_FRAMEWORKS", "GET_TASKS", "GET_EXECUTORS", "GET_STATE":
		var snap opSnapshot
		if !m.opRead(w, r, func(c *core.Core) { snap = readSnapshot(c) }) {
			return
		}
		state := m.filterSnapshot(r, snap)
		if call.Type == "GET_STATE" {
			m.opReply(w, call.Type, state)
			return
		}
		m.opReply(w, call.Type, state[strings.ToLower(call.Type)])
	case "GET_ROLES":
		var roles []core.OpRole
		if !m.opRead(w, r, func(c *core.Core) { roles = c.OpRoles() }) {
			return
		}
		visible := []core.OpRole{}
		for _, role := range roles {
			if m.cfg.Trust.ACLs.Allowed(acl.ViewRoles, edge.Principal(r.Context()), role.Name) {
				visible = append(visible, role)
			}
		}
		m.opReply(w, call.Type, map[string]any{"roles": visible})
	case "GET_WEIGHTS":
		var ws map[string]float64
		if !m.opRead(w, r, func(c *core.Core) { ws = c.Weights() }) {
			return
		}
		infos := []WeightInfo{}
		for role, wt := range ws {
			if m.cfg.Trust.ACLs.Allowed(acl.ViewRoles, edge.Principal(r.Context()), role) {
				infos = append(infos, WeightInfo{Role: role, Weight: wt})
			}
		}
		sort.Slice(infos, func(i, j int) bool { return infos[i].Role < infos[j].Role })
		m.opReply(w, call.Type, map[string]any{"weight_infos": infos})
	case "UPDATE_WEIGHTS":
		if call.UpdateWeights == nil {
			writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting 'update_weights' to be present"))
			return
		}
		m.putWeights(w, r, call.UpdateWeights.WeightInfos)
	case "TEARDOWN":
		if call.Teardown == nil || call.Teardown.FrameworkID.Value == "" {
			writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting 'teardown.framework_id' to be present"))
			return
		}
		m.teardown(w, r, call.Teardown.FrameworkID.Value)
	case "DRAIN_AGENT":
		d := call.DrainAgent
		if d == nil || d.AgentID.Value == "" {
			writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting 'drain_agent.agent_id' to be present"))
			return
		}
		if !m.authorize(w, r, acl.DrainAgents, "") || d.MarkGone && !m.authorize(w, r, acl.MarkAgentsGone, "") {
			return
		}
		var grace *time.Duration
		if g := d.MaxGracePeriod; g != nil {
			x := time.Duration(g.Seconds)*time.Second + time.Duration(g.Nanos)
			grace = &x
		}
		m.opChange(w, r, func(c *core.Core) (core.Effects, *core.OpError) {
			return c.DrainAgent(d.AgentID.Value, grace, d.MarkGone, time.Now())
		})
	case "DEACTIVATE_AGENT", "REACTIVATE_AGENT", "MARK_AGENT_GONE":
		m.opAgentChange(w, r, &call)
	case "SUBSCRIBE":
		m.opSubscribe(w, r)
	case "GET_QUOTA":
		var qs []core.QuotaConfig
		if !m.opRead(w, r, func(c *core.Core) { qs = c.Quotas() }) {
			return
		}
		visible := []core.QuotaConfig{}
		for _, q := range qs {
			if m.cfg.Trust.ACLs.Allowed(acl.GetQuotas, edge.Principal(r.Context()), q.Role) {
				visible = append(visible, q)
			}
		}
		m.opReply(w, call.Type, map[string]any{"status": map[string]any{"configs": visible}})
	case "UPDATE_QUOTA":
		m.updateQuota(w, r, call.UpdateQuota)
	case "GET_MAINTENANCE_SCHEDULE", "GET_MAINTENANCE_STATUS", "UPDATE_MAINTENANCE_SCHEDULE", "START_MAINTENANCE", "STOP_MAINTENANCE":
		m.opMaintenance(w, r, &call)
	case "", "UNKNOWN":
		writeError(w, r, errorf(http.StatusNotImplemented, "Received 'UNKNOWN' call"))
	default:
		writeError(w, r, errorf(http.StatusNotImplemented, "Operator call %s is not supported", call.Type))
	}
}

// opAgentChange serves DEACTIVATE_AGENT, REACTIVATE_AGENT and
// MARK_AGENT_GONE.
func (m *Master) opAgentChange(w http.ResponseWriter, r *http.Request, call *opCall) {
	var (
		body *opAgentID
		act  acl.Action
		f    func(c *core.Core, id string, now time.Time) (core.Effects, *core.OpError)
	)
	switch call.Type {
	case "DEACTIVATE_AGENT":
		body, act, f = call.DeactivateAgent, acl.DeactivateAgents, (*core.Core).DeactivateAgent
	case "REACTIVATE_AGENT":
		body, act, f = call.ReactivateAgent, acl.ReactivateAgents, (*core.Core).ReactivateAgent
	default:
		body, act, f = call.MarkAgentGone, acl.MarkAgentsGone, (*core.Core).MarkAgentGone
	}
	if body == nil || body.AgentID.Value == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting '%s.agent_id' to be present", strings.ToLower(call.Type)))
		return
	}
	if !m.authorize(w, r, act, "") {
		return
	}
	m.opChange(w, r, func(c *core.Core) (core.Effects, *core.OpError) { return f(c, body.AgentID.Value, time.Now()) })
}

// opChange runs a change on the core and answers 200 once its registry
// writes are durable.
func (m *Master) opChange(w http.ResponseWriter, r *http.Request, change func(c *core.Core) (core.Effects, *core.OpError)) {
	var opErr *core.OpError
	var dones []<-chan error
	if err := m.do(r.Context(), func(c *core.Core) {
		var fx core.Effects
		fx, opErr = change(c)
		dones = m.applyDurably(fx)
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if opErr != nil {
		writeError(w, r, errorf(opErr.Code, "%s", opErr.Message))
		return
	}
	if !m.awaitDurable(w, r, dones) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

// opRead runs a read on the core; false means it answered an error.
func (m *Master) opRead(w http.ResponseWriter, r *http.Request, read func(c *core.Core)) bool {
	if err := m.do(r.Context(), read); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return false
	}
	return true
}

// opReply writes {"type": typ, "<typ in lower case>": v}.
func (m *Master) opReply(w http.ResponseWriter, typ string, v any) {
	writeJSON(w, http.StatusOK, map[string]any{"type": typ, strings.ToLower(typ): v})
}

// opMetrics serves GET_METRICS from the master's Prometheus registry:
// counters and gauges by name (with their labels), histograms and
// summaries by their count and sum.
func (m *Master) opMetrics(w http.ResponseWriter, r *http.Request, typ string) {
	if !m.authorize(w, r, acl.GetEndpoints, "/metrics") {
		return
	}
	families, err := m.metrics.reg.Gather()
	if err != nil {
		writeError(w, r, err)
		return
	}
	type metric struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	}
	out := []metric{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			name := f.GetName()
			for _, l := range mt.GetLabel() {
				name += "/" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.Counter != nil:
				out = append(out, metric{name, mt.GetCounter().GetValue()})
			case mt.Gauge != nil:
				out = append(out, metric{name, mt.GetGauge().GetValue()})
			case mt.Histogram != nil:
				out = append(out, metric{name + "/count", float64(mt.GetHistogram().GetSampleCount())}, metric{name + "/sum", mt.GetHistogram().GetSampleSum()})
			case mt.Summary != nil:
				out = append(out, metric{name + "/count", float64(mt.GetSummary().GetSampleCount())}, metric{name + "/sum", mt.GetSummary().GetSampleSum()})
			case mt.Untyped != nil:
				out = append(out, metric{name, mt.GetUntyped().GetValue()})
			}
		}
	}
	m.opReply(w, typ, map[string]any{"metrics": out})
}

// updateQuota serves UPDATE_QUOTA: all of the configs or none; 200 once
// they are durable and in force.
func (m *Master) updateQuota(w http.ResponseWriter, r *http.Request, u *opUpdateQuota) {
	if u == nil || len(u.QuotaConfigs) == 0 {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting 'update_quota.quota_configs' to be present"))
		return
	}
	for _, q := range u.QuotaConfigs {
		if q.Role != "" {
			if err := validateRole(q.Role); err != nil {
				writeError(w, r, errorf(http.StatusBadRequest, "Invalid QuotaConfig: role %q: %v", q.Role, err))
				return
			}
		}
		if !m.authorize(w, r, acl.UpdateQuotas, q.Role) {
			return
		}
	}
	var refusal string
	if !m.opRead(w, r, func(c *core.Core) { refusal = c.CheckQuota(u.QuotaConfigs, u.Force) }) {
		return
	}
	if refusal != "" {
		writeError(w, r, errorf(http.StatusBadRequest, "Invalid QuotaConfig: %s", refusal))
		return
	}
	var dones []<-chan error
	for _, q := range u.QuotaConfigs {
		role := q.Role
		g, l := q.Plain()
		rq := registry.Quota{Guarantees: g, Limits: l}
		dones = append(dones, m.registrar.enqueue("quota "+role, func(ctx context.Context) error { return m.store.SetQuota(ctx, role, rq) }))
	}
	if !m.awaitDurable(w, r, dones) {
		return
	}
	if !m.opRead(w, r, func(c *core.Core) {
		for _, q := range u.QuotaConfigs {
			g, l := q.Plain()
			m.apply(c.SetQuota(q.Role, g, l, time.Now()))
		}
	}) {
		return
	}
	w.WriteHeader(http.StatusOK)
}
