package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// jobView is a native job as the verbs read it.
type jobView = apiclient.Job

// when says what starts the job: its schedule or its parents.
func jobWhen(j jobView) string {
	if len(j.Parents) > 0 {
		return "after " + strings.Join(j.Parents, ", ")
	}
	if j.Timezone != "" && j.Timezone != "UTC" {
		return j.Schedule + " (" + j.Timezone + ")"
	}
	return j.Schedule
}

// runView is a run of a job as the jobs API shows it.
type runView = apiclient.Run

func jobVerbs() []*verb {
	return []*verb{
		{
			watchable: true, group: "job", name: "list", summary: "list the jobs framework's jobs",
			about: `One row per job, sorted by name: what starts it (a schedule with its
time zone, or "after" its parents), its next scheduled run, the last
success and error, and its success and error counts.`,
			uses: useJobs, maxArgs: 0, jsonDoc: "print the API's answer to GET /v1/jobs",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error { return jobList },
		},
		{
			group: "job", name: "show", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "show a job's definition, statistics and recent runs",
			uses:    useJobs, jsonDoc: "print the API's answer to GET /v1/jobs/NAME",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				runs := fs.Int("runs", 5, "how many of the most recent runs to show")
				return func(ctx context.Context, r *runner) error { return jobShow(ctx, r, r.args[0], *runs) }
			},
		},
		{
			group: "job", name: "add", args: "FILE", minArgs: 1, maxArgs: 1,
			summary: "create or update jobs from a JSON file (one job, or an array of jobs)",
			about: `FILE (or - for stdin) holds one native job object or an array of them,
such as a chain of a scheduled job and its children. They are saved
parents first (in dependency order, file order among equals): a job
that exists is replaced with PUT /v1/jobs/NAME, a new one created with
POST /v1/jobs. The first job the API refuses stops the verb (exit 1),
naming the job and each invalid field; the jobs before it stay saved.`,
			uses: useJobs, jsonDoc: "print a JSON array of the API's answers, one saved job each, in the order saved",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error { return jobAdd(ctx, r, r.args[0]) }
			},
		},
		{
			group: "job", name: "run", args: "NAME [ARG...]", minArgs: 1, maxArgs: -1,
			summary: "start a run of a job now and wait for its result",
			about: `Queues a manual run (POST /v1/jobs/NAME/run) with the given arguments
appended to the job's command, then, unless --detach, follows the run,
printing each change of state, until it ends: exit 0 when it
SUCCEEDED, 1 when it FAILED, was KILLED or SKIPPED, or --timeout passed
(the run carries on). A run that FAILED has the last lines of its task's
stderr printed, read from its agent's sandbox through the master. Put
"--" before arguments that start with "-".`,
			uses: useJobs | useMaster, jsonDoc: "print the run (the API's run object) when it ends, or at once with --detach; progress goes to stderr",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				detach := fs.Bool("detach", false, "return once the run is queued, printing its id")
				timeout := fs.Duration("timeout", 30*time.Minute, "give up waiting after this long and exit 1")
				return func(ctx context.Context, r *runner) error {
					return jobRun(ctx, r, r.args[0], r.args[1:], *detach, *timeout)
				}
			},
		},
		{
			watchable: true, group: "job", name: "runs", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "list a job's runs, newest first",
			about: `One row per run: id, trigger (schedule, dependency, manual), state,
attempt, when it was scheduled and started, how long it took, its exit
status, host, task (for 'corral task logs TASK'), notifications and
reason.`,
			uses: useJobs, jsonDoc: "print the API's answer to GET /v1/jobs/NAME/runs",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				limit := fs.Int("limit", 20, "how many runs to show (at most 1000)")
				return func(ctx context.Context, r *runner) error { return jobRuns(ctx, r, r.args[0], *limit) }
			},
		},
		{
			group: "job", name: "delete", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "delete a job",
			about: `Sends DELETE /v1/jobs/NAME. A job other jobs depend on is only deleted
with --force, which rewires its children as Chronos did (they take over
its parents, or its schedule); the changes are printed.`,
			uses: useJobs, jsonDoc: "print the API's answer",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				force := fs.Bool("force", false, "delete even when other jobs depend on it, rewiring them")
				return func(ctx context.Context, r *runner) error { return jobDelete(ctx, r, r.args[0], *force) }
			},
		},
		{
			group: "job", name: "enable", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "let a job's schedule start runs again",
			about: `Reads the job (GET /v1/jobs/NAME) and stores it again with "disabled":
false (PUT), printing when its schedule next starts a run.`,
			uses: useJobs, jsonDoc: "print the API's answer",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error { return jobSetDisabled(ctx, r, r.args[0], false) }
			},
		},
		{
			group: "job", name: "disable", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "stop a job's schedule from starting runs",
			about: `Reads the job (GET /v1/jobs/NAME) and stores it again with "disabled":
true (PUT). Runs under way go on ('corral job stop NAME' stops them);
'corral job run' still starts one by hand.`,
			uses: useJobs, jsonDoc: "print the API's answer",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error { return jobSetDisabled(ctx, r, r.args[0], true) }
			},
		},
		{
			group: "job", name: "stop", args: "NAME [RUN]", minArgs: 1, maxArgs: 2,
			summary: "stop a job's runs under way (or one of them)",
			about: `Stops run RUN of job NAME (POST /v1/jobs/NAME/runs/RUN/stop), or,
without RUN, every run of the job not yet ended: queued ones never
start, running ones have their task killed. Each ends KILLED; a job
that is not disabled still starts its next scheduled run.`,
			uses: useJobs,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error { return jobStop(ctx, r, r.args[0], r.args[1:]) }
			},
		},
		{
			group: "job", name: "graph", maxArgs: 0,
			summary: "print the jobs' dependency graph",
			about: `Prints each job without parents with its descendants as an indented
tree, each job with its last outcome (fresh, success, failure) and
status (idle, queued, running). A job with several parents appears
under each; its subtree is printed once. --dot prints the graph in
Graphviz DOT instead (GET /v1/graph.dot), for "| dot -Tsvg".`,
			uses: useJobs, jsonDoc: "print the API's answer to GET /v1/graph",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				dot := fs.Bool("dot", false, "print Graphviz DOT (GET /v1/graph.dot)")
				return func(ctx context.Context, r *runner) error { return jobGraph(ctx, r, *dot) }
			},
		},
	}
}

