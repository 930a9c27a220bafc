package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/frameworks/internal/durable"
	"corral/frameworks/internal/place"
	"corral/frameworks/jobs/due"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/schedule"
	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
	"corral/kernel/resource"
	"corral/kernel/sched"
)

// Run states (store.State).
const (
	stateQueued    = store.StateQueued
	stateStarting  = store.StateStarting
	stateRunning   = store.StateRunning
	stateSucceeded = store.StateSucceeded
	stateFailed    = store.StateFailed
	stateSkipped   = store.StateSkipped
	stateMissed    = store.StateMissed
	stateKilled    = store.StateKilled
)

func active(state store.State) bool { return store.Active(state) }

// stageAhead is how early a scheduled occurrence is recorded (QUEUED, not
// before its time), so that at its time only the launch remains.
const stageAhead = 500 * time.Millisecond

// jobState is the scheduler's view of one job.
type jobState struct {
	job      job.Job
	spec     place.Demand // where its runs may go (placementSpec)
	version  string
	sched    schedule.Schedule // nil for dependency-triggered jobs
	cursor   time.Time         // newest occurrence already recorded
	next     time.Time         // next occurrence after cursor (zero: none)
	lastSeen time.Time
	// created is when the job was created: a job deleted and created
	// again under its name is another job.
	created time.Time
	// steady is set after the first planning pass of this scheduler: from
	// then on every occurrence is seen coming (see occurrences).
	steady bool
	// recording is set while the job's due occurrences are with the
	// writer; after a failure they are decided again from retryAt.
	recording bool
	retryAt   time.Time
}

// runState is an active run.
type runState struct {
	run store.Run
	// kill is why we asked for the task to be killed ("" if we did not).
	kill string
	// failAfterKill turns the kill into a failure (timeouts).
	failAfterKill bool
	// unreachableSince is when the run's task was first reported
	// unreachable; zero while it is reachable.
	unreachableSince time.Time
	// claiming is set while the run's claim is with the writer; after a
	// failure it is claimed again from retryAt.
	claiming bool
	retryAt  time.Time
}

// core is the leader's scheduler. Every method runs on its loop.
type core struct {
	s *Service
	// store is the term's fenced view: every write of the scheduler
	// fails (ErrFenced) once a later term has begun.
	store  *store.Store
	client *sched.Client
	ops    chan func(*core)
	evs    chan *mesos.Event
	pokes  chan struct{}
	calls  chan func(context.Context)
	acks   chan func(context.Context)
	done   chan struct{}

	jobs       map[string]*jobState
	runs       map[int64]*runState
	byTask     map[string]int64
	offers     map[string]*mesos.Offer
	subscribed bool
	suppressed bool
	revivedAt  time.Time
	declinedAt time.Time // when offers were last declined with a refuse filter
	// spareDeclined is, by agent, the last offer declined as spare since
	// the last revive: work that would fit one revives at once.
	spareDeclined map[string]place.Offer
	// restate is set by a (re)subscription: what the kernel holds of the
	// offer wish (what the SUBSCRIBE listed) may predate the runs, so
	// the next launch round sends the wish it derives (see manageOffers).
	restate bool

	// Run changes waiting for the next batch (see flushRuns), and what
	// waits for them to be durable: acknowledgements and API answers.
	pendRuns    map[int64]store.Run
	pendResults []store.Result
	pendParents []parentDone
	pendAcks    []func(context.Context)
	waiters     []chan error
	fid         string // framework id to store
	// flushing is set while a batch is with the writer; firing counts the
	// finished runs in it whose children it fires.
	flushing bool
	firing   int

	// The writer (see writer.go).
	wr *durable.Writer[*core]
	// notes delivers the webhook notifications of ended runs (see
	// notifier.go); the loop pokes it when it stored some.
	notes *notifier
	// news is what the watcher read (see watch.go).
	news chan news
	// lookups holds, by task, the updates of tasks no tracked run owns
	// while the writer looks up their runs.
	lookups map[string][]mesos.TaskStatus
	// gone are the runs this term finished, and when: a late read (a
	// lookup, the watcher) must not bring them back before their end is
	// durable.
	gone map[int64]time.Time

	// Kernel calls and acknowledgements that found their queue full, in
	// order (see call).
	callBacklog, ackBacklog []func(context.Context)
	backlogLogged           time.Time
}

func newCore(s *Service, st *store.Store) *core {
	return &core{
		s: s, store: st, ops: make(chan func(*core), 256), evs: make(chan *mesos.Event, 1024),
		pokes: make(chan struct{}, 1), calls: make(chan func(context.Context), 8192), acks: make(chan func(context.Context), 8192), done: make(chan struct{}),
		jobs: map[string]*jobState{}, runs: map[int64]*runState{}, byTask: map[string]int64{}, offers: map[string]*mesos.Offer{},
		pendRuns: map[int64]store.Run{}, news: make(chan news, 16), lookups: map[string][]mesos.TaskStatus{}, gone: map[int64]time.Time{},
		notes: newNotifier(s.cfg, st, s.url, s.bus, s.log),
	}
}

func (c *core) poke() {
	select {
	case c.pokes <- struct{}{}:
	default:
	}
}

