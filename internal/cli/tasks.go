package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// --- task list ---------------------------------------------------------------

// taskRow is one task of `task list`, and its --json shape; keep it stable.
type taskRow struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Framework   string  `json:"framework"`
	FrameworkID string  `json:"frameworkId"`
	AgentID     string  `json:"agentId"`
	Host        string  `json:"host"`
	State       string  `json:"state"`
	Healthy     *bool   `json:"healthy"`
	CPUs        float64 `json:"cpus"`
	Mem         float64 `json:"mem"`
	Ports       string  `json:"ports"`
	Sandbox     string  `json:"sandbox"`
}

// taskRows lists the tasks of /state (active ones, and completed ones with
// all), sorted by framework name then id (pure).
func taskRows(st *masterState, all bool) []taskRow {
	hosts := map[string]string{}
	for _, a := range st.Agents {
		hosts[a.ID] = a.Hostname
	}
	var rows []taskRow
	add := func(f frameworkState, ts []taskState) {
		for _, t := range ts {
			rows = append(rows, taskRow{ID: t.ID, Name: t.Name, Framework: f.Name, FrameworkID: f.ID, AgentID: t.AgentID,
				Host: hosts[t.AgentID], State: t.State, Healthy: t.Healthy, CPUs: t.Resources.Scalar("cpus"),
				Mem: t.Resources.Scalar("mem"), Ports: portsText(t.Resources), Sandbox: t.Sandbox})
		}
	}
	fws := st.Frameworks
	if all {
		fws = append(append([]frameworkState{}, st.Frameworks...), st.Completed...)
	}
	for _, f := range fws {
		add(f, f.Tasks)
		add(f, f.Unreachable)
		if all {
			add(f, f.Completed)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Framework != rows[j].Framework {
			return rows[i].Framework < rows[j].Framework
		}
		return rows[i].ID < rows[j].ID
	})
	return rows
}

func healthText(h *bool) string {
	switch {
	case h == nil:
		return ""
	case *h:
		return "healthy"
	}
	return "unhealthy"
}

// qty is num, or "" for 0 (not known).
func qty(f float64) string {
	if f == 0 {
		return ""
	}
	return num(f)
}

// taskTable renders `task list` (pure).
func taskTable(rows []taskRow) string {
	t := newTable("ID", "FRAMEWORK", "STATE", "HEALTH", "HOST", "CPUS", "MEM", "PORTS")
	for _, x := range rows {
		t.add(x.ID, x.Framework, x.State, healthText(x.Healthy), x.Host, qty(x.CPUs), qty(x.Mem), x.Ports)
	}
	return t.String()
}

// servicesTask is a task as the services API shows it.
type servicesTask = apiclient.Task

// taskPorts renders a task's host ports: "31000,31001".
func taskPorts(t servicesTask) string {
	var ps []string
	for _, p := range t.Ports {
		ps = append(ps, fmt.Sprint(p))
	}
	return strings.Join(ps, ",")
}

func taskList(ctx context.Context, r *runner, app string, all bool) error {
	var only map[string]servicesTask
	if app != "" {
		id := canonicalApp(app)
		var body struct {
			Tasks []servicesTask `json:"tasks"`
		}
		if err := r.services.getJSON(ctx, appPath(id)+"/tasks", &body); err != nil {
			return err
		}
		only = map[string]servicesTask{}
		for _, t := range body.Tasks {
			only[t.ID] = t
		}
	}
	st, _, err := r.fetchState(ctx)
	if err != nil {
		return err
	}
	rows := taskRows(st, all || only != nil)
	// The master knows the health only of checks the agents run; the
	// services framework runs HTTP and TCP checks itself.
	health := map[string]*bool{}
	if only == nil {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var body struct {
			Tasks []servicesTask `json:"tasks"`
		}
		if r.services.getJSON(hctx, "/v2/tasks", &body) == nil {
			for _, t := range body.Tasks {
				health[t.ID] = t.Healthy()
			}
		}
		cancel()
	}
	for _, t := range only {
		health[t.ID] = t.Healthy()
	}
	for i := range rows {
		if h := health[rows[i].ID]; h != nil {
			rows[i].Healthy = h
		}
	}
	if only != nil {
		seen := map[string]bool{}
		var kept []taskRow
		for _, x := range rows {
			if _, ok := only[x.ID]; ok && !seen[x.ID] {
				seen[x.ID] = true
				kept = append(kept, x)
			}
		}
		// A task the framework just launched may not be in /state yet.
		for _, t := range only {
			if !seen[t.ID] {
				kept = append(kept, taskRow{ID: t.ID, Framework: "services", AgentID: t.SlaveID, Host: t.Host, State: t.State, Healthy: t.Healthy(), Ports: taskPorts(t)})
			}
		}
		sort.Slice(kept, func(i, j int) bool { return kept[i].ID < kept[j].ID })
		rows = kept
	}
	if r.json {
		if rows == nil {
			rows = []taskRow{}
		}
		return writeJSON(r.out, rows)
	}
	_, err = io.WriteString(r.out, taskTable(rows))
	return err
}