// --- list, show, runs --------------------------------------------------------

// jobTable renders `job list` (pure).
func jobTable(jobs []jobView) string {
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	t := newTable("NAME", "WHEN", "NEXT RUN", "LAST SUCCESS", "LAST ERROR", "SUCCESSES", "ERRORS", "ENABLED")
	for _, j := range jobs {
		enabled := "yes"
		if j.Disabled {
			enabled = "no"
		}
		t.add(j.Name, jobWhen(j), stamp(j.NextRun), stamp(j.LastSuccess), stamp(j.LastError),
			fmt.Sprint(j.SuccessCount), fmt.Sprint(j.ErrorCount), enabled)
	}
	return t.String()
}

func jobList(ctx context.Context, r *runner) error {
	resp, err := r.jobs.do(ctx, http.MethodGet, "/v1/jobs", nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var jobs []jobView
	if err := decode("jobs", "/v1/jobs", resp.Body, &jobs); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, jobTable(jobs))
	return err
}

// runTable renders runs in the order given (pure).
func runTable(runs []runView) string {
	t := newTable("ID", "TRIGGER", "STATE", "ATTEMPT", "SCHEDULED", "STARTED", "TOOK", "EXIT", "HOST", "TASK", "NOTIFIED", "REASON")
	for _, x := range runs {
		exit := ""
		if x.ExitStatus != nil {
			exit = fmt.Sprint(*x.ExitStatus)
		}
		attempt := fmt.Sprint(x.Attempt + 1)
		if x.MaxAttempts > 0 {
			attempt += "/" + fmt.Sprint(x.MaxAttempts)
		}
		t.add(fmt.Sprint(x.ID), x.Trigger, x.State, attempt, stampPtr(x.ScheduledFor), stampPtr(x.StartedAt),
			elapsed(x.StartedAt, x.FinishedAt), exit, x.Host, x.TaskID, notified(x.Notifications), x.Reason)
	}
	return t.String()
}