func (c *core) do(ctx context.Context, fn func(*core)) error {
	done := make(chan struct{})
	select {
	case c.ops <- func(c *core) { fn(c); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return errNotLeading
	}
	select {
	case <-done:
		return nil
	case <-c.done:
		return errNotLeading
	}
}

var errNotLeading = fmt.Errorf("this jobs instance is not leading")

// call queues a kernel call for the caller goroutine. The loop is the
// only sender on the queue: a call that finds it full waits in
// callBacklog, in order, until moveCalls finds room; the loop neither
// blocks nor starts a goroutine for it.
func (c *core) call(fn func(ctx context.Context)) {
	c.callBacklog = c.enqueue(c.calls, c.callBacklog, fn)
}

// ack queues an acknowledgement; acknowledgements have workers of their
// own so they never delay a launch. As for call, one that finds the queue
// full waits in ackBacklog.
func (c *core) ack(fn func(ctx context.Context)) {
	c.ackBacklog = c.enqueue(c.acks, c.ackBacklog, fn)
}

func (c *core) enqueue(q chan func(context.Context), backlog []func(context.Context), fn func(context.Context)) []func(context.Context) {
	if len(backlog) == 0 {
		select {
		case q <- fn:
			return nil
		default:
		}
	}
	if time.Since(c.backlogLogged) > 10*time.Second {
		c.backlogLogged = time.Now()
		c.s.log.Warn("a kernel call queue is full; calls wait", "calls", len(c.callBacklog), "acks", len(c.ackBacklog))
	}
	return append(backlog, fn)
}

// moveCalls moves waiting calls and acknowledgements to their queues as
// far as they have room.
func (c *core) moveCalls() {
	move := func(q chan func(context.Context), backlog []func(context.Context)) []func(context.Context) {
		for len(backlog) > 0 {
			select {
			case q <- backlog[0]:
				backlog[0] = nil
				backlog = backlog[1:]
			default:
				return backlog
			}
		}
		return nil
	}
	c.callBacklog = move(c.calls, c.callBacklog)
	c.ackBacklog = move(c.acks, c.ackBacklog)
}

// run is the leader's life: load, subscribe, schedule until ctx ends.
func (c *core) run(ctx context.Context) error {
	defer close(c.done)
	s := c.s
	lctx, lcancel := context.WithTimeout(ctx, loadTimeout)
	err := c.load(lctx)
	var fid string
	if err == nil {
		fid, err = c.store.FrameworkID(lctx)
	}
	lcancel()
	if err != nil {
		return err
	}
	ft := mesos.Float(s.cfg.FailoverTimeout.Seconds())
	cp := true
	info := mesos.FrameworkInfo{User: s.cfg.User, Name: s.cfg.Name, Roles: []string{s.cfg.Role}, WebuiURL: s.url, FailoverTimeout: &ft, Checkpoint: &cp,
		Principal:    s.cfg.Trust.Credential.Principal,
		Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}, {Type: mesos.CapPartitionAware}}}
	if fid != "" {
		info.ID = &mesos.ID{Value: fid}
	}
	client, err := sched.New(sched.Config{Masters: s.cfg.Masters, Detector: s.cfg.Detector, Framework: info, BackoffMax: 5 * time.Second,
		HTTPClient: s.cfg.Trust.Client()},
		sched.HandlerFunc(func(ctx context.Context, _ *sched.Client, ev *mesos.Event) {
			select {
			case c.evs <- ev:
			case <-ctx.Done():
			}
		}), s.log)
	if err != nil {
		return err
	}
	// Under s.mu: /health reads it (see Service.kernelStatus).
	s.mu.Lock()
	c.client = client
	s.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		for cctx.Err() == nil {
			err := client.Run(cctx)
			if cctx.Err() != nil {
				return
			}
			if !s.resubscribe(client, err) {
				return
			}
			select {
			case <-cctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}()
	callerDone := make(chan struct{})
	go func() {
		defer close(callerDone)
		for {
			select {
			case <-cctx.Done():
				return
			case fn := <-c.calls:
				fctx, fcancel := context.WithTimeout(cctx, 30*time.Second)
				fn(fctx)
				fcancel()
			}
		}
	}()
	c.wr = newWriter(s.log)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.wr.Run(cctx) }()
	watcherDone := make(chan struct{})
	go func() { defer close(watcherDone); watch(cctx, c.store, s.log, c.news) }()
	notesDone := make(chan struct{})
	go func() { defer close(notesDone); c.notes.run(cctx) }()
	const ackers = 4
	ackersDone := make(chan struct{}, ackers)
	for i := 0; i < ackers; i++ {
		go func() {
			defer func() { ackersDone <- struct{}{} }()
			for {
				select {
				case <-cctx.Done():
					return
				case fn := <-c.acks:
					fctx, fcancel := context.WithTimeout(cctx, 30*time.Second)
					fn(fctx)
					fcancel()
				}
			}
		}()
	}
	c.loop(cctx)
	cancel()
	<-clientDone
	<-callerDone
	<-writerDone
	<-watcherDone
	<-notesDone
	for i := 0; i < ackers; i++ {
		<-ackersDone
	}
	return nil
}

// loadTimeout bounds reading the state a term starts from.
const loadTimeout = 30 * time.Second

// load reads jobs and active runs from Postgres.
func (c *core) load(ctx context.Context) error {
	recs, err := c.store.Jobs(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range recs {
		c.installJob(r, now)
	}
	runs, err := c.store.ActiveRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		c.track(r)
	}
	c.s.log.Info("scheduler loaded", "jobs", len(c.jobs), "active_runs", len(c.runs))
	return nil
}

func (c *core) track(r store.Run) {
	if _, ok := c.runs[r.ID]; ok {
		c.runs[r.ID].run = r
	} else {
		c.runs[r.ID] = &runState{run: r}
	}
	if r.TaskID != "" {
		c.byTask[r.TaskID] = r.ID
	}
}

func (c *core) untrack(id int64) {
	if rs := c.runs[id]; rs != nil && rs.run.TaskID != "" {
		delete(c.byTask, rs.run.TaskID)
	}
	delete(c.runs, id)
}

