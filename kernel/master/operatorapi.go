package master

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/internal/registry"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// The v1 operator API: POST /api/v1 with a mesos.v1.master.Call,
// {"type": "GET_X" | ..., "<call>": {...}} in JSON or its protobuf form
// (Content-Type application/x-protobuf), answered with a Response,
// {"type": "GET_X", "get_x": {...}} (reads), or an empty 200 (changes),
// in Mesos' shapes (include/mesos/v1/master/master.proto). The answer is
// JSON unless the request's Accept allows only protobuf; SUBSCRIBE's
// stream likewise. Errors are Mesos' statuses with a plain-text reason.
// The JSON and protobuf forms are the same typed values: the json tags
// carry the proto field names, the pb tags their numbers (package
// mesospb).

// opCall is the body of POST /api/v1: Call, with the fields of the calls
// corral serves.
type opCall struct {
	Type            string          `json:"type" pb:"1,enum=OperatorCallType"`
	DrainAgent      *opDrainAgent   `json:"drain_agent,omitempty" pb:"21"`
	DeactivateAgent *opAgentID      `json:"deactivate_agent,omitempty" pb:"22"`
	ReactivateAgent *opAgentID      `json:"reactivate_agent,omitempty" pb:"23"`
	MarkAgentGone   *opAgentID      `json:"mark_agent_gone,omitempty" pb:"17"`
	UpdateWeights   *opWeights      `json:"update_weights,omitempty" pb:"6"`
	Teardown        *opTeardown     `json:"teardown,omitempty" pb:"16"`
	GetMetrics      json.RawMessage `json:"get_metrics,omitempty" pb:"2,raw"` // its timeout is not honoured
	UpdateQuota     *opUpdateQuota  `json:"update_quota,omitempty" pb:"20"`

	UpdateMaintenanceSchedule *opSchedule `json:"update_maintenance_schedule,omitempty" pb:"11"`
	StartMaintenance          *opMachines `json:"start_maintenance,omitempty" pb:"12"`
	StopMaintenance           *opMachines `json:"stop_maintenance,omitempty" pb:"13"`
}

// opUpdateQuota is Call.UpdateQuota.
type opUpdateQuota struct {
	Force        bool               `json:"force,omitempty" pb:"1"`
	QuotaConfigs []core.QuotaConfig `json:"quota_configs" pb:"2"`
}

// opAgentID is Call.DeactivateAgent, ReactivateAgent and MarkAgentGone.
type opAgentID struct {
	AgentID mesos.ID `json:"agent_id" pb:"1,req"`
}

// opDrainAgent is Call.DrainAgent.
type opDrainAgent struct {
	AgentID        mesos.ID    `json:"agent_id" pb:"1,req"`
	MaxGracePeriod *opDuration `json:"max_grace_period,omitempty" pb:"2"`
	MarkGone       bool        `json:"mark_gone,omitempty" pb:"3"`
}

// opDuration is a google.protobuf.Duration ({"seconds": N, "nanos": M}),
// which DRAIN_AGENT's max_grace_period is, in Mesos' JSON as in protobuf.
type opDuration struct {
	Seconds mesos.Int `json:"seconds" pb:"1"`
	Nanos   mesos.Int `json:"nanos" pb:"2"`
}

// opWeights is Call.UpdateWeights.
type opWeights struct {
	WeightInfos []WeightInfo `json:"weight_infos" pb:"1"`
}

// opTeardown is Call.Teardown.
type opTeardown struct {
	FrameworkID mesos.ID `json:"framework_id" pb:"1,req"`
}

// opAnswerType is the media type of the answers to r: JSON if its Accept
// allows it (an absent Accept allows anything), else protobuf if it
// allows that, else "" (406), as Mesos' Master::Http::api decides.
func opAnswerType(r *http.Request) string { return mesospb.StreamType(r.Header.Get("Accept")) }

