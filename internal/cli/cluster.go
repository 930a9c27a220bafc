package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// The master's /state as the verbs read it.
type (
	masterState    = apiclient.State
	agentState     = apiclient.Agent
	frameworkState = apiclient.Framework
	taskState      = apiclient.TaskState
)

// fetchState GETs the master's /state. A standby answers /state with
// who leads ("leader_url"); the verb then reads the leader's state through
// the standby (/console/state), or else asks the leader itself and keeps
// using it for later requests.
func (r *runner) fetchState(ctx context.Context) (*masterState, []byte, error) {
	for hop := 0; ; hop++ {
		resp, err := r.master.do(ctx, http.MethodGet, "/state", nil)
		if err != nil {
			return nil, nil, err
		}
		var probe struct {
			Elected   *bool  `json:"elected"`
			LeaderURL string `json:"leader_url"`
		}
		if err := decode("master", "/state", resp.Body, &probe); err != nil {
			return nil, nil, err
		}
		if probe.Elected != nil && !*probe.Elected {
			if probe.LeaderURL == "" {
				return nil, nil, &apiError{API: "master", Status: http.StatusServiceUnavailable, Message: "the master at " + r.master.Base + " is a standby and knows no leader yet (election in progress); retry shortly"}
			}
			// A standby passes /console/state on to the leader. That works
			// where the leader's advertised address does not resolve here
			// (docker compose publishes one master), and keeps later
			// requests (the /agent/ file fallback) on this address.
			if st, body, ok := r.stateThroughStandby(ctx); ok {
				return st, body, nil
			}
			if hop > 0 {
				return nil, nil, failf("the master at %s is a standby too; no leader found", r.master.Base)
			}
			base, err := baseURL(probe.LeaderURL)
			if err != nil {
				return nil, nil, failf("the standby master names its leader as %q: %v", probe.LeaderURL, err)
			}
			r.master.Base = base
			continue
		}
		var st masterState
		if err := decode("master", "/state", resp.Body, &st); err != nil {
			return nil, nil, err
		}
		return &st, resp.Body, nil
	}
}

// stateThroughStandby reads the leader's state through the standby at
// r.master.Base; ok is false if the standby cannot pass it on.
func (r *runner) stateThroughStandby(ctx context.Context) (*masterState, []byte, bool) {
	resp, err := r.master.do(ctx, http.MethodGet, "/console/state", nil)
	if err != nil {
		return nil, nil, false
	}
	var probe struct {
		Elected *bool `json:"elected"`
	}
	var st masterState
	if decode("master", "/console/state", resp.Body, &probe) != nil || (probe.Elected != nil && !*probe.Elected) ||
		decode("master", "/console/state", resp.Body, &st) != nil {
		return nil, nil, false
	}
	return &st, resp.Body, true
}