// installJob (re)loads a job definition from its record.
func (c *core) installJob(r store.JobRecord, now time.Time) {
	var j job.Job
	if err := json.Unmarshal(r.Spec, &j); err != nil {
		c.s.log.Error("unreadable job definition; ignoring it", "job", r.Name, "err", err)
		return
	}
	js := c.jobs[r.Name]
	if js != nil && js.version == r.Version {
		js.lastSeen = now
		return
	}
	cursor := r.LastScheduled
	if cursor.IsZero() {
		cursor = r.CreatedAt
	}
	ns := &jobState{job: j, spec: c.placementSpec(j), version: r.Version, cursor: cursor, lastSeen: now, created: r.CreatedAt}
	if js != nil && js.created.Equal(r.CreatedAt) {
		// The same job redefined: the record may predate occurrences
		// this scheduler recorded since, or is recording.
		ns.cursor = maxTime(cursor, js.cursor)
		ns.recording, ns.retryAt = js.recording, js.retryAt
	}
	if j.Schedule != "" {
		sch, err := schedule.Parse(j.Schedule, j.Timezone)
		if err != nil {
			c.s.log.Error("stored schedule no longer parses; job not scheduled", "job", r.Name, "err", err)
		} else {
			ns.sched = sch
			if js != nil && js.sched != nil && js.sched.String() != sch.String() {
				// A new schedule starts from now: past occurrences of the
				// old one are not the new one's.
				ns.cursor = maxTime(ns.cursor, now)
			}
			ns.next, _ = sch.Next(ns.cursor)
		}
	}
	c.jobs[r.Name] = ns
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// learn applies what the watcher read: jobs created, redefined or
// deleted, and the queued runs that any process's API wrote (manual and
// dependency runs); the runs this scheduler records it tracks as it
// records them, and load reads a predecessor's.
func (c *core) learn(n news) {
	now := time.Now()
	for _, r := range n.jobs {
		c.installJob(r, now)
	}
	if n.all {
		for name, js := range c.jobs {
			if js.lastSeen.Before(now) {
				delete(c.jobs, name)
			}
		}
	}
	for _, name := range n.deleted {
		delete(c.jobs, name)
	}
	for _, r := range n.runs {
		if _, ok := c.runs[r.ID]; !ok && c.gone[r.ID].IsZero() && r.State == stateQueued {
			c.track(r)
		}
	}
}

// goneFor is how long a finished run is remembered (see core.gone).
const goneFor = 10 * time.Minute

// loop is the leader's single owner goroutine.
func (c *core) loop(ctx context.Context) {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	forget := time.NewTicker(goneFor)
	defer forget.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-c.ops:
			fn(c)
		case ev := <-c.evs:
			c.handle(ev)
		case w := <-c.wr.Out():
			c.wr.Written(c, w)
		case n := <-c.news:
			c.learn(n)
		case <-c.pokes:
			// This process's API changed something: the watcher brings
			// it; meanwhile decide again. It may have ended a run (a job
			// marked successful), with notifications.
			c.notes.poke()
		case <-prune.C:
			c.prune()
		case now := <-forget.C:
			for id, at := range c.gone {
				if now.Sub(at) > goneFor {
					delete(c.gone, id)
				}
			}
		case <-timer.C:
		}
	drain:
		for i := 0; i < 512; i++ {
			select {
			case fn := <-c.ops:
				fn(c)
			case ev := <-c.evs:
				c.handle(ev)
			case w := <-c.wr.Out():
				c.wr.Written(c, w)
			case n := <-c.news:
				c.learn(n)
			default:
				break drain
			}
		}
		now := time.Now()
		c.schedule(now)
		c.timeouts(now)
		c.launch(now)
		c.flushRuns()
		c.moveCalls()
		timer.Reset(c.nextWake(time.Now()))
	}
}

// prune deletes old finished runs, through the writer.
func (c *core) prune() {
	st, cfg := c.store, c.s.cfg
	c.submit(&write{
		What: "pruning runs",
		Fn: func(ctx context.Context) error {
			_, err := st.PruneRuns(ctx, time.Now().Add(-cfg.Retention), cfg.KeepRuns)
			return err
		},
		Attempt:  time.Minute,
		Deadline: time.Now().Add(time.Minute),
		Done: func(c *core, err error) {
			if err != nil {
				c.s.log.Warn("cannot prune old runs", "err", err)
			}
		},
	})
}

// handle applies an event from the kernel.
func (c *core) handle(ev *mesos.Event) {
	c.event(ev)
	if ev.Type == mesos.EventSubscribed {
		c.restate = true
	}
}

// nextWake is how long to sleep: until the next occurrence to stage, the
// next queued run's not-before, or the next run deadline.
func (c *core) nextWake(now time.Time) time.Duration {
	wake := now.Add(time.Second)
	hold := c.s.cfg.OfferHold
	earlier := func(t time.Time) {
		if t.Before(wake) {
			wake = t
		}
	}
	for _, js := range c.jobs {
		switch {
		case js.recording || !c.canSubmit():
			// Woken by the writer's outcomes.
		case js.retryAt.After(now):
			earlier(js.retryAt)
		case !js.next.IsZero():
			// Staged stageAhead before, and offers sought (manageOffers)
			// hold before.
			earlier(js.next.Add(-max(stageAhead, hold)))
		}
	}
	for _, rs := range c.runs {
		r := rs.run
		// A run ready now waits for offers, which wake the loop.
		if r.State == stateQueued && !rs.claiming && r.NotBefore != nil && r.NotBefore.After(now) {
			earlier(*r.NotBefore)
			if t := r.NotBefore.Add(-hold); t.After(now) {
				earlier(t)
			}
		}
		if r.State == stateQueued && rs.retryAt.After(now) {
			earlier(rs.retryAt)
		}
		if r.Deadline != nil && r.State == stateRunning && rs.kill == "" {
			earlier(*r.Deadline)
		}
	}
	d := time.Until(wake)
	if d < 0 {
		d = 0
	}
	return d
}

// schedule records every occurrence that is due (or due within
// stageAhead): runs as QUEUED not before their time, missed and skipped
// ones with their reason. The records and the job's cursor move together
// in one transaction, and (job, scheduled time) is unique, so an
// occurrence is recorded exactly once whatever crashes or races. The
// writer stores them; recorded applies them once stored, and until then
// the jobs are not decided again.
func (c *core) schedule(now time.Time) {
	horizon := now.Add(stageAhead)
	var dueNames []string
	for name, js := range c.jobs {
		if js.sched != nil && !js.next.IsZero() && !js.next.After(horizon) && !js.recording && !js.retryAt.After(now) {
			dueNames = append(dueNames, name)
		}
	}
	if len(dueNames) == 0 || !c.canSubmit() {
		return
	}
	slices.Sort(dueNames)
	activeByJob := map[string]int{}
	for _, rs := range c.runs {
		if active(rs.run.State) {
			activeByJob[rs.run.Job]++
		}
	}
	var work []recording
	for _, name := range dueNames {
		js := c.jobs[name]
		occ := c.occurrences(js, activeByJob[name], horizon, now)
		if len(occ) == 0 {
			js.next, _ = js.sched.Next(js.cursor)
			continue
		}
		b := recording{name: name, created: js.created, cursor: occ[len(occ)-1].At}
		for _, o := range occ {
			at := o.At
			r := store.Run{Job: name, Trigger: "schedule", ScheduledFor: &at, DedupKey: "schedule:" + at.UTC().Format(time.RFC3339Nano),
				MaxAttempts: js.job.Retries + 1, QueuedAt: now, Reason: o.Reason}
			switch o.Outcome {
			case due.Run:
				r.State = stateQueued
				nb := at
				r.NotBefore = &nb
				b.replace = b.replace || o.ReplaceActive
			case due.Missed:
				r.State = stateMissed
				f := now
				r.FinishedAt = &f
			default:
				r.State = stateSkipped
				f := now
				r.FinishedAt = &f
			}
			if r.State != stateQueued {
				r.Notify = notifyTargets(js.job.Webhooks, js.job.Owner, &c.s.cfg, r.State)
				b.notified = b.notified || len(r.Notify) > 0
			}
			b.runs = append(b.runs, r)
		}
		js.recording = true
		work = append(work, b)
	}
	if len(work) == 0 {
		return
	}
	// Every due job's occurrences and cursor in one transaction of a few
	// statements: one commit per wake, however many jobs are due. A job
	// deleted meanwhile has nothing recorded (its stored runs are nil).
	st := c.store
	occ := make([]store.Occurrences, len(work))
	for i, b := range work {
		occ[i] = store.Occurrences{Job: b.name, Runs: b.runs, Cursor: b.cursor}
	}
	var stored [][]store.Run
	c.submit(&write{
		What: fmt.Sprintf("occurrences of %d jobs", len(work)),
		Fn: func(ctx context.Context) error {
			return st.Atomically(ctx, func(tx *store.Tx) error {
				var err error
				stored, err = tx.RecordManyOccurrences(ctx, occ)
				return err
			})
		},
		Deadline: now.Add(attemptTimeout),
		Done:     func(c *core, err error) { c.recorded(work, stored, err) },
	})
}

