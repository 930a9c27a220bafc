package agent

import (
	"context"
	"corral/internal/acl"
	"corral/kernel/agent/task"
	"net/http"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"corral/internal/edge"
	"corral/kernel/agent/health"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// routes is the agent's HTTP API.
func (a *Agent) routes() http.Handler {
	a.metrics.reg.MustRegister(taskStates{
		desc: prometheus.NewDesc("corral_agent_tasks", "Tasks known to the agent, by state.", []string{"state"}, nil),
		count: func() map[string]int {
			out := map[string]int{}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			a.ask(ctx, func(l *loop) {
				for s, n := range l.counts {
					if n > 0 {
						out[string(s)] = n
					}
				}
			})
			return out
		},
	})
	r := chi.NewRouter()
	r.Get("/health", a.health)
	r.Get("/state", a.state)
	for _, p := range executorAPIPaths {
		r.Post(p, a.handleExecutor)
	}
	r.Method(http.MethodGet, "/metrics", a.guardEndpoint("/metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})))
	a.files.Authorize = a.authorizeSandbox
	files := a.files.Routes()
	r.Method(http.MethodGet, "/files/*", files)
	// Go's profiler and expvars, for operators chasing launch latency
	// (Mesos serves /profiler for the same reason); only when asked for,
	// as profiles reveal the process's internals and cost CPU.
	if a.cfg.EnableDebug {
		r.Mount("/debug", a.guardEndpoint("/debug", middleware.Profiler()))
	}
	return r
}

func (a *Agent) health(w http.ResponseWriter, r *http.Request) {
	edge.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// State is the body of GET /state.
type State struct {
	ID             string                 `json:"id"`
	Hostname       string                 `json:"hostname"`
	Endpoint       string                 `json:"endpoint"`
	Registered     bool                   `json:"registered"`
	Master         string                 `json:"master,omitempty"`
	Resources      []mesos.Resource       `json:"resources"`
	ResourcesText  string                 `json:"resources_text"`
	Attributes     []mesos.Attribute      `json:"attributes,omitempty"`
	Cgroups        agentproto.CgroupsMode `json:"cgroups"`
	CgroupsReason  string                 `json:"cgroups_reason,omitempty"`
	WorkDir        string                 `json:"work_dir"`
	PendingUpdates int                    `json:"pending_updates"`
	Tasks          []TaskState            `json:"tasks"`
	CompletedTasks []completedTask        `json:"completed_tasks"`
	Executors      []ExecutorState        `json:"executors"`
}

// ExecutorState is one custom executor in State.
type ExecutorState struct {
	FrameworkID string           `json:"framework_id"`
	ExecutorID  string           `json:"executor_id"`
	Name        string           `json:"name,omitempty"`
	State       string           `json:"state"` // launching, registering, subscribed or terminating
	Sandbox     string           `json:"sandbox"`
	PID         int              `json:"pid,omitempty"`
	Resources   []mesos.Resource `json:"resources,omitempty"`
	Tasks       []string         `json:"tasks"`
	// Codec is that of its subscription ("json" or "protobuf"), while
	// it has one.
	Codec string `json:"codec,omitempty"`
}

// String is the state as ExecutorState names it.
func (s execState) String() string {
	switch s {
	case execLaunching:
		return "launching"
	case execRegistering:
		return "registering"
	case execSubscribed:
		return "subscribed"
	}
	return "terminating"
}

// TaskState is one task in State.
type TaskState struct {
	FrameworkID    string           `json:"framework_id"`
	TaskID         string           `json:"task_id"`
	Name           string           `json:"name,omitempty"`
	State          mesos.TaskState  `json:"state"`
	Message        string           `json:"message,omitempty"`
	Sandbox        string           `json:"sandbox,omitempty"`
	PID            int              `json:"pid,omitempty"`
	KillRequested  bool             `json:"kill_requested,omitempty"`
	PendingUpdates int              `json:"pending_updates"`
	Resources      []mesos.Resource `json:"resources,omitempty"`
	// Health is "unknown", "healthy" or "unhealthy" for a task with a
	// health check; Healthy is the same as in a TaskStatus (absent while
	// unknown), and HealthFailures counts the consecutive failed checks.
	Health         string `json:"health,omitempty"`
	Healthy        *bool  `json:"healthy,omitempty"`
	HealthFailures int    `json:"health_failures,omitempty"`
}

func (a *Agent) state(w http.ResponseWriter, r *http.Request) {
	info := a.info()
	st := State{
		Hostname: info.Hostname, Endpoint: info.Endpoint, Resources: info.Resources, ResourcesText: a.resources.String(),
		Attributes: info.Attributes, Cgroups: info.Cgroups, CgroupsReason: info.CgroupsReason, WorkDir: info.WorkDir,
		Tasks: []TaskState{}, CompletedTasks: []completedTask{}, Executors: []ExecutorState{},
	}
	acls, principal := a.cfg.Trust.ACLs, edge.Principal(r.Context())
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := a.ask(ctx, func(l *loop) {
		st.ID = l.agentID
		if l.session != nil {
			st.Registered, st.Master = true, l.session.base
		}
		st.PendingUpdates = l.updates.Pending()
		for k, e := range l.tasks {
			if acls != nil && e.info != nil && !acls.Allowed(acl.ViewTasks, principal, task.User(e.info, e.framework)) {
				continue // view_tasks: left out, as the master's /state does
			}
			ts := TaskState{FrameworkID: k.FrameworkID, TaskID: k.TaskID, State: e.state, Message: e.status.Message,
				Sandbox: e.sandbox, PID: e.proc.PID, KillRequested: e.killed, PendingUpdates: l.updates.PendingOf(k)}
			if e.info != nil {
				ts.Name, ts.Resources = e.info.Name, e.info.Resources
			}
			if e.info != nil && e.info.HealthCheck != nil {
				h := health.StatusOf(e.status.Healthy)
				if e.health != nil {
					h, ts.HealthFailures = e.health.tracker.Status(), e.health.tracker.Failures()
				}
				ts.Health, ts.Healthy = h.String(), h.Healthy()
			}
			st.Tasks = append(st.Tasks, ts)
		}
		if acls.Grants(acl.ViewTasks, principal) {
			st.CompletedTasks = append(st.CompletedTasks, l.completed...)
		}
		for _, ex := range l.executors {
			if acls != nil && !acls.Allowed(acl.ViewTasks, principal, task.User(task.ExecutorTask(&ex.info), ex.framework)) {
				continue
			}
			es := ExecutorState{FrameworkID: ex.key.FrameworkID, ExecutorID: ex.key.ExecutorID, Name: ex.info.Name, State: ex.state.String(),
				Sandbox: ex.sandbox, PID: ex.proc.PID, Resources: ex.info.Resources, Tasks: []string{}}
			if ex.stream != nil {
				es.Codec = ex.stream.codec
			}
			for k := range ex.tasks {
				es.Tasks = append(es.Tasks, k.TaskID)
			}
			sort.Strings(es.Tasks)
			st.Executors = append(st.Executors, es)
		}
	})
	if err != nil {
		edge.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "agent is not running: " + err.Error()})
		return
	}
	sort.Slice(st.Tasks, func(i, j int) bool {
		if st.Tasks[i].FrameworkID != st.Tasks[j].FrameworkID {
			return st.Tasks[i].FrameworkID < st.Tasks[j].FrameworkID
		}
		return st.Tasks[i].TaskID < st.Tasks[j].TaskID
	})
	sort.Slice(st.Executors, func(i, j int) bool {
		if st.Executors[i].FrameworkID != st.Executors[j].FrameworkID {
			return st.Executors[i].FrameworkID < st.Executors[j].FrameworkID
		}
		return st.Executors[i].ExecutorID < st.Executors[j].ExecutorID
	})
	edge.WriteJSON(w, http.StatusOK, st)
}
