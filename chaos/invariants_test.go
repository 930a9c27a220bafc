//go:build chaos

package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"corral/kernel/master"
	"corral/kernel/mesos"
)

// The invariants. Each check returns the problems it found, as sentences;
// none means it holds. They are used twice: as the convergence condition
// (polled until nothing is wrong) and, once converged, as the verdict.

// kernelRunning is a kernel task state that counts as running for the
// apps' comparison; anything else non-terminal (staging, killing) means
// the cluster has not settled.
const kernelRunning = "TASK_RUNNING"

// frameworkNames are the frameworks the kernel must know exactly once.
var frameworkNames = []string{"services", "jobs", probeName}

// clusterProblems checks that the masters lead, the expected agents are
// registered, and the kernel knows each framework exactly once,
// connected.
func clusterProblems(c *cluster, agents int) []string {
	st, err := c.state()
	if err != nil {
		return []string{"kernel: " + err.Error()}
	}
	var ps []string
	if st.ActivatedAgents != agents {
		ps = append(ps, fmt.Sprintf("kernel: %d agents active; want %d", st.ActivatedAgents, agents))
	}
	for _, name := range frameworkNames {
		var found []master.FrameworkState
		for _, f := range st.Frameworks {
			if f.Name == name {
				found = append(found, f)
			}
		}
		switch {
		case len(found) != 1:
			ps = append(ps, fmt.Sprintf("kernel: %d frameworks named %s; want exactly 1", len(found), name))
		case !found[0].Connected || !found[0].Active:
			ps = append(ps, fmt.Sprintf("kernel: framework %s is not connected and active (state %s)", name, found[0].State))
		}
	}
	if _, ok := c.servicesLeader(); !ok {
		ps = append(ps, "services: no leading instance")
	}
	if _, ok := c.jobsLeader(); !ok {
		ps = append(ps, "jobs: no single leading instance")
	}
	return ps
}