// recording is one job's due occurrences, as decided.
type recording struct {
	name    string
	created time.Time
	runs    []store.Run
	cursor  time.Time
	replace bool
	// notified: some of the runs come with notifications.
	notified bool
}

// recorded applies recorded occurrences: queued runs are tracked (the
// active runs they replace killed), missed and skipped ones published,
// and the jobs' cursors move. If they could not be recorded, the jobs are
// decided again a little later.
func (c *core) recorded(work []recording, stored [][]store.Run, err error) {
	now := time.Now()
	if err != nil {
		c.s.log.Warn("cannot record due runs; will retry", "jobs", len(work), "err", err)
	}
	for i, b := range work {
		if err == nil && b.notified {
			c.notes.poke()
		}
		js := c.jobs[b.name]
		if js != nil && !js.created.Equal(b.created) {
			js = nil // deleted and created again meanwhile
		}
		if js != nil {
			js.recording = false
		}
		if err != nil {
			if js != nil {
				js.retryAt = now.Add(retryDecision)
			}
			continue
		}
		if b.replace {
			for _, rs := range c.runs {
				if rs.run.Job == b.name && active(rs.run.State) {
					c.killRun(rs, "replaced by the run scheduled for "+b.cursor.UTC().Format(time.RFC3339), false)
				}
			}
		}
		for _, r := range stored[i] {
			switch r.State {
			case stateQueued:
				// Even if its job is gone: it is stored, and launch ends it.
				if c.gone[r.ID].IsZero() {
					c.track(r)
				}
			case stateMissed, stateSkipped:
				c.s.bus.Publish("run_"+strings.ToLower(string(r.State)), runEvent(r))
			}
		}
		if js == nil {
			continue
		}
		if b.cursor.After(js.cursor) {
			js.cursor = b.cursor
		}
		if js.sched != nil {
			js.next, _ = js.sched.Next(js.cursor)
		}
	}
}

// occurrences decides the job's occurrences up to horizon. Right after
// this scheduler took over, the window since the cursor may span downtime:
// due.Plan gives it at most one catch-up run and records the rest missed.
// Afterwards every occurrence was seen coming, so each is decided on its
// own: it runs (subject to the concurrency policy) unless the scheduler
// fell so far behind that it is already past its starting deadline.
func (c *core) occurrences(js *jobState, activeRuns int, horizon, now time.Time) []due.Occurrence {
	in := due.Input{Next: js.sched.Next, From: js.cursor, Now: horizon, StartingDeadline: deadlineOf(js.job),
		Policy: due.Policy(js.job.ConcurrencyPolicy), ActiveRuns: activeRuns, Disabled: js.job.Disabled}
	if !js.steady {
		js.steady = true
		return due.Plan(in)
	}
	dl := in.StartingDeadline
	if dl <= 0 {
		dl = due.DefaultStartingDeadline
	}
	var out []due.Occurrence
	for from := js.cursor; len(out) < 1000; {
		t, ok := js.sched.Next(from)
		if !ok || t.After(horizon) {
			break
		}
		if late := now.Sub(t); late > dl {
			out = append(out, due.Occurrence{At: t, Outcome: due.Missed,
				Reason: fmt.Sprintf("missed: the scheduler was %s behind; startingDeadlineSeconds is %g", late.Round(time.Millisecond), dl.Seconds())})
		} else {
			one := in
			one.From, one.Now = from, t
			for _, o := range due.Plan(one) {
				out = append(out, o)
				if o.Outcome == due.Run {
					in.ActiveRuns++
				}
			}
		}
		from = t
	}
	return out
}

// deadlineOf is the job's starting deadline (how late a run may still
// start).
func deadlineOf(j job.Job) time.Duration {
	return time.Duration(j.StartingDeadlineSeconds * float64(time.Second))
}

// timeouts kills runs past their deadline; they end FAILED.
func (c *core) timeouts(now time.Time) {
	for _, rs := range c.runs {
		r := rs.run
		if !rs.unreachableSince.IsZero() && active(r.State) && r.TaskID != "" && now.Sub(rs.unreachableSince) >= c.s.cfg.UnreachableTimeout {
			c.giveUp(rs, now)
			continue
		}
		if r.State == stateRunning && r.Deadline != nil && !now.Before(*r.Deadline) && rs.kill == "" {
			js := c.jobs[r.Job]
			limit := ""
			if js != nil {
				limit = strconv.FormatFloat(js.job.TimeoutSeconds, 'f', -1, 64) + "s"
			}
			c.killRun(rs, "timed out after "+limit, true)
		}
		// A run whose attempt found no fitting offer within the job's
		// launch delay fails (Metronome's maxLaunchDelay).
		if r.State == stateQueued && rs.kill == "" && !rs.claiming {
			if js := c.jobs[r.Job]; js != nil && js.job.MaxLaunchDelaySeconds > 0 {
				since := r.QueuedAt
				if r.NotBefore != nil && r.NotBefore.After(since) {
					since = *r.NotBefore
				}
				if now.Sub(since) >= time.Duration(js.job.MaxLaunchDelaySeconds*float64(time.Second)) {
					c.finish(rs, stateFailed, fmt.Sprintf("not launched within maxLaunchDelaySeconds %g: no offer fitted", js.job.MaxLaunchDelaySeconds), nil, now)
					continue
				}
			}
		}
		// Queued runs that can no longer start in time are missed.
		if r.State == stateQueued && r.Trigger == "schedule" && r.NotBefore != nil {
			if js := c.jobs[r.Job]; js != nil {
				dl := deadlineOf(js.job)
				if r.Attempt == 0 && dl > 0 && now.Sub(*r.NotBefore) > dl+time.Second && !c.subscribed {
					c.finish(rs, stateMissed, fmt.Sprintf("missed: could not start within startingDeadlineSeconds %g (no connection to the cluster)", js.job.StartingDeadlineSeconds), nil, now)
				}
			}
		}
	}
}

