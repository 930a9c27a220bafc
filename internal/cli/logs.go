package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// logsVerbs are `app logs` and `job logs`: the stdout and stderr of an
// app's tasks or of a job's run together, each line prefixed with where
// it comes from.
func logsVerbs() []*verb {
	followFlags := func(fs *flag.FlagSet) *bool {
		var follow bool
		fs.BoolVar(&follow, "follow", false, "keep printing what is appended, until interrupted (Ctrl-C exits 0)")
		fs.BoolVar(&follow, "f", false, "short for --follow")
		return &follow
	}
	return []*verb{
		{
			group: "app", name: "logs", args: "ID", minArgs: 1, maxArgs: 1,
			summary: "print the stdout and stderr of an app's tasks",
			about: `Reads the stdout and stderr of each of the app's tasks (GET
/v2/apps/ID/tasks) from their sandboxes, as 'corral task logs' does, and
prints every line prefixed with the task and the stream ("hello.3f2a9c1e
stderr| ..."): all of each file, task by task, then with -f what is
appended to any of them as it comes. --task narrows it to the tasks whose
id begins so.`,
			uses: useMaster | useServices,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				follow := followFlags(fs)
				task := fs.String("task", "", "only the tasks whose id begins with `PREFIX`")
				return func(ctx context.Context, r *runner) error {
					return appLogs(ctx, r, canonicalApp(r.args[0]), *task, *follow)
				}
			},
		},
		{
			group: "job", name: "logs", args: "NAME [RUN]", minArgs: 1, maxArgs: 2,
			summary: "print the stdout and stderr of a job's run",
			about: `Reads the stdout and stderr of run RUN of job NAME (without RUN, its
newest run that has a task) from the run's sandbox through the master,
every line prefixed with its stream ("stderr| ..."); with -f, what is
appended as it comes.`,
			uses: useMaster | useJobs,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				follow := followFlags(fs)
				return func(ctx context.Context, r *runner) error { return jobLogs(ctx, r, r.args[0], r.args[1:], *follow) }
			},
		},
	}
}

// logStream is one sandbox file being copied, line by line with a
// prefix, to the output.
type logStream struct {
	fr  *fileReader
	off int64
	out *prefixWriter
}

// prefixWriter writes whole lines, each after prefix; a last line without
// its newline waits for the rest (or for flush). Not safe for concurrent
// use.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial[:i]); err != nil {
			return len(b), err
		}
		p.partial = p.partial[i+1:]
	}
}

// flush writes a last line that has no newline yet.
func (p *prefixWriter) flush() {
	if len(p.partial) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial)
		p.partial = nil
	}
}

// streamsOf returns the stdout and stderr of a task's sandbox, read from
// its agent (agent nil: through the master), with prefix before the
// stream's name.
func (r *runner) streamsOf(agent *client, agentID, sandbox, prefix string) []*logStream {
	var out []*logStream
	for _, file := range []string{"stdout", "stderr"} {
		out = append(out, &logStream{
			fr:  &fileReader{agent: agent, master: r.master, agentID: agentID, path: strings.TrimRight(sandbox, "/") + "/" + file},
			out: &prefixWriter{w: r.out, prefix: prefix + file + "| "},
		})
	}
	return out
}

// copyStreams prints what each stream holds past what it printed before,
// and with follow keeps doing so every poll until ctx ends. A file not
// there (yet) is passed over; another failure is told once on stderr
// and the rest go on.
func (r *runner) copyStreams(ctx context.Context, streams []*logStream, follow bool) error {
	told := map[*logStream]string{}
	for {
		for _, s := range streams {
			size, err := copyNew(ctx, s.fr, s.off, s.out)
			s.off = size
			switch {
			case err == nil, isStatus(err, http.StatusNotFound):
			case ctx.Err() != nil:
				return nil
			case told[s] != err.Error():
				told[s] = err.Error()
				fmt.Fprintf(r.errw, "%s: %v\n", s.fr.path, err)
			}
			if !follow {
				s.out.flush()
			}
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

// shortTask is a task id cut for a line prefix: a services task id
// "APP.UUID" keeps 8 characters of its UUID.
func shortTask(id string) string {
	if i := strings.LastIndexByte(id, '.'); i >= 0 && len(id)-i-1 > 8 {
		return id[:i+9]
	}
	return id
}

func appLogs(ctx context.Context, r *runner, id, taskPrefix string, follow bool) error {
	var body struct {
		Tasks []servicesTask `json:"tasks"`
	}
	if err := r.services.getJSON(ctx, appPath(id)+"/tasks", &body); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return notFoundf("app %s does not exist", id)
		}
		return err
	}
	wanted := map[string]bool{}
	for _, t := range body.Tasks {
		if strings.HasPrefix(t.ID, taskPrefix) {
			wanted[t.ID] = true
		}
	}
	if len(wanted) == 0 {
		if taskPrefix != "" {
			return notFoundf("app %s has no task whose id begins with %q", id, taskPrefix)
		}
		return notFoundf("app %s has no tasks", id)
	}
	st, _, err := r.fetchState(ctx)
	if err != nil {
		return err
	}
	agents := map[string]*client{}
	for _, a := range st.Agents {
		if base, err := baseURL(a.Endpoint); a.Endpoint != "" && err == nil {
			agents[a.ID] = &client{Client: apiclient.New("agent", base, r.hc)}
		}
	}
	var streams []*logStream
	for _, t := range taskRows(st, true) {
		if !wanted[t.ID] || t.Sandbox == "" {
			continue
		}
		delete(wanted, t.ID) // a task may be listed twice (active, completed)
		streams = append(streams, r.streamsOf(agents[t.AgentID], t.AgentID, t.Sandbox, shortTask(t.ID)+" ")...)
	}
	if len(streams) == 0 {
		return notFoundf("the master knows no sandbox of app %s's tasks (yet)", id)
	}
	return r.copyStreams(ctx, streams, follow)
}

func jobLogs(ctx context.Context, r *runner, name string, runArg []string, follow bool) error {
	var run runView
	if len(runArg) > 0 {
		n, err := strconv.ParseInt(runArg[0], 10, 64)
		if err != nil || n <= 0 {
			return usagef("RUN must be a run id (a positive whole number), got %q", runArg[0])
		}
		path := fmt.Sprintf("%s/runs/%d", jobPath(name), n)
		if err := r.jobs.getJSON(ctx, path, &run); err != nil {
			if isStatus(err, http.StatusNotFound) {
				return notFoundf("job %s has no run %d", name, n)
			}
			return err
		}
	} else {
		path := jobPath(name) + "/runs?limit=100"
		var runs []runView
		if err := r.jobs.getJSON(ctx, path, &runs); err != nil {
			if isStatus(err, http.StatusNotFound) {
				return notFoundf("job %q does not exist", name)
			}
			return err
		}
		for _, x := range runs { // newest first
			if x.Sandbox != "" {
				run = x
				break
			}
		}
		if run.ID == 0 {
			return notFoundf("no recent run of %s has a task (yet)", name)
		}
	}
	if run.Sandbox == "" || run.AgentID == "" {
		return notFoundf("run %d of %s has no sandbox (it never got a task)", run.ID, name)
	}
	fmt.Fprintf(r.errw, "run %d of %s, task %s (%s)\n", run.ID, name, run.TaskID, run.State)
	return r.copyStreams(ctx, r.streamsOf(nil, run.AgentID, sandboxPath(run.Sandbox), ""), follow)
}