// notified sums up how the webhook notifications of a run go (pure):
// "" for none, the state of a lone one ("failing ×3" with its attempts
// while it fails), else how many are in each state.
func notified(ns []apiclient.Notification) string {
	if len(ns) == 1 {
		n := ns[0]
		if n.State == "failing" || n.State == "abandoned" {
			return fmt.Sprintf("%s ×%d", n.State, n.Attempts)
		}
		return n.State
	}
	var parts []string
	for _, state := range []string{"pending", "failing", "delivered", "abandoned"} {
		k := 0
		for _, n := range ns {
			if n.State == state {
				k++
			}
		}
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, state))
		}
	}
	return strings.Join(parts, ", ")
}

// renderJob is the text of `job show` (pure).
func renderJob(j jobView, runs []runView) string {
	var k kv
	k.add("Name", j.Name)
	if j.Description != "" {
		k.add("Description", j.Description)
	}
	k.add("Command", j.CommandLine())
	if len(j.Parents) > 0 {
		k.add("Parents", strings.Join(j.Parents, ", "))
	} else {
		k.add("Schedule", j.Schedule)
		k.add("Time zone", j.Timezone)
		k.add("Next run", stamp(j.NextRun))
	}
	enabled := "yes"
	if j.Disabled {
		enabled = "no"
	}
	k.add("Enabled", enabled)
	k.add("Resources", fmt.Sprintf("cpus %s, mem %s MB, disk %s MB", num(j.CPUs), num(j.Mem), num(j.Disk)))
	policy := fmt.Sprintf("retries %d, concurrency %s", j.Retries, j.ConcurrencyPolicy)
	if j.TimeoutSeconds > 0 {
		policy += ", timeout " + num(j.TimeoutSeconds) + "s"
	}
	if j.SoftError {
		policy += ", soft errors"
	}
	k.add("Policy", policy)
	if j.Owner != "" {
		k.add("Owner", j.Owner)
	}
	if len(j.Webhooks) > 0 {
		var hooks []string
		for _, w := range j.Webhooks {
			hooks = append(hooks, w.URL+" on "+strings.Join(w.On, ", "))
		}
		k.add("Webhooks", strings.Join(hooks, "; "))
	}
	k.add("Runs", fmt.Sprintf("%d succeeded, %d failed (%d since the last success)", j.SuccessCount, j.ErrorCount, j.ErrorsSinceLastSuccess))
	k.add("Last success", stamp(j.LastSuccess))
	k.add("Last error", stamp(j.LastError))
	k.add("Version", j.Version)
	var b strings.Builder
	b.WriteString(k.String())
	b.WriteString("\n")
	b.WriteString(runTable(runs))
	return b.String()
}

func (r *runner) runs(ctx context.Context, name string, limit int) ([]byte, []runView, error) {
	path := fmt.Sprintf("%s/runs?limit=%d", jobPath(name), limit)
	resp, err := r.jobs.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, nil, err
	}
	var runs []runView
	if err := decode("jobs", path, resp.Body, &runs); err != nil {
		return nil, nil, err
	}
	return resp.Body, runs, nil
}

func jobShow(ctx context.Context, r *runner, name string, n int) error {
	resp, err := r.jobs.do(ctx, http.MethodGet, jobPath(name), nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var j jobView
	if err := decode("jobs", jobPath(name), resp.Body, &j); err != nil {
		return err
	}
	var runs []runView
	if n > 0 {
		if _, runs, err = r.runs(ctx, name, min(n, 1000)); err != nil {
			return err
		}
	}
	_, err = io.WriteString(r.out, renderJob(j, runs))
	return err
}

func jobRuns(ctx context.Context, r *runner, name string, limit int) error {
	if limit < 1 || limit > 1000 {
		return usagef("--limit must be between 1 and 1000 (got %d)", limit)
	}
	body, runs, err := r.runs(ctx, name, limit)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, body)
	}
	_, err = io.WriteString(r.out, runTable(runs))
	return err
}

// --- add ---------------------------------------------------------------------

// jobSpec is one job of a file given to `job add`.
type jobSpec struct {
	name    string
	parents []string
	raw     json.RawMessage
}