// giveUp ends the attempt of a run whose task has been unreachable for
// UnreachableTimeout: the attempt fails (a retry follows if retries
// remain) and the task is killed, now as far as the kernel can, and again
// should its agent come back (its updates then belong to no run).
func (c *core) giveUp(rs *runState, now time.Time) {
	r := rs.run
	tid, agent := r.TaskID, r.AgentID
	reason := fmt.Sprintf("task %s unreachable since %s (agent %s): given up after %s", tid, rs.unreachableSince.UTC().Format(time.RFC3339), agent, c.s.cfg.UnreachableTimeout)
	c.s.log.Warn("giving up on an unreachable task", "job", r.Job, "run", r.ID, "task", tid, "agent", agent)
	c.call(func(ctx context.Context) { _ = c.client.Kill(ctx, tid, agent) })
	rs.unreachableSince = time.Time{}
	c.failed(rs, reason, nil, now)
}

// killRun asks the kernel to kill a run's task, or ends a run that has
// none yet.
func (c *core) killRun(rs *runState, why string, fail bool) {
	if rs.kill != "" {
		return
	}
	rs.kill = why
	rs.failAfterKill = fail
	if rs.run.State == stateQueued || rs.run.TaskID == "" {
		state := stateKilled
		if fail {
			state = stateFailed
		}
		c.finish(rs, state, why, nil, time.Now())
		return
	}
	tid, agent := rs.run.TaskID, rs.run.AgentID
	c.s.log.Info("killing run", "job", rs.run.Job, "run", rs.run.ID, "why", why)
	c.call(func(ctx context.Context) { _ = c.client.Kill(ctx, tid, agent) })
}

// launch starts queued runs whose time has come on the offers held: the
// runs are claimed (QUEUED → STARTING) through the writer, and launched
// once the claims are stored (see claimed).
func (c *core) launch(now time.Time) {
	// Nothing launches under a framework id not yet durable, and no run
	// is claimed while a change of it waits for a batch: the claim would
	// land before it. Both go to the writer first.
	c.flushRuns()
	var ready []*runState
	for _, rs := range c.runs {
		r := rs.run
		if r.State != stateQueued || rs.kill != "" || rs.claiming || rs.retryAt.After(now) {
			continue
		}
		if r.NotBefore != nil && r.NotBefore.After(now) {
			continue
		}
		if _, pending := c.pendRuns[r.ID]; pending {
			continue
		}
		ready = append(ready, rs)
	}
	if !c.client.Connected() {
		// Offers die with the subscription: the runs wait for the next
		// one rather than being claimed for launches that must bounce.
		clear(c.offers)
		return
	}
	c.manageOffers(len(ready) > 0, now)
	if len(ready) == 0 || len(c.offers) == 0 || c.fid != "" || !c.canSubmit() {
		return
	}
	// Bound one launch round: a backlog must not become one enormous
	// ACCEPT. The rest go out on the next wake, oldest first.
	ready = oldestRuns(ready, maxLaunchBatch)
	pool := c.offerPool()
	var picks []pick
	for _, rs := range ready {
		js := c.jobs[rs.run.Job]
		if js == nil {
			// A run may reach the loop before its new job does (the API
			// hands its runs over at once, the watcher brings jobs).
			if now.Sub(rs.run.QueuedAt) >= unknownJobGrace {
				c.finish(rs, stateFailed, "job was deleted before the run started", nil, now)
			}
			continue
		}
		placed, _ := place.Place(js.spec, 1, pool, nil)
		if len(placed) == 0 {
			continue
		}
		p := placed[0]
		for i := range pool {
			if pool[i].ID == p.OfferID {
				pool[i].Resources = pool[i].Resources.Sub(p.Resources)
			}
		}
		picks = append(picks, pick{rs, p})
	}
	if len(picks) == 0 {
		return
	}
	// Claim the runs (QUEUED → STARTING) in one statement: a run another
	// process already claimed is not launched twice.
	var claims []store.Run
	for _, l := range picks {
		r := l.rs.run
		ms := now.UnixMilli()
		if r.ScheduledFor != nil {
			ms = r.ScheduledFor.UnixMilli()
		}
		r.TaskID = job.TaskID(ms, r.Attempt, r.Job, r.ID)
		r.State = stateStarting
		r.AgentID, r.Host = l.p.AgentID, l.p.Hostname
		claims = append(claims, r)
		l.rs.claiming = true
	}
	// The offers go with the claim: nothing else may use or decline them.
	held := map[string]*mesos.Offer{}
	for _, l := range picks {
		if o := c.offers[l.p.OfferID]; o != nil {
			held[l.p.OfferID] = o
			delete(c.offers, l.p.OfferID)
		}
	}
	st := c.store
	var won []store.Run
	c.submit(&write{
		What: fmt.Sprintf("claiming %d runs", len(claims)),
		Fn: func(ctx context.Context) error {
			var err error
			won, err = st.TransitionRuns(ctx, []store.State{stateQueued}, claims)
			return err
		},
		Deadline: now.Add(attemptTimeout),
		Done:     func(c *core, err error) { c.claimed(picks, held, won, err) },
	})
}

// unknownJobGrace is how long a queued run whose job the loop does not
// know waits for it before it fails.
const unknownJobGrace = 10 * time.Second

// pick is a run placed on an offer.
type pick struct {
	rs *runState
	p  place.Placement
}