// decodeOpCall parses a Call in JSON or (protobuf) its binary form.
func decodeOpCall(body []byte, protobuf bool) (opCall, error) {
	var call opCall
	if protobuf {
		if err := mesospb.Unmarshal(body, &call); err != nil {
			return opCall{}, errorf(http.StatusBadRequest, "Failed to parse body into Call protobuf: %v", err)
		}
		return call, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&call); err != nil {
		return opCall{}, errorf(http.StatusBadRequest, "Failed to parse body into Call: %v", err)
	}
	return call, nil
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
	call, err := decodeOpCall(body, protobuf)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if opAnswerType(r) == "" {
		writeError(w, r, errorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow '%s' or 'application/json'", mesospb.MediaType))
		return
	}
	reply := func(resp *opResponse) {
		resp.Type = call.Type
		m.opReply(w, r, resp)
	}
	switch call.Type {
	case "GET_HEALTH":
		ok, _ := m.registrar.health()
		reply(&opResponse{GetHealth: &opGetHealth{Healthy: ok && m.recovered.Load()}})
	case "GET_VERSION":
		reply(&opResponse{GetVersion: &opGetVersion{VersionInfo: opVersionInfo{Version: m.cfg.Version}}})
	case "GET_FLAGS":
		if !m.authorize(w, r, acl.ViewFlags, "") {
			return
		}
		flags := m.cfg.Flags
		if flags == nil {
			flags = []Flag{}
		}
		reply(&opResponse{GetFlags: &opGetFlags{Flags: flags}})
	case "GET_METRICS":
		if metrics, ok := m.opMetrics(w, r); ok {
			reply(&opResponse{GetMetrics: metrics})
		}
	case "GET_MASTER":
		reply(&opResponse{GetMaster: &opGetMaster{MasterInfo: m.info, StartTime: secs(m.startedAt), ElectedTime: secs(m.startedAt)}})
	case "GET_AGENTS", "GET_FRAMEWORKS", "GET_TASKS", "GET_EXECUTORS", "GET_STATE":
		var snap opSnapshot
		if !m.opRead(w, r, func(c *core.Core) { snap = readSnapshot(c) }) {
			return
		}
		state := m.filterSnapshot(r, snap)
		switch call.Type {
		case "GET_AGENTS":
			reply(&opResponse{GetAgents: &state.GetAgents})
		case "GET_FRAMEWORKS":
			reply(&opResponse{GetFrameworks: &state.GetFrameworks})
		case "GET_TASKS":
			reply(&opResponse{GetTasks: &state.GetTasks})
		case "GET_EXECUTORS":
			reply(&opResponse{GetExecutors: &state.GetExecutors})
		default:
			if opAnswerType(r) == mesospb.MediaType {
				reply(&opResponse{GetState: state})
				return
			}
			// Streamed, as writeJSON would write it; a failure here is
			// the client going away.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_ = writeGetState(w, call.Type, state)
		}
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
		reply(&opResponse{GetRoles: &opGetRoles{Roles: visible}})
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
		reply(&opResponse{GetWeights: &opGetWeights{WeightInfos: infos}})
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
		reply(&opResponse{GetQuota: &opGetQuota{Status: opQuotaStatus{Configs: visible}}})
	case "UPDATE_QUOTA":
		m.updateQuota(w, r, call.UpdateQuota)
	case "GET_MAINTENANCE_SCHEDULE":
		if s, ok := m.maintenanceSchedule(w, r); ok {
			reply(&opResponse{GetMaintenanceSchedule: &opGetMaintenanceSchedule{Schedule: s}})
		}
	case "GET_MAINTENANCE_STATUS":
		if s, ok := m.maintenanceStatus(w, r); ok {
			reply(&opResponse{GetMaintenanceStatus: &opGetMaintenanceStatus{Status: s}})
		}
	case "UPDATE_MAINTENANCE_SCHEDULE", "START_MAINTENANCE", "STOP_MAINTENANCE":
		m.opMaintenanceChange(w, r, &call)
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

// opReply writes resp with status 200 in the media type opAnswerType
// picks for r (handleOperator has refused a request for which it picks
// none).
func (m *Master) opReply(w http.ResponseWriter, r *http.Request, resp *opResponse) {
	if opAnswerType(r) != mesospb.MediaType {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	b, err := mesospb.Marshal(resp)
	if err != nil {
		writeError(w, r, fmt.Errorf("encoding the %s response: %w", resp.Type, err))
		return
	}
	w.Header().Set("Content-Type", mesospb.MediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// opMetrics reads GET_METRICS from the master's Prometheus registry:
// counters and gauges by name (with their labels), histograms and
// summaries by their count and sum. False means it answered an error.
func (m *Master) opMetrics(w http.ResponseWriter, r *http.Request) (*opGetMetrics, bool) {
	if !m.authorize(w, r, acl.GetEndpoints, "/metrics") {
		return nil, false
	}
	families, err := m.metrics.reg.Gather()
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	out := []opMetric{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			name := f.GetName()
			for _, l := range mt.GetLabel() {
				name += "/" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.Counter != nil:
				out = append(out, opMetric{name, mt.GetCounter().GetValue()})
			case mt.Gauge != nil:
				out = append(out, opMetric{name, mt.GetGauge().GetValue()})
			case mt.Histogram != nil:
				out = append(out, opMetric{name + "/count", float64(mt.GetHistogram().GetSampleCount())}, opMetric{name + "/sum", mt.GetHistogram().GetSampleSum()})
			case mt.Summary != nil:
				out = append(out, opMetric{name + "/count", float64(mt.GetSummary().GetSampleCount())}, opMetric{name + "/sum", mt.GetSummary().GetSampleSum()})
			case mt.Untyped != nil:
				out = append(out, opMetric{name, mt.GetUntyped().GetValue()})
			}
		}
	}
	return &opGetMetrics{Metrics: out}, true
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