// --- task logs ---------------------------------------------------------------

// findTask finds a task by id, or by an id prefix that matches one task,
// among all tasks /state knows.
func findTask(st *masterState, id string) (taskRow, error) {
	rows := taskRows(st, true)
	var matches []taskRow
	for _, x := range rows {
		if x.ID == id {
			return x, nil
		}
		if strings.HasPrefix(x.ID, id) {
			matches = append(matches, x)
		}
	}
	switch len(matches) {
	case 0:
		return taskRow{}, notFoundf("no task %q is known to the master", id)
	case 1:
		return matches[0], nil
	}
	var ids []string
	for _, m := range matches {
		ids = append(ids, m.ID)
	}
	return taskRow{}, usagef("task id prefix %q matches %d tasks: %s", id, len(ids), strings.Join(ids, ", "))
}

// fileReader reads a sandbox file from the agent, or through the master
// when the agent cannot be reached.
type fileReader struct {
	agent   *client // nil when the agent has no endpoint
	master  *client
	agentID string
	path    string
	viaMast bool
}

// read returns the file's bytes from offset (length -1: its size only, as
// the offset of the answer, with no data).
func (f *fileReader) read(ctx context.Context, offset, length int64) (data string, off int64, err error) {
	q := url.Values{"path": {f.path}, "offset": {fmt.Sprint(offset)}, "length": {fmt.Sprint(length)}}
	if offset < 0 {
		q.Del("length")
	}
	var out struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if !f.viaMast && f.agent != nil {
		err = f.agent.getJSON(ctx, "/files/read?"+q.Encode(), &out)
		if err == nil || !isUnreachable(err) {
			return out.Data, out.Offset, err
		}
		f.viaMast = true
	}
	merr := f.master.getJSON(ctx, "/agent/"+url.PathEscape(f.agentID)+"/files/read?"+q.Encode(), &out)
	if merr != nil && err != nil {
		return "", 0, fmt.Errorf("%w; through the master: %v", err, merr)
	}
	return out.Data, out.Offset, merr
}

// chunk is how much one /files/read asks for.
const chunk = 1 << 20

func taskLogs(ctx context.Context, r *runner, id, file string, follow bool) error {
	st, _, err := r.fetchState(ctx)
	if err != nil {
		return err
	}
	t, err := findTask(st, id)
	if err != nil {
		return err
	}
	if t.Sandbox == "" {
		return notFoundf("the master knows no sandbox for task %s (its agent did not report a work dir)", t.ID)
	}
	fr := &fileReader{master: r.master, agentID: t.AgentID, path: strings.TrimRight(t.Sandbox, "/") + "/" + file}
	for _, a := range st.Agents {
		if a.ID == t.AgentID && a.Endpoint != "" {
			if base, err := baseURL(a.Endpoint); err == nil {
				fr.agent = &client{Client: apiclient.New("agent", base, r.hc)}
			}
		}
	}
	var off int64
	for {
		size, err := copyNew(ctx, fr, off, r.out)
		off = size // what was written stays written, error or not
		switch {
		case err == nil:
		case follow && ctx.Err() != nil:
			return nil
		case follow && isStatus(err, http.StatusNotFound):
			// Not created yet: the task is still being set up.
		case isStatus(err, http.StatusNotFound):
			return notFoundf("task %s has no %s in its sandbox %s (yet): %v", t.ID, file, t.Sandbox, err)
		default:
			return err
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.poll):
		}
	}
}

// copyNew writes what the file holds past off and returns the offset of
// its end. The size is asked first and then read in chunks of known
// length, so offsets count the file's bytes even where the file server
// had to replace invalid UTF-8. A file that shrank was rotated (the
// agent moved it to <file>.1 and began anew): the rest of <file>.1 from
// off is written first, then the new file from its start; without a
// <file>.1 that long it was truncated, and is read again from the start.
func copyNew(ctx context.Context, fr *fileReader, off int64, w io.Writer) (int64, error) {
	_, size, err := fr.read(ctx, -1, -1)
	if err != nil {
		return off, err
	}
	if size < off {
		rotated := *fr
		rotated.path = fr.path + ".1"
		if _, rsize, err := rotated.read(ctx, -1, -1); err == nil && rsize >= off {
			if _, err := copyRange(ctx, &rotated, off, rsize, w); err != nil {
				return off, err
			}
			fr.viaMast = rotated.viaMast
		}
		off = 0
	}
	return copyRange(ctx, fr, off, size, w)
}

// copyRange writes the file's bytes from off to end and returns the
// offset reached.
func copyRange(ctx context.Context, fr *fileReader, off, size int64, w io.Writer) (int64, error) {
	for off < size {
		n := min(size-off, chunk)
		data, _, err := fr.read(ctx, off, n)
		if err != nil {
			return off, err
		}
		if _, err := io.WriteString(w, data); err != nil {
			return off, err
		}
		off += n
	}
	return off, nil
}