// claimed launches the runs whose claims were stored, except those ended
// meanwhile (a stop through the API); runs another process claimed are
// forgotten. If the claims could not be stored the runs are claimed again
// a little later, and their offers declined without a filter.
func (c *core) claimed(picks []pick, held map[string]*mesos.Offer, won []store.Run, err error) {
	now := time.Now()
	for _, l := range picks {
		l.rs.claiming = false
	}
	if err != nil {
		c.s.log.Warn("cannot claim runs; will retry", "runs", len(picks), "err", err)
		for _, l := range picks {
			l.rs.retryAt = now.Add(retryDecision)
		}
		for _, o := range held {
			oid := o.ID
			c.call(func(ctx context.Context) {
				_ = c.client.Decline(ctx, []mesos.ID{oid}, &mesos.Filters{RefuseSeconds: fsecs(0)})
			})
		}
		return
	}
	winners := map[int64]store.Run{}
	for _, r := range won {
		winners[r.ID] = r
	}
	byOffer := map[string][]mesos.TaskInfo{}
	for _, l := range picks {
		r, ok := winners[l.rs.run.ID]
		if !ok {
			if c.runs[l.rs.run.ID] == l.rs {
				c.untrack(l.rs.run.ID) // someone else has it
			}
			continue
		}
		if c.runs[r.ID] != l.rs || l.rs.kill != "" {
			// Ended while its claim was with the writer: its end is
			// stored after the claim, and it is not launched.
			continue
		}
		js := c.jobs[r.Job]
		if js == nil {
			c.finish(l.rs, stateFailed, "job was deleted before the run started", nil, now)
			continue
		}
		c.track(r)
		byOffer[l.p.OfferID] = append(byOffer[l.p.OfferID], c.taskInfo(js.job, r, l.p))
		if o := held[l.p.OfferID]; o != nil && o.URL != nil {
			// Where the run's stdout and stderr can be read.
			fid := c.client.FrameworkID()
			host := o.URL.Address.Hostname
			if host == "" {
				host = o.URL.Address.IP
			}
			r.Sandbox = fmt.Sprintf("%s://%s/files/browse?path=%s/%s", o.URL.Scheme, net.JoinHostPort(host, strconv.Itoa(int(o.URL.Address.Port))), fid, url.QueryEscape(r.TaskID))
			c.runs[r.ID].run.Sandbox = r.Sandbox
		}
		c.s.bus.Publish("run_starting", runEvent(r))
	}
	for oid, o := range held {
		id := o.ID
		tasks := byOffer[oid]
		if len(tasks) == 0 {
			c.call(func(ctx context.Context) {
				_ = c.client.Decline(ctx, []mesos.ID{id}, &mesos.Filters{RefuseSeconds: fsecs(0)})
			})
			continue
		}
		c.call(func(ctx context.Context) {
			if err := c.client.Launch(ctx, []mesos.ID{id}, tasks, &mesos.Filters{RefuseSeconds: fsecs(0)}); err != nil {
				c.s.log.Warn("launch failed; the runs go back to the queue", "tasks", len(tasks), "err", err)
				ids := make([]string, len(tasks))
				for i, t := range tasks {
					ids[i] = t.TaskID.Value
				}
				// The kernel never saw these tasks: queue the runs again.
				select {
				case c.ops <- func(c *core) { c.requeue(ids) }:
				case <-ctx.Done():
				}
			}
		})
	}
}