func clusterVerbs() []*verb {
	return []*verb{
		{
			watchable: true, group: "cluster", name: "status", summary: "show the cluster's health at a glance",
			about: `Shows the leading master (its URL, version and id), agents active of
total, the frameworks, active tasks by state, resources used of total
over the active agents, and whether the services and jobs APIs answer
and are healthy. The status is printed even when a part is down; the
exit code is then 4 (an API cannot be reached or is unavailable).`,
			uses: useMaster | useServices | useJobs, maxArgs: 0,
			jsonDoc: `print a JSON object instead of text: {"master": {"url", "leader", "version", "hostname"}, ` +
				`"agents": {"active", "total", "unreachable", "draining", "deactivated"}, "quotas": {role: text}, "frameworks": [{"id", "name", "active", "tasks"}], ` +
				`"tasks": {STATE: count}, "completedTasks": {STATE: count}, "resources": {"used": {...}, "total": {...}}, ` +
				`"services": {"url", "reachable", "healthy", "version", "error"}, "jobs": {same}}`,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error { return clusterStatus },
		},
		{
			watchable: true, group: "agent", name: "list", summary: "list the agents known to the master",
			about: `One row per agent, sorted by hostname: its id, state (registered,
recovered, unreachable, gone), resources used of total, tasks, and the
endpoint its sandboxes are read from.`,
			uses: useMaster, maxArgs: 0,
			jsonDoc: `print the master's agents as JSON (the "slaves" array of GET /state)`,
			setup:   func(fs *flag.FlagSet) func(context.Context, *runner) error { return agentList },
		},
		{
			watchable: true, group: "task", name: "list", summary: "list the tasks running in the cluster",
			about: `One row per task of every framework, from the master's view: id,
framework, state, health, agent hostname, resources and ports. Sorted by
framework, then id. The health of checks the services framework runs
itself (HTTP, TCP) comes from its API when it answers. With --app, only
the tasks of that services app (exit 3 if the app does not exist).`,
			uses: useMaster | useServices, maxArgs: 0,
			jsonDoc: `print a JSON array instead of a table: [{"id", "name", "framework", "frameworkId", ` +
				`"agentId", "host", "state", "healthy", "cpus", "mem", "ports", "sandbox"}]`,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				app := fs.String("app", "", "show only the tasks of the services app `ID`")
				all := fs.Bool("all", false, "include completed (terminal) tasks the master still remembers")
				return func(ctx context.Context, r *runner) error { return taskList(ctx, r, *app, *all) }
			},
		},
		{
			group: "task", name: "logs", args: "TASK", minArgs: 1, maxArgs: 1,
			summary: "print a task's stdout (or stderr) from its sandbox",
			about: `Finds TASK (its id, or a prefix of it that matches one task) in the
master's /state, then reads the file from the task's agent
(<endpoint>/files/read). When the agent cannot be reached directly, the
file is read through the master (/agent/<agent id>/files/read).
With -f the output follows the file as it grows, until interrupted
(Ctrl-C), which exits 0.`,
			uses: useMaster,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				var follow bool
				fs.BoolVar(&follow, "follow", false, "keep printing what is appended to the file")
				fs.BoolVar(&follow, "f", false, "keep printing what is appended to the file")
				stderr := fs.Bool("stderr", false, "read the task's stderr instead of its stdout")
				return func(ctx context.Context, r *runner) error {
					file := "stdout"
					if *stderr {
						file = "stderr"
					}
					return taskLogs(ctx, r, r.args[0], file, follow)
				}
			},
		},
	}
}

// --- cluster status ----------------------------------------------------------

// apiStatus is one framework API's reachability in `cluster status`.
type apiStatus struct {
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	Healthy   bool   `json:"healthy"`
	Version   string `json:"version,omitempty"`
	Error     string `json:"error,omitempty"`
}

type frameworkStatus struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
	Tasks  int    `json:"tasks"`
}

// statusView is the --json shape of `cluster status`; keep it stable.
type statusView struct {
	Master struct {
		URL      string `json:"url"`
		Leader   string `json:"leader"`
		Version  string `json:"version"`
		Hostname string `json:"hostname"`
	} `json:"master"`
	Agents struct {
		Active      int `json:"active"`
		Total       int `json:"total"`
		Unreachable int `json:"unreachable"`
		// Draining agents are being drained; Deactivated ones (drained
		// included) take no new tasks.
		Draining    int `json:"draining"`
		Deactivated int `json:"deactivated"`
	} `json:"agents"`
	// Quotas are the roles' quotas, as "guarantee cpus 2; limit cpus 4".
	Quotas         map[string]string `json:"quotas"`
	Frameworks     []frameworkStatus `json:"frameworks"`
	Tasks          map[string]int    `json:"tasks"`
	CompletedTasks map[string]int    `json:"completedTasks"`
	Resources      struct {
		Used  map[string]float64 `json:"used"`
		Total map[string]float64 `json:"total"`
	} `json:"resources"`
	Services apiStatus `json:"services"`
	Jobs     apiStatus `json:"jobs"`
}