// parseJobs reads one job object or an array of them. A mistake is
// placed by line and column in body; an app definition is named as
// such.
func parseJobs(body []byte) ([]jobSpec, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	var raws []json.RawMessage
	var starts []int64 // where each job begins in body
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, jsonError(body, 0, err)
		}
		// Where each element begins, to place a mistake inside one.
		dec := json.NewDecoder(bytes.NewReader(body))
		_, _ = dec.Token()
		for dec.More() {
			at := dec.InputOffset()
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				break
			}
			at += int64(bytes.IndexAny(body[at:], "{[\"tfn0123456789-"))
			starts = append(starts, at)
		}
	} else {
		var raw json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, jsonError(body, 0, err)
		}
		raws = []json.RawMessage{raw}
		starts = []int64{int64(len(body) - len(trimmed))}
	}
	var out []jobSpec
	for i, raw := range raws {
		var head struct {
			Name    string   `json:"name"`
			Parents []string `json:"parents"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			var base int64
			if i < len(starts) {
				base = starts[i]
			}
			return nil, fmt.Errorf("job %d: %w", i+1, jsonError(body, base, err))
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil && kindOf(obj) == "app" {
			return nil, fmt.Errorf("job %d is an app definition, not a job (it has no \"name\" but has %s): deploy it with 'corral app deploy'", i+1, presentKeys(obj, appKeys))
		}
		out = append(out, jobSpec{name: head.Name, parents: head.Parents, raw: raw})
	}
	return out, nil
}

// presentKeys names the keys of obj among keys, quoted, for a message.
func presentKeys(obj map[string]json.RawMessage, keys []string) string {
	var out []string
	for _, k := range keys {
		if _, ok := obj[k]; ok {
			out = append(out, `"`+k+`"`)
		}
	}
	return strings.Join(out, ", ")
}

// jobsHint points an array given to app deploy at job add when it holds
// jobs.
func jobsHint(body []byte, file string) string {
	var objs []map[string]json.RawMessage
	if json.Unmarshal(body, &objs) == nil && len(objs) > 0 && kindOf(objs[0]) == "job" {
		return fmt.Sprintf("; it holds jobs: add them with 'corral job add %s'", file)
	}
	return ""
}

// addOrder orders jobs parents first: a job comes after every parent
// defined in the same file; among jobs free to go, file order wins
// (pure). Parents not in the file are taken to exist already. Two jobs
// with one name, or a cycle, are errors.
func addOrder(specs []jobSpec) ([]jobSpec, error) {
	index := map[string]int{}
	for i, s := range specs {
		if s.name == "" {
			continue
		}
		if j, dup := index[s.name]; dup {
			return nil, fmt.Errorf("job %q is defined twice (entries %d and %d)", s.name, j+1, i+1)
		}
		index[s.name] = i
	}
	waiting := make([]int, len(specs)) // parents in the file not yet placed
	children := map[string][]int{}
	for i, s := range specs {
		for _, p := range s.parents {
			if _, ok := index[p]; ok && p != s.name {
				waiting[i]++
				children[p] = append(children[p], i)
			}
		}
	}
	placed := make([]bool, len(specs))
	var out []jobSpec
	for len(out) < len(specs) {
		next := -1
		for i := range specs {
			if !placed[i] && waiting[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			var cycle []string
			for i, s := range specs {
				if !placed[i] {
					cycle = append(cycle, s.name)
				}
			}
			return nil, fmt.Errorf("the parents of %s form a cycle", strings.Join(cycle, ", "))
		}
		placed[next] = true
		out = append(out, specs[next])
		for _, c := range children[specs[next].name] {
			waiting[c]--
		}
	}
	return out, nil
}

func jobAdd(ctx context.Context, r *runner, file string) error {
	body, err := r.readInput(file)
	if err != nil {
		return err
	}
	specs, err := parseJobs(body)
	if err != nil {
		return failf("%s does not hold a job or an array of jobs: %v", displayName(file), err)
	}
	if len(specs) == 0 {
		return failf("%s holds no jobs", displayName(file))
	}
	ordered, err := addOrder(specs)
	if err != nil {
		return failf("%s: %v", displayName(file), err)
	}
	var saved []json.RawMessage
	var done []string
	for _, s := range ordered {
		exists := false
		if s.name != "" {
			_, err := r.jobs.do(ctx, http.MethodGet, jobPath(s.name), nil)
			switch {
			case err == nil:
				exists = true
			case !isStatus(err, http.StatusNotFound):
				return err
			}
		}
		var resp *response
		verb := "created"
		if exists {
			verb = "updated"
			resp, err = r.jobs.do(ctx, http.MethodPut, jobPath(s.name), []byte(s.raw))
		} else {
			resp, err = r.jobs.do(ctx, http.MethodPost, "/v1/jobs", []byte(s.raw))
		}
		if err != nil {
			name := s.name
			if name == "" {
				name = "(without a name)"
			}
			what := "saving job " + name
			if len(done) > 0 {
				what += " (after saving " + strings.Join(done, ", ") + ")"
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		saved = append(saved, resp.Body)
		done = append(done, s.name)
		fmt.Fprintf(r.progress(), "%s job %s\n", verb, s.name)
		subject := ""
		if len(ordered) > 1 {
			subject = "job " + s.name
		}
		printWarnings(r.errw, subject, resp.Body)
	}
	if r.json {
		return writeJSON(r.out, saved)
	}
	return nil
}

// --- run ---------------------------------------------------------------------

// runLine is the progress line of a run (pure).
func runLine(x runView) string {
	s := fmt.Sprintf("run %d of %s: %s", x.ID, x.Job, x.State)
	if x.MaxAttempts > 1 {
		s += fmt.Sprintf(" (attempt %d/%d)", x.Attempt+1, x.MaxAttempts)
	}
	if x.Host != "" && (x.State == "STARTING" || x.State == "RUNNING") {
		s += " on " + x.Host
	}
	if x.TaskID != "" && x.State == "RUNNING" {
		s += ", task " + x.TaskID
	}
	if d := elapsed(x.StartedAt, x.FinishedAt); d != "" {
		s += " after " + d
	}
	if x.ExitStatus != nil {
		s += fmt.Sprintf(", exit status %d", *x.ExitStatus)
	}
	if x.Reason != "" {
		s += ": " + x.Reason
	}
	return s
}

func jobRun(ctx context.Context, r *runner, name string, args []string, detach bool, timeout time.Duration) error {
	var body any
	if len(args) > 0 {
		body = map[string][]string{"arguments": args}
	}
	resp, err := r.jobs.do(ctx, http.MethodPost, jobPath(name)+"/run", body)
	if err != nil {
		return err
	}
	var run runView
	if err := decode("jobs", jobPath(name)+"/run", resp.Body, &run); err != nil {
		return err
	}
	w := r.progress()
	last := runLine(run)
	fmt.Fprintln(w, last)
	if detach {
		if r.json {
			return indentJSON(r.out, resp.Body)
		}
		return nil
	}
	deadline := time.Now().Add(timeout)
	path := fmt.Sprintf("%s/runs/%d", jobPath(name), run.ID)
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return failf("interrupted; run %d of %s carries on", run.ID, name)
		case <-time.After(r.poll):
		}
		resp, err := r.jobs.do(ctx, http.MethodGet, path, nil)
		switch {
		case err == nil:
			lastErr = ""
			if err := decode("jobs", path, resp.Body, &run); err != nil {
				return err
			}
			if line := runLine(run); line != last {
				fmt.Fprintln(w, line)
				last = line
			}
			if done, ok := run.Ended(); done {
				if r.json {
					if err := indentJSON(r.out, resp.Body); err != nil {
						return err
					}
				}
				if !ok {
					if run.State == "FAILED" {
						printStderrTail(ctx, r, run)
					}
					return failf("run %d of %s ended %s", run.ID, name, run.State)
				}
				return nil
			}
		case ctx.Err() != nil:
			return failf("interrupted; run %d of %s carries on", run.ID, name)
		case exitCode(err) == ExitUnreachable:
			if msg := err.Error(); msg != lastErr {
				fmt.Fprintf(r.errw, "%s; still trying\n", msg)
				lastErr = msg
			}
		default:
			return err
		}
		if time.Now().After(deadline) {
			return failf("timed out after %v waiting for run %d of %s, which is %s (it carries on)", timeout, run.ID, name, run.State)
		}
	}
}

// tailLines and tailBytes bound the end of stderr a failed run shows.
const (
	tailLines = 20
	tailBytes = 8 << 10
)

// printStderrTail writes the last lines of a failed run's stderr to
// stderr, read from its sandbox through the master; a run that never got
// a sandbox (no task launched) or whose file cannot be read says so.
func printStderrTail(ctx context.Context, r *runner, run runView) {
	if run.Sandbox == "" || run.AgentID == "" || r.master == nil {
		return
	}
	fr := &fileReader{master: r.master, agentID: run.AgentID, path: strings.TrimRight(sandboxPath(run.Sandbox), "/") + "/stderr"}
	_, size, err := fr.read(ctx, -1, -1)
	var data string
	if err == nil {
		from := max(size-tailBytes, 0)
		data, _, err = fr.read(ctx, from, size-from)
		if err == nil && from > 0 {
			// Drop the first line, most likely cut.
			if i := strings.IndexByte(data, '\n'); i >= 0 {
				data = data[i+1:]
			}
		}
	}
	if err != nil {
		fmt.Fprintf(r.errw, "(the stderr of task %s could not be read: %v)\n", run.TaskID, err)
		return
	}
	lines := strings.Split(strings.TrimRight(data, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		fmt.Fprintf(r.errw, "task %s wrote nothing to stderr\n", run.TaskID)
		return
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	fmt.Fprintf(r.errw, "last lines of the stderr of task %s ('corral task logs %s --stderr' for all):\n", run.TaskID, run.TaskID)
	for _, l := range lines {
		fmt.Fprintf(r.errw, "  %s\n", l)
	}
}

// sandboxPath is the files API's path of a run's sandbox: the jobs API
// gives the agent's browse URL (…/files/browse?path=P), whose path is P.
func sandboxPath(sandbox string) string {
	if u, err := url.Parse(sandbox); err == nil && u.Scheme != "" {
		if p := u.Query().Get("path"); p != "" {
			return p
		}
	}
	return sandbox
}

// --- enable, disable, stop ---------------------------------------------------

// jobSetDisabled reads job name and stores it again with disabled set.
func jobSetDisabled(ctx context.Context, r *runner, name string, disabled bool) error {
	resp, err := r.jobs.do(ctx, http.MethodGet, jobPath(name), nil)
	if err != nil {
		return err
	}
	var def map[string]json.RawMessage
	if err := decode("jobs", jobPath(name), resp.Body, &def); err != nil {
		return err
	}
	def["disabled"] = json.RawMessage(strconv.FormatBool(disabled))
	resp, err = r.jobs.do(ctx, http.MethodPut, jobPath(name), def)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	if disabled {
		fmt.Fprintf(r.out, "disabled job %s: its schedule starts no runs; runs under way go on ('corral job stop %s' stops them)\n", name, name)
		return nil
	}
	var answer struct {
		NextRun string `json:"nextRun"`
	}
	_ = json.Unmarshal(resp.Body, &answer)
	if answer.NextRun != "" {
		fmt.Fprintf(r.out, "enabled job %s: next run at %s\n", name, answer.NextRun)
	} else {
		fmt.Fprintf(r.out, "enabled job %s\n", name)
	}
	return nil
}

// jobStop stops run runArg[0] of job name, or every run of it not yet
// ended.
func jobStop(ctx context.Context, r *runner, name string, runArg []string) error {
	var ids []int64
	if len(runArg) > 0 {
		id, err := strconv.ParseInt(runArg[0], 10, 64)
		if err != nil || id <= 0 {
			return usagef("RUN must be a run id (a positive whole number), got %q", runArg[0])
		}
		ids = append(ids, id)
	} else {
		path := jobPath(name) + "/runs?limit=1000"
		resp, err := r.jobs.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		var runs []runView
		if err := decode("jobs", path, resp.Body, &runs); err != nil {
			return err
		}
		for _, x := range runs {
			if done, _ := x.Ended(); !done {
				ids = append(ids, x.ID)
			}
		}
		if len(ids) == 0 {
			fmt.Fprintf(r.out, "no run of %s is under way\n", name)
			return nil
		}
	}
	for _, id := range ids {
		path := fmt.Sprintf("%s/runs/%d/stop", jobPath(name), id)
		if _, err := r.jobs.do(ctx, http.MethodPost, path, nil); err != nil {
			if len(runArg) == 0 && isStatus(err, http.StatusConflict) {
				continue // it ended meanwhile
			}
			return err
		}
		fmt.Fprintf(r.out, "stopped run %d of %s\n", id, name)
	}
	return nil
}

// --- delete ------------------------------------------------------------------

func jobDelete(ctx context.Context, r *runner, name string, force bool) error {
	path := jobPath(name)
	if force {
		path += "?force=true"
	}
	resp, err := r.jobs.do(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var out struct {
		Rewired []map[string]any `json:"rewired"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	fmt.Fprintf(r.out, "deleted job %s\n", name)
	for _, ch := range out.Rewired {
		b, _ := json.Marshal(ch)
		fmt.Fprintf(r.out, "rewired: %s\n", b)
	}
	return nil
}

// --- graph -------------------------------------------------------------------

type graphNode struct {
	Name      string `json:"name"`
	LastState string `json:"lastState"`
	Status    string `json:"status"`
}

type graphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// renderGraph draws the dependency graph as indented trees from the jobs
// without parents (pure). Names are sorted at every level; a job reached
// again (it has several parents) is printed with "(see above)" in place
// of its subtree.
func renderGraph(nodes []graphNode, edges []graphEdge) string {
	info := map[string]graphNode{}
	for _, n := range nodes {
		info[n.Name] = n
	}
	children := map[string][]string{}
	hasParent := map[string]bool{}
	for _, e := range edges {
		children[e.From] = append(children[e.From], e.To)
		hasParent[e.To] = true
		for _, n := range []string{e.From, e.To} {
			if _, ok := info[n]; !ok {
				info[n] = graphNode{Name: n}
			}
		}
	}
	var roots []string
	for n := range info {
		if !hasParent[n] {
			roots = append(roots, n)
		}
	}
	sort.Strings(roots)
	for _, cs := range children {
		sort.Strings(cs)
	}
	label := func(n string) string {
		x := info[n]
		var st []string
		for _, s := range []string{x.LastState, x.Status} {
			if s != "" {
				st = append(st, s)
			}
		}
		if len(st) == 0 {
			return n
		}
		return n + " (" + strings.Join(st, ", ") + ")"
	}
	var b strings.Builder
	shown := map[string]bool{}
	var walk func(n, prefix string, last, root bool)
	walk = func(n, prefix string, last, root bool) {
		branch, more := "├── ", "│   "
		if last {
			branch, more = "└── ", "    "
		}
		if root {
			branch, more = "", ""
		}
		if shown[n] && len(children[n]) > 0 {
			b.WriteString(prefix + branch + label(n) + " (see above)\n")
			return
		}
		shown[n] = true
		b.WriteString(prefix + branch + label(n) + "\n")
		for i, c := range children[n] {
			walk(c, prefix+more, i == len(children[n])-1, false)
		}
	}
	for _, n := range roots {
		walk(n, "", true, true)
	}
	if len(roots) == 0 && len(info) > 0 {
		b.WriteString("(every job has a parent: the graph has a cycle)\n")
	}
	return b.String()
}

func jobGraph(ctx context.Context, r *runner, dot bool) error {
	if dot {
		resp, err := r.jobs.do(ctx, http.MethodGet, "/v1/graph.dot", nil)
		if err != nil {
			return err
		}
		_, err = r.out.Write(resp.Body)
		return err
	}
	resp, err := r.jobs.do(ctx, http.MethodGet, "/v1/graph", nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var g struct {
		Nodes []graphNode `json:"nodes"`
		Edges []graphEdge `json:"edges"`
	}
	if err := decode("jobs", "/v1/graph", resp.Body, &g); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, renderGraph(g.Nodes, g.Edges))
	return err
}