// oldestRuns returns the (at most) n runs that have waited longest, in
// that order: by not-before time (queue time for runs without one), then
// by id. It reorders rs.
func oldestRuns(rs []*runState, n int) []*runState {
	type keyed struct {
		at time.Time
		id int64
		rs *runState
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		at := r.run.QueuedAt
		if r.run.NotBefore != nil {
			at = *r.run.NotBefore
		}
		ks[i] = keyed{at, r.run.ID, r}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	if len(ks) > n {
		ks = ks[:n]
	}
	out := rs[:len(ks)]
	for i, k := range ks {
		out[i] = k.rs
	}
	return out
}

// maxLaunchBatch bounds the runs launched in one round.
const maxLaunchBatch = 500

// requeue puts runs whose launch never reached the kernel back in the
// queue, as they were before they were claimed.
func (c *core) requeue(taskIDs []string) {
	for _, tid := range taskIDs {
		id, ok := c.byTask[tid]
		rs := c.runs[id]
		if !ok || rs == nil || rs.run.State != stateStarting {
			continue
		}
		delete(c.byTask, tid)
		r := rs.run
		r.State = stateQueued
		r.TaskID, r.AgentID, r.Host, r.Sandbox = "", "", "", ""
		rs.run = r
		c.pend(r)
	}
}

// placementSpec is what the placement planner needs of a job's run.
func (c *core) placementSpec(j job.Job) place.Demand {
	cfg := c.s.cfg
	spec := place.Demand{CPUs: orDefault(j.CPUs, cfg.DefaultCPUs), Mem: orDefault(j.Mem, cfg.DefaultMem), Disk: orDefault(j.Disk, cfg.DefaultDisk),
		Docker: j.Container != nil}
	for _, cs := range j.Constraints {
		if len(cs) < 2 {
			continue
		}
		op := strings.ToUpper(cs[1])
		if op == "EQUALS" {
			op = "IS"
		}
		val := ""
		if len(cs) > 2 {
			val = cs[2]
		}
		spec.Constraints = append(spec.Constraints, place.Constraint{Field: cs[0], Operator: op, Value: val})
	}
	return spec
}

func orDefault(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}

func fsecs(s float64) *mesos.Float { v := mesos.Float(s); return &v }

// offerState is what the offer decision looks at.
type offerState struct {
	// soon: runs are ready, due within the offer hold, or about to be
	// queued (children of runs that finished).
	soon bool
	// short: some of that work fits none of the offers held (or, for
	// children not yet queued, no offer is held).
	short bool
	// spare is how many held offers none of that work would be placed on.
	spare int
	// next is the next scheduled occurrence, zero if none.
	next time.Time
	// restate: the framework (re)subscribed; send the wish even if sent
	// before.
	restate    bool
	suppressed bool
	held       int // offers held
	revivedAt  time.Time
	declinedAt time.Time
	// fitsDeclined: some work the held offers cannot take would fit an
	// offer declined as spare since the last revive.
	fitsDeclined bool
}

// offerMove is what the loop does about offers now.
type offerMove struct {
	revive bool
	// decline every held offer (all), or only the spare ones (spare),
	// with a refuse filter of refuse seconds.
	decline, spare bool
	refuse         float64
	suppress       bool
}

// decideOffers keeps only the offers that work due within the hold would
// be placed on, and declines the others, so that what the jobs will not
// use now goes to other frameworks; with no work soon it declines every
// offer until shortly before the next occurrence, and with nothing
// scheduled at all it suppresses. Offers declined earlier carry refuse
// filters, so when the work coming fits the offers held no longer it
// revives (which clears them): at once if every offer was declined since
// the last revive, or the work would fit an offer declined as spare
// since, else at most once a second (none may be free). After a
// (re)subscription it sends the wish it derives even if it sent the same
// before. It is pure.
func decideOffers(s offerState, hold time.Duration, now time.Time) offerMove {
	refuse := 60.0
	if !s.next.IsZero() {
		refuse = max(0.5, s.next.Sub(now).Seconds()-hold.Seconds())
	}
	if s.soon {
		m := offerMove{decline: s.spare > 0, spare: true, refuse: max(refuse, spareRefuse)}
		if s.restate || s.suppressed || (s.short && (now.Sub(s.revivedAt) > time.Second || s.declinedAt.After(s.revivedAt) || s.fitsDeclined)) {
			m.revive = true
		}
		if !m.decline {
			m.spare, m.refuse = false, 0
		}
		return m
	}
	return offerMove{decline: s.held > 0, refuse: refuse, suppress: s.next.IsZero() && (s.restate || !s.suppressed)}
}

// spareRefuse is the least refuse filter on spare offers declined while
// work is coming: a revive clears it should the work need them after all.
const spareRefuse = 5.0

// need is n runs of one demand.
type need struct {
	place.Demand
	n int
}

// spareOffers places each need, in order, on the offers as launch would,
// and returns the ids of the offers none of them takes, and the runs that
// fit none (short). It is pure.
func spareOffers(needs []need, pool []place.Offer) (spare []string, short []need) {
	pool = slices.Clone(pool)
	used := map[string]bool{}
	for _, d := range needs {
		placed, _ := place.Place(d.Demand, d.n, pool, nil)
		if len(placed) < d.n {
			short = append(short, need{d.Demand, d.n - len(placed)})
		}
		for _, p := range placed {
			used[p.OfferID] = true
			for i := range pool {
				if pool[i].ID == p.OfferID {
					pool[i].Resources = pool[i].Resources.Sub(p.Resources)
				}
			}
		}
	}
	for _, o := range pool {
		if !used[o.ID] {
			spare = append(spare, o.ID)
		}
	}
	slices.Sort(spare)
	return spare, short
}

// fitsAny reports whether one run of some need fits one of the offers.
// It is pure.
func fitsAny(needs []need, offers []place.Offer) bool {
	if len(offers) == 0 {
		return false
	}
	slices.SortFunc(offers, func(a, b place.Offer) int { return strings.Compare(a.ID, b.ID) })
	for _, d := range needs {
		if placed, _ := place.Place(d.Demand, 1, offers, nil); len(placed) > 0 {
			return true
		}
	}
	return false
}

// needsOf sums the runs coming by job into needs, in job name order; jobs
// that ask for the same plain resources (no ports, no constraints) share
// one need, so that placing them costs one placement whatever their
// number.
func needsOf(coming map[string]int, jobs map[string]*jobState) []need {
	type plain struct {
		cpus, mem, disk, gpus float64
		docker                bool
	}
	var needs []need
	shared := map[plain]int{} // index in needs
	for _, name := range slices.Sorted(maps.Keys(coming)) {
		d := jobs[name].spec
		if len(d.Ports) > 0 || len(d.Constraints) > 0 {
			needs = append(needs, need{d, coming[name]})
			continue
		}
		k := plain{d.CPUs, d.Mem, d.Disk, d.GPUs, d.Docker}
		if i, ok := shared[k]; ok {
			needs[i].n += coming[name]
			continue
		}
		shared[k] = len(needs)
		needs = append(needs, need{d, coming[name]})
	}
	return needs
}

// offerPool is the held offers as placement sees them, in id order.
func (c *core) offerPool() []place.Offer {
	pool := make([]place.Offer, 0, len(c.offers))
	for _, o := range c.offers {
		res, _ := resource.FromWire(o.Resources)
		pool = append(pool, place.Offer{ID: o.ID.Value, AgentID: o.AgentID.Value, Hostname: o.Hostname, Attributes: textAttributes(o.Attributes), Resources: res})
	}
	sort.Slice(pool, func(i, j int) bool { return pool[i].ID < pool[j].ID })
	return pool
}

// manageOffers applies decideOffers to the loop's state. The work coming
// is every queued run due within the offer hold (readyNow: some are due
// now), the occurrences due within it not yet queued, and the children of
// finished runs about to be queued.
func (c *core) manageOffers(readyNow bool, now time.Time) {
	if !c.subscribed {
		return
	}
	hold := c.s.cfg.OfferHold
	horizon := now.Add(hold)
	children := c.childrenComing()
	s := offerState{soon: readyNow || children, restate: c.restate, suppressed: c.suppressed,
		held: len(c.offers), revivedAt: c.revivedAt, declinedAt: c.declinedAt}
	c.restate = false
	// Runs coming, by job.
	coming := map[string]int{}
	for name, js := range c.jobs {
		if js.next.IsZero() || js.job.Disabled {
			continue
		}
		if s.next.IsZero() || js.next.Before(s.next) {
			s.next = js.next
		}
		if !js.next.After(horizon) {
			coming[name]++
		}
	}
	for _, rs := range c.runs {
		r := rs.run
		if r.State != stateQueued || rs.claiming || rs.kill != "" || (r.NotBefore != nil && r.NotBefore.After(horizon)) {
			continue
		}
		if c.jobs[r.Job] != nil {
			coming[r.Job]++
		}
	}
	s.soon = s.soon || len(coming) > 0
	var (
		spare   []string
		unfit   []need // the work the held offers cannot take
		pool    []place.Offer
		byOffer map[string]place.Offer
	)
	switch {
	case s.soon && s.held == 0:
		s.short = true
	case s.soon:
		pool = c.offerPool()
		spare, unfit = spareOffers(needsOf(coming, c.jobs), pool)
		s.spare = len(spare)
		s.short = len(unfit) > 0
	}
	if s.short && len(c.spareDeclined) > 0 {
		if s.held == 0 {
			unfit = needsOf(coming, c.jobs)
		}
		// Children about to be queued are not in the needs yet: any
		// offer declined as spare may be theirs.
		s.fitsDeclined = children || fitsAny(unfit, slices.Collect(maps.Values(c.spareDeclined)))
	}
	m := decideOffers(s, hold, now)
	role := c.s.cfg.Role
	if m.revive {
		c.suppressed = false
		c.revivedAt = now
		c.spareDeclined = nil
		c.call(func(ctx context.Context) { _ = c.client.Revive(ctx, role) })
	}
	if m.decline {
		if !m.spare {
			// Declining everything lets the next need revive at once.
			// Spare offers go back because nothing due wants them: the
			// next need revives at once only if it would fit one (see
			// spareDeclined), so that a run that fits nowhere does not
			// bring them straight back to be declined again.
			c.declinedAt = now
		} else {
			byOffer = make(map[string]place.Offer, len(pool))
			for _, o := range pool {
				byOffer[o.ID] = o
			}
		}
		ids := spare
		if !m.spare {
			ids = slices.Sorted(maps.Keys(c.offers))
		}
		for _, id := range ids {
			o := c.offers[id]
			if o == nil {
				continue
			}
			if po, ok := byOffer[id]; ok {
				if c.spareDeclined == nil {
					c.spareDeclined = map[string]place.Offer{}
				}
				c.spareDeclined[po.AgentID] = po
			}
			oid := o.ID
			delete(c.offers, id)
			c.call(func(ctx context.Context) {
				_ = c.client.Decline(ctx, []mesos.ID{oid}, &mesos.Filters{RefuseSeconds: fsecs(m.refuse)})
			})
		}
	}
	if m.suppress {
		c.suppressed = true
		c.call(func(ctx context.Context) { _ = c.client.Suppress(ctx, role) })
	}
}

// taskInfo builds the kernel task of a run. The task runs as the job's
// user (CommandInfo.user) when it names one; otherwise it names none, and
// the agent runs it as the framework's user. The agent fetches the job's
// files (CommandInfo.uris) into the sandbox before the command starts.
//
// A job with a container runs as a DOCKER container (see
// dockerContainer), its command as Mesos runs one in an image: a shell
// command through /bin/sh -c, an argument vector as the container's
// command after the image's entrypoint, no command as the image's own.
func (c *core) taskInfo(j job.Job, r store.Run, p place.Placement) mesos.TaskInfo {
	cmd := &mesos.CommandInfo{User: j.User}
	noShell := func() *bool { f := false; return &f }
	if j.Command != "" {
		cmd.Value = j.Command
		if !j.Shell {
			cmd.Shell = noShell()
			fields := strings.Fields(j.Command)
			cmd.Value = fields[0]
			cmd.Arguments = append(fields, r.Arguments...)
		} else if len(r.Arguments) > 0 {
			cmd.Value += " " + shellQuote(r.Arguments)
		}
	} else if len(j.Args) > 0 {
		cmd.Shell = noShell()
		cmd.Value = j.Args[0]
		cmd.Arguments = append(append([]string{}, j.Args...), r.Arguments...)
	}
	switch {
	case j.Container == nil:
	case j.Command == "" && len(j.Args) == 0:
		// The image's own command; a run's arguments replace its CMD,
		// after its entrypoint.
		cmd.Shell, cmd.Arguments = noShell(), r.Arguments
	case !cmd.IsShell():
		// Mesos runs value, then the arguments, as the container's
		// command: the argument vector is all of it.
		cmd.Value = ""
	}
	env := &mesos.Environment{}
	for _, k := range sortedKeys(j.Env) {
		env.Variables = append(env.Variables, mesos.Variable{Name: k, Value: j.Env[k]})
	}
	env.Variables = append(env.Variables,
		mesos.Variable{Name: "CORRAL_JOB", Value: j.Name},
		mesos.Variable{Name: "CORRAL_RUN_ID", Value: strconv.FormatInt(r.ID, 10)},
		mesos.Variable{Name: "CHRONOS_JOB_NAME", Value: j.Name},
		mesos.Variable{Name: "CHRONOS_JOB_OWNER", Value: j.Owner},
	)
	if r.ScheduledFor != nil {
		env.Variables = append(env.Variables, mesos.Variable{Name: "CORRAL_SCHEDULED_FOR", Value: r.ScheduledFor.UTC().Format(time.RFC3339Nano)})
	}
	cmd.Environment = env
	cmd.URIs = commandURIs(j)
	ti := mesos.TaskInfo{
		Name: "ChronosTask:" + j.Name, TaskID: mesos.ID{Value: r.TaskID}, AgentID: mesos.ID{Value: p.AgentID},
		Resources: p.Resources.Wire(c.s.cfg.Role), Command: cmd, Container: dockerContainer(j.Container),
	}
	if j.KillGracePeriodSeconds > 0 {
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(int64(j.KillGracePeriodSeconds * float64(time.Second)))}}
	}
	return ti
}