// summarizeState builds the status from /state (pure).
func summarizeState(st *masterState, masterURL string) statusView {
	var v statusView
	v.Master.URL, v.Master.Leader, v.Master.Version, v.Master.Hostname = masterURL, st.Leader, st.Version, st.Hostname
	v.Agents.Total, v.Agents.Unreachable = len(st.Agents), st.Unreachable
	v.Frameworks = []frameworkStatus{}
	v.Tasks, v.CompletedTasks = map[string]int{}, map[string]int{}
	v.Resources.Used, v.Resources.Total = map[string]float64{}, map[string]float64{}
	v.Quotas = map[string]string{}
	for _, q := range st.Quotas {
		var parts []string
		for _, p := range []struct {
			word string
			m    map[string]struct {
				Value float64 `json:"value"`
			}
		}{{"guarantee", q.Guarantees}, {"limit", q.Limits}} {
			var each []string
			for n, x := range p.m {
				each = append(each, n+" "+num(x.Value))
			}
			sort.Strings(each)
			if len(each) > 0 {
				parts = append(parts, p.word+" "+strings.Join(each, ", "))
			}
		}
		v.Quotas[q.Role] = strings.Join(parts, "; ")
	}
	for _, a := range st.Agents {
		if a.Deactivated {
			v.Agents.Deactivated++
		}
		if a.DrainInfo != nil && a.DrainInfo.State == "DRAINING" {
			v.Agents.Draining++
		}
		if !a.Active {
			continue
		}
		v.Agents.Active++
		for _, n := range []string{"cpus", "mem", "disk", "gpus"} {
			v.Resources.Total[n] += a.Resources.Scalar(n)
			v.Resources.Used[n] += a.Used.Scalar(n)
		}
	}
	for _, f := range st.Frameworks {
		v.Frameworks = append(v.Frameworks, frameworkStatus{ID: f.ID, Name: f.Name, Active: f.Active, Tasks: len(f.Tasks) + len(f.Unreachable)})
		for _, t := range append(append([]taskState{}, f.Tasks...), f.Unreachable...) {
			v.Tasks[t.State]++
		}
		for _, t := range f.Completed {
			v.CompletedTasks[t.State]++
		}
	}
	for _, m := range []map[string]float64{v.Resources.Used, v.Resources.Total} {
		for n, x := range m {
			m[n] = math.Round(x*1000) / 1000 // sums of 0.1s are not exact
		}
	}
	sort.Slice(v.Frameworks, func(i, j int) bool {
		if v.Frameworks[i].Name != v.Frameworks[j].Name {
			return v.Frameworks[i].Name < v.Frameworks[j].Name
		}
		return v.Frameworks[i].ID < v.Frameworks[j].ID
	})
	return v
}

// countsText renders {"TASK_RUNNING": 2} as "2 running".
func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], strings.ToLower(strings.TrimPrefix(k, "TASK_"))))
	}
	return strings.Join(parts, ", ")
}

func apiStatusText(s apiStatus) string {
	switch {
	case !s.Reachable:
		return s.URL + ": unreachable: " + s.Error
	case !s.Healthy:
		return s.URL + ": unhealthy: " + s.Error
	}
	t := s.URL + ": ok"
	if s.Version != "" {
		t += ", version " + s.Version
	}
	return t
}

// renderStatus is the text of `cluster status` (pure).
func renderStatus(v statusView) string {
	var k kv
	k.add("Master", fmt.Sprintf("%s (leader %s, version %s)", v.Master.URL, v.Master.Leader, v.Master.Version))
	agents := fmt.Sprintf("%d active of %d", v.Agents.Active, v.Agents.Total)
	if v.Agents.Unreachable > 0 {
		agents += fmt.Sprintf(" (%d unreachable)", v.Agents.Unreachable)
	}
	if v.Agents.Deactivated > 0 {
		agents += fmt.Sprintf("; %d deactivated", v.Agents.Deactivated)
		if v.Agents.Draining > 0 {
			agents += fmt.Sprintf(", %d of them draining", v.Agents.Draining)
		}
	}
	k.add("Agents", agents)
	var fws []string
	for _, f := range v.Frameworks {
		state := "active"
		if !f.Active {
			state = "inactive"
		}
		fws = append(fws, fmt.Sprintf("%s (%s, %s)", f.Name, state, plural(f.Tasks, "task", "tasks")))
	}
	if len(fws) == 0 {
		fws = []string{"none"}
	}
	k.add("Frameworks", strings.Join(fws, ", "))
	tasks := countsText(v.Tasks)
	if tasks == "" {
		tasks = "none active"
	}
	if c := countsText(v.CompletedTasks); c != "" {
		tasks += "; completed: " + c
	}
	k.add("Tasks", tasks)
	res := fmt.Sprintf("cpus %s/%s, mem %s/%s MB, disk %s/%s MB",
		num(v.Resources.Used["cpus"]), num(v.Resources.Total["cpus"]),
		num(v.Resources.Used["mem"]), num(v.Resources.Total["mem"]),
		num(v.Resources.Used["disk"]), num(v.Resources.Total["disk"]))
	if v.Resources.Total["gpus"] > 0 {
		res += fmt.Sprintf(", gpus %s/%s", num(v.Resources.Used["gpus"]), num(v.Resources.Total["gpus"]))
	}
	k.add("Resources", res)
	if len(v.Quotas) > 0 {
		roles := make([]string, 0, len(v.Quotas))
		for r := range v.Quotas {
			roles = append(roles, r)
		}
		sort.Strings(roles)
		var qs []string
		for _, r := range roles {
			qs = append(qs, r+": "+v.Quotas[r])
		}
		k.add("Quotas", strings.Join(qs, " | "))
	}
	k.add("Services", apiStatusText(v.Services))
	k.add("Jobs", apiStatusText(v.Jobs))
	return k.String()
}