// appProblems checks every acknowledged app: it exists with the
// instances last acknowledged, runs exactly that many tasks (healthy when
// checked), no deployment is left, and the kernel runs exactly the apps'
// tasks for the services framework: no orphan, no duplicate, none
// missing.
func appProblems(c *cluster, l *load) []string {
	want, checked, _ := l.desired()
	apps, err := c.marathon().apps()
	if err != nil {
		return []string{"services: " + err.Error()}
	}
	var ps []string
	byID := map[string]mApp{}
	appTasks := map[string]string{}     // task → app
	appTaskState := map[string]string{} // task → state
	for _, a := range apps {
		byID[a.ID] = a
		for _, t := range a.Tasks {
			if prev, dup := appTasks[t.ID]; dup {
				ps = append(ps, fmt.Sprintf("services: task %s listed twice (apps %s and %s)", t.ID, prev, a.ID))
			}
			appTasks[t.ID], appTaskState[t.ID] = a.ID, t.State
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := want[id]
		a, ok := byID[id]
		switch {
		case !ok:
			ps = append(ps, fmt.Sprintf("app %s: acknowledged but does not exist", id))
			continue
		case a.Instances != n:
			ps = append(ps, fmt.Sprintf("app %s: instances %d; want %d (last acknowledged)", id, a.Instances, n))
		}
		running := 0
		others := map[string]int{} // state → tasks, of those not running
		for _, t := range a.Tasks {
			if t.State == kernelRunning {
				running++
			} else {
				others[t.State]++
			}
		}
		// Unreachable tasks are judged by appListingProblems.
		if running != n || a.TasksRunning != n || len(a.Tasks)-others["TASK_UNREACHABLE"] != n {
			ps = append(ps, fmt.Sprintf("app %s: %d tasks, %d running (tasksRunning %d), others %v; want exactly %d running and no other",
				id, len(a.Tasks), running, a.TasksRunning, others, n))
		}
		if checked[id] && healthyTasks(a) != n {
			ps = append(ps, fmt.Sprintf("app %s: %d healthy tasks; want %d", id, healthyTasks(a), n))
		}
	}
	if ds, err := c.marathon().deployments(); err != nil {
		ps = append(ps, "services: "+err.Error())
	} else if len(ds) > 0 {
		ps = append(ps, fmt.Sprintf("services: %d deployments still running", len(ds)))
	}

	st, err := c.state()
	if err != nil {
		return append(ps, "kernel: "+err.Error())
	}
	seen := map[string]bool{}
	for _, f := range st.Frameworks {
		if f.Name != "services" {
			continue
		}
		for _, t := range f.Tasks {
			if seen[t.ID] {
				ps = append(ps, fmt.Sprintf("kernel: services task %s listed twice", t.ID))
			}
			seen[t.ID] = true
			app, ok := appTasks[t.ID]
			switch {
			case !ok:
				ps = append(ps, fmt.Sprintf("kernel: orphan services task %s (%s on agent %s) belongs to no app", t.ID, t.State, t.AgentID))
			case t.State != kernelRunning:
				ps = append(ps, fmt.Sprintf("kernel: services task %s is %s", t.ID, t.State))
			case appTaskState[t.ID] != kernelRunning:
				ps = append(ps, fmt.Sprintf("kernel: runs services task %s on agent %s, which app %s lists as %s", t.ID, t.AgentID, app, appTaskState[t.ID]))
			}
		}
	}
	for tid, app := range appTasks {
		if !seen[tid] && appTaskState[tid] == kernelRunning {
			ps = append(ps, fmt.Sprintf("kernel: task %s of app %s runs according to services, not according to the kernel", tid, app))
		}
	}
	return ps
}

// appListingProblems checks that no app lists an unreachable task: the
// apps use Marathon's default unreachableStrategy (inactiveAfterSeconds
// and expungeAfterSeconds 0), so such a task is replaced at once and
// forgotten (expunged), to be killed if its agent comes back. Run after
// convergence only: while an agent is cut off its tasks are listed for a
// moment.
func appListingProblems(c *cluster) []string {
	apps, err := c.marathon().apps()
	if err != nil {
		return []string{"services: " + err.Error()}
	}
	var ps []string
	for _, a := range apps {
		var ids []string
		for _, t := range a.Tasks {
			if t.State == "TASK_UNREACHABLE" {
				ids = append(ids, t.ID+" on "+t.SlaveID)
			}
		}
		if len(ids) > 0 {
			ps = append(ps, fmt.Sprintf("app %s still lists %d TASK_UNREACHABLE tasks that expungeAfterSeconds 0 should have forgotten: %s",
				a.ID, len(ids), strings.Join(ids, ", ")))
		}
	}
	return ps
}

// runningTasks returns the running tasks of the load's own apps (the
// sleep and web apps), by id.
func runningTasks(c *cluster) (map[string]string, error) {
	apps, err := c.marathon().apps()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, a := range apps {
		if a.ID != sleepAppID && a.ID != webAppID {
			continue
		}
		for _, t := range a.Tasks {
			if t.State == kernelRunning {
				out[t.ID] = a.ID
			}
		}
	}
	return out, nil
}

// survivorProblems checks that the tasks running before the fault
// (before, from runningTasks) still run: a fault that spares the agents
// must not make services replace or restart anything.
func survivorProblems(c *cluster, before map[string]string) []string {
	now, err := runningTasks(c)
	if err != nil {
		return []string{"services: " + err.Error()}
	}
	var ps []string
	for id, app := range before {
		if _, ok := now[id]; !ok {
			ps = append(ps, fmt.Sprintf("app %s: task %s ran before the fault and no longer runs: replaced although no agent failed", app, id))
		}
	}
	sort.Strings(ps)
	return ps
}

// jobsExistProblems checks that every acknowledged job exists.
func jobsExistProblems(c *cluster, l *load) []string {
	_, _, jobs := l.desired()
	api := c.jobsAPI()
	var ps []string
	for _, j := range jobs {
		ok, err := api.exists(j)
		switch {
		case err != nil:
			return append(ps, "jobs: "+err.Error())
		case !ok:
			ps = append(ps, fmt.Sprintf("job %s: acknowledged but does not exist", j))
		}
	}
	return ps
}

// jobsAliveProblems checks that every cron job has a successful run of
// an occurrence after since: its scheduler works.
func jobsAliveProblems(c *cluster, since time.Time) []string {
	api := c.jobsAPI()
	var ps []string
	for _, cj := range cronJobs {
		rs, err := api.runs(cj.name)
		if err != nil {
			return append(ps, "jobs: "+err.Error())
		}
		ok := false
		for _, r := range rs {
			if s, has := scheduledOf(r); has && s.After(since) && r.State == "SUCCEEDED" {
				ok = true
				break
			}
		}
		if !ok {
			ps = append(ps, fmt.Sprintf("job %s: no successful run of an occurrence after %s", cj.name, since.Format("15:04:05")))
		}
	}
	return ps
}

// runsReport is what checkRuns found for one job's scheduled runs.
type runsReport struct {
	seconds  int // occurrences in the window
	missed   int // MISSED runs
	skipped  int // SKIPPED runs
	failed   int // FAILED runs
	doubled  int // occurrences with more than one run
	gaps     int // occurrences without a run
	active   int // runs not final yet
	problems []string
}

// checkRuns checks a job's scheduled runs in the window from its first
// occurrence to end: every second has exactly one run, and each run ran
// (SUCCEEDED, FAILED) or says why not (MISSED, SKIPPED with a reason).
// Active runs are counted, not reported: the caller waits for them.
func checkRuns(job string, runs []jobRun, end time.Time) runsReport {
	var r runsReport
	bySecond := map[int64][]jobRun{}
	first := int64(0)
	for _, run := range runs {
		s, ok := scheduledOf(run)
		if run.Trigger != "schedule" || !ok || s.After(end) {
			continue
		}
		if s.Nanosecond() != 0 {
			r.problems = append(r.problems, fmt.Sprintf("job %s: run %d is for %s, not a whole second", job, run.ID, *run.ScheduledFor))
		}
		sec := s.Unix()
		bySecond[sec] = append(bySecond[sec], run)
		if first == 0 || sec < first {
			first = sec
		}
	}
	if first == 0 {
		r.problems = append(r.problems, fmt.Sprintf("job %s: no scheduled run up to %s", job, end.Format(time.RFC3339)))
		return r
	}
	for sec := first; sec <= end.Unix(); sec++ {
		r.seconds++
		at := time.Unix(sec, 0).UTC().Format("15:04:05")
		rs := bySecond[sec]
		switch {
		case len(rs) == 0:
			r.gaps++
			r.problems = append(r.problems, fmt.Sprintf("job %s: occurrence %s has no run", job, at))
		case len(rs) > 1:
			r.doubled++
			var desc []string
			for _, x := range rs {
				desc = append(desc, fmt.Sprintf("%d %s", x.ID, x.State))
			}
			r.problems = append(r.problems, fmt.Sprintf("job %s: occurrence %s has %d runs (%s)", job, at, len(rs), strings.Join(desc, ", ")))
		}
		for _, x := range rs {
			switch x.State {
			case "SUCCEEDED":
			case "FAILED":
				r.failed++
			case "MISSED", "SKIPPED":
				if x.State == "MISSED" {
					r.missed++
				} else {
					r.skipped++
				}
				if strings.TrimSpace(x.Reason) == "" {
					r.problems = append(r.problems, fmt.Sprintf("job %s: run %d (%s) is %s without a reason", job, x.ID, at, x.State))
				}
			case "QUEUED", "STARTING", "RUNNING":
				r.active++
			default:
				r.problems = append(r.problems, fmt.Sprintf("job %s: run %d (%s) ended %s: %s", job, x.ID, at, x.State, x.Reason))
			}
		}
	}
	return r
}

// activeRuns describes a job's runs not final yet, for the verdict.
func activeRuns(job string, runs []jobRun, end time.Time) []string {
	var out []string
	for _, x := range runs {
		s, ok := scheduledOf(x)
		if !ok || s.After(end) {
			continue
		}
		if activeRun(x.State) {
			out = append(out, fmt.Sprintf("job %s: run %d (%s) is still %s (task %s on agent %s): %s",
				job, x.ID, s.UTC().Format("15:04:05"), x.State, x.TaskID, x.AgentID, x.Reason))
		}
	}
	return out
}

// probeOutcome is how one probe task ended.
type probeOutcome int

const (
	probeFinished   probeOutcome = iota // TASK_FINISHED, once
	probeActive                         // no terminal update yet
	probeLost                           // the kernel lost it: LOST, GONE, UNKNOWN, or UNREACHABLE for good
	probeNeverRan                       // refused at launch (DROPPED, ERROR), or the ACCEPT never arrived
	probeUnexpected                     // ended in a state a `sleep 1` cannot reach (FAILED, KILLED)
	probeDuplicated                     // two different terminal updates
)

func (o probeOutcome) String() string {
	return [...]string{"finished", "active", "lost", "never ran", "unexpected", "duplicated"}[o]
}

// classify says how a probe task ended, from the updates it got, and
// how many reliable updates arrived more than once (at-least-once
// delivery, not an error).
func classify(t probeTask) (o probeOutcome, redelivered int) {
	uuids := map[string]bool{}
	var terminal []mesos.TaskStatus
	distinct := 0
	for _, u := range t.updates {
		if u.UUID != "" {
			if uuids[u.UUID] {
				redelivered++
				continue
			}
			uuids[u.UUID] = true
		}
		if u.State.Terminal() {
			terminal = append(terminal, u)
			if u.UUID != "" {
				distinct++
			}
		}
	}
	if distinct > 1 {
		return probeDuplicated, redelivered
	}
	for _, u := range terminal[min(1, len(terminal)):] {
		if u.State != terminal[0].State {
			return probeDuplicated, redelivered
		}
	}
	if len(terminal) == 0 {
		if n := len(t.updates); n > 0 && t.updates[n-1].State == mesos.TaskUnreachable {
			return probeLost, redelivered
		}
		return probeActive, redelivered
	}
	// A reliable terminal update wins over reconciliation's answers.
	final := terminal[0]
	for _, u := range terminal {
		if u.UUID != "" {
			final = u
		}
	}
	switch final.State {
	case mesos.TaskFinished:
		return probeFinished, redelivered
	case mesos.TaskDropped, mesos.TaskError:
		return probeNeverRan, redelivered
	case mesos.TaskLost, mesos.TaskGone, mesos.TaskGoneByOperator, mesos.TaskUnknown:
		ran := false
		for _, u := range t.updates {
			ran = ran || u.State == mesos.TaskRunning || u.State == mesos.TaskStarting || u.State == mesos.TaskStaging
		}
		if t.launchErr != nil && !ran {
			return probeNeverRan, redelivered
		}
		return probeLost, redelivered
	}
	return probeUnexpected, redelivered
}

// probeReport sums up the probe's tasks.
type probeReport struct {
	launched    int
	byOutcome   map[probeOutcome]int
	redelivered int
	// lostExpected are the lost tasks on an agent the scenario killed.
	lostExpected int
	// wereUnreachable counts tasks reported TASK_UNREACHABLE at some
	// point, lost or not.
	wereUnreachable int
	// neverRanWhy counts the tasks that never ran by their last update,
	// "DROPPED(MASTER,INVALID_OFFERS)".
	neverRanWhy map[string]int
	problems    []string
}

// checkProbe classifies every launched probe task. Tasks lost on
// deadAgent (the scenario killed it; "" for none) are expected losses;
// any other loss, silence, duplicate or unexpected end is a problem.
func checkProbe(tasks []probeTask, deadAgent string) probeReport {
	r := probeReport{byOutcome: map[probeOutcome]int{}, neverRanWhy: map[string]int{}}
	for _, t := range tasks {
		if t.launched.IsZero() {
			continue
		}
		r.launched++
		for _, u := range t.updates {
			if u.State == mesos.TaskUnreachable {
				r.wereUnreachable++
				break
			}
		}
		o, red := classify(t)
		r.byOutcome[o]++
		r.redelivered += red
		switch o {
		case probeFinished:
		case probeNeverRan:
			if n := len(t.updates); n > 0 {
				u := t.updates[n-1]
				r.neverRanWhy[fmt.Sprintf("%s(%s,%s)", strings.TrimPrefix(string(u.State), "TASK_"), strings.TrimPrefix(u.Source, "SOURCE_"), strings.TrimPrefix(u.Reason, "REASON_"))]++
			}
		case probeLost:
			if deadAgent != "" && t.agentID == deadAgent {
				r.lostExpected++
				continue
			}
			r.problems = append(r.problems, fmt.Sprintf("probe task %s (agent %s) lost: %s", t.id, t.agentID, t.history()))
		default:
			r.problems = append(r.problems, fmt.Sprintf("probe task %s (agent %s, launched %s, launch error %v) %s: %s",
				t.id, t.agentID, t.launched.Format("15:04:05.000"), t.launchErr, o, t.history()))
		}
	}
	return r
}

// kernelLost counts the services and jobs tasks the kernel reports
// unreachable or lost (LOST, GONE, UNKNOWN, DROPPED).
func kernelLost(st master.State) map[string]int {
	out := map[string]int{}
	for _, f := range st.Frameworks {
		if f.Name == probeName {
			continue
		}
		out[f.Name] += len(f.UnreachableTask)
		for _, t := range f.CompletedTasks {
			// TASK_DROPPED is not counted: such a task never started (its
			// offer was gone, say rescinded when its agent became
			// unreachable), so no work was lost; the framework launches
			// it again, which the app checks see.
			switch mesos.TaskState(t.State) {
			case mesos.TaskLost, mesos.TaskGone, mesos.TaskGoneByOperator, mesos.TaskUnknown:
				out[f.Name]++
			}
		}
	}
	return out
}