// dockerContainer is the kernel container of a job's container, nil for
// none: a DOCKER container of its image, network (a USER network named
// in network_infos), volumes and docker parameters.
func dockerContainer(jc *job.Container) *mesos.ContainerInfo {
	if jc == nil {
		return nil
	}
	info := &mesos.DockerInfo{Image: jc.Image, Network: mesos.NetworkHost, ForcePullImage: jc.ForcePullImage}
	c := &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: info}
	switch jc.Network {
	case job.NetworkBridge:
		info.Network = mesos.NetworkBridge
	case job.NetworkUser:
		info.Network = mesos.NetworkUser
		c.NetworkInfos = []mesos.NetworkInfo{{Name: jc.NetworkName}}
	}
	for _, p := range jc.Parameters {
		info.Parameters = append(info.Parameters, mesos.Parameter{Key: p.Key, Value: p.Value})
	}
	for _, v := range jc.Volumes {
		c.Volumes = append(c.Volumes, mesos.Volume{ContainerPath: v.ContainerPath, HostPath: v.HostPath, Mode: v.Mode})
	}
	return c
}

// commandURIs maps the job's files (job.Fetches: its uris with Mesos'
// defaults, then its fetch) to CommandInfo.uris.
func commandURIs(j job.Job) []mesos.CommandURI {
	var out []mesos.CommandURI
	for _, f := range j.Fetches() {
		out = append(out, mesos.CommandURI{Value: f.URI, Executable: &f.Executable, Extract: &f.Extract,
			Cache: &f.Cache, OutputFile: f.OutputFile})
	}
	return out
}

// shellQuote quotes arguments for appending to a shell command.
func shellQuote(args []string) string {
	var out []string
	for _, a := range args {
		out = append(out, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(out, " ")
}

func textAttributes(as []mesos.Attribute) map[string]string {
	out := map[string]string{}
	for _, a := range as {
		switch {
		case a.Text != nil:
			out[a.Name] = a.Text.Value
		case a.Scalar != nil:
			out[a.Name] = strconv.FormatFloat(float64(a.Scalar.Value), 'f', -1, 64)
		}
	}
	return out
}