// probeAPI asks a framework's /health and info endpoint.
func (r *runner) probeAPI(ctx context.Context, c *client, infoPath string) apiStatus {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s := apiStatus{URL: c.Base}
	resp, err := c.do(ctx, http.MethodGet, "/health", nil)
	var body []byte
	var ae *apiError
	switch {
	case err == nil:
		body = resp.Body
	case errors.As(err, &ae):
		body = ae.Body
	default:
		s.Error = err.Error()
		var ur *unreachableError
		if errors.As(err, &ur) {
			s.Error = ur.err.Error()
		}
		return s
	}
	s.Reachable = true
	var h struct {
		Healthy  *bool  `json:"healthy"`
		Database string `json:"database"`
	}
	if json.Unmarshal(body, &h) != nil || h.Healthy == nil {
		s.Error = "GET /health did not answer the expected JSON"
		if ae != nil {
			s.Error = ae.Error()
		}
		return s
	}
	s.Healthy = *h.Healthy
	if !s.Healthy {
		s.Error = "database: " + h.Database
	}
	var info struct {
		Version string `json:"version"`
	}
	if c.getJSON(ctx, infoPath, &info) == nil {
		s.Version = info.Version
	}
	return s
}

func clusterStatus(ctx context.Context, r *runner) error {
	st, _, err := r.fetchState(ctx)
	if err != nil {
		return err
	}
	v := summarizeState(st, r.master.Base)
	v.Services = r.probeAPI(ctx, r.services, "/v2/info")
	v.Jobs = r.probeAPI(ctx, r.jobs, "/v1/info")
	if r.json {
		err = writeJSON(r.out, v)
	} else {
		_, err = io.WriteString(r.out, renderStatus(v))
	}
	if err != nil {
		return err
	}
	for _, x := range []struct {
		name string
		s    apiStatus
	}{{"services", v.Services}, {"jobs", v.Jobs}} {
		if !x.s.Reachable {
			return &unreachableError{api: x.name, base: x.s.URL, hint: "--" + x.name + " or CORRAL_" + strings.ToUpper(x.name), err: errors.New(x.s.Error)}
		}
		if !x.s.Healthy {
			return &apiError{API: x.name, Status: http.StatusServiceUnavailable, Message: "unhealthy: " + x.s.Error}
		}
	}
	return nil
}

// --- agent list --------------------------------------------------------------

// agentTable renders `agent list` (pure).
func agentTable(agents []agentState) string {
	as := append([]agentState(nil), agents...)
	sort.Slice(as, func(i, j int) bool {
		if as[i].Hostname != as[j].Hostname {
			return as[i].Hostname < as[j].Hostname
		}
		return as[i].ID < as[j].ID
	})
	t := newTable("ID", "HOSTNAME", "STATE", "CPUS", "MEM (MB)", "DISK (MB)", "TASKS", "ENDPOINT")
	for _, a := range as {
		t.add(a.ID, a.Hostname, a.State, usedOfTotal(a.Used, a.Resources, "cpus"), usedOfTotal(a.Used, a.Resources, "mem"),
			usedOfTotal(a.Used, a.Resources, "disk"), fmt.Sprint(a.TaskCount), a.Endpoint)
	}
	return t.String()
}

func agentList(ctx context.Context, r *runner) error {
	st, raw, err := r.fetchState(ctx)
	if err != nil {
		return err
	}
	if r.json {
		var agents struct {
			Slaves json.RawMessage `json:"slaves"`
		}
		if err := decode("master", "/state", raw, &agents); err != nil {
			return err
		}
		if len(agents.Slaves) == 0 {
			agents.Slaves = json.RawMessage("[]")
		}
		return indentJSON(r.out, agents.Slaves)
	}
	_, err = io.WriteString(r.out, agentTable(st.Agents))
	return err
}
