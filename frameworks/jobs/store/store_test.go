package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"corral/internal/migrate"
	"corral/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// newDB returns the URL of a freshly migrated database.
func newDB(t *testing.T) string {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatalf("migrate.Up: %v", err)
	}
	return db
}

// open returns a store on db, closed when t ends.
func open(t *testing.T, db string) *Store {
	t.Helper()
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore returns a store on a freshly migrated database.
func newStore(t *testing.T) *Store {
	t.Helper()
	return open(t, newDB(t))
}

var spec = json.RawMessage(`{"command":"true"}`)

// putJob stores job name (version v1) with the given parents.
func putJob(t *testing.T, s *Store, name string, parents ...string) {
	t.Helper()
	if err := s.PutJob(t.Context(), name, "v1", spec, parents); err != nil {
		t.Fatalf("PutJob(%q, %v): %v", name, parents, err)
	}
}

// finishedRun inserts a manual run of job in state.
func finishedRun(t *testing.T, s *Store, job string, state State) Run {
	t.Helper()
	r, created, err := s.InsertRun(t.Context(), Run{Job: job, Trigger: TriggerManual, State: state})
	if err != nil || !created {
		t.Fatalf("InsertRun(%s %s) = %v, %v", job, state, created, err)
	}
	return r
}

func at(h, m, s int) time.Time { return time.Date(2026, 3, 1, h, m, s, 0, time.UTC) }

func TestFrameworkID(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if id, err := s.FrameworkID(ctx); id != "" || err != nil {
		t.Fatalf("FrameworkID on empty store = %q, %v; want \"\", nil", id, err)
	}
	for _, id := range []string{"fw-1", "fw-2", "fw-2"} {
		if err := s.SetFrameworkID(ctx, id); err != nil {
			t.Fatalf("SetFrameworkID(%q): %v", id, err)
		}
		if got, err := s.FrameworkID(ctx); got != id || err != nil {
			t.Errorf("FrameworkID() = %q, %v; want %q, nil", got, err, id)
		}
	}
	if err := s.SetFrameworkID(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetFrameworkID(\"\") = %v; want ErrInvalid", err)
	}
}

func TestJobs(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.Job(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Job(unknown) err = %v; want ErrNotFound", err)
	}
	putJob(t, s, "a")
	first, err := s.Job(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "a" || first.Version != "v1" || string(first.Spec) != `{"command": "true"}` ||
		!first.LastScheduled.IsZero() || first.CreatedAt.IsZero() || !first.UpdatedAt.Equal(first.CreatedAt) {
		t.Errorf("Job after PutJob = %+v", first)
	}
	putJob(t, s, "a") // the same again changes nothing
	if again, err := s.Job(ctx, "a"); err != nil || !cmp.Equal(first, again) {
		t.Errorf("Job after repeated PutJob = %+v, %v; want %+v", again, err, first)
	}
	if err := s.PutJob(ctx, "a", "v2", json.RawMessage(`{"command":"false"}`), nil); err != nil {
		t.Fatal(err)
	}
	second, err := s.Job(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if second.Version != "v2" || !second.CreatedAt.Equal(first.CreatedAt) || second.UpdatedAt.Before(first.UpdatedAt) {
		t.Errorf("Job after update = %+v; first %+v", second, first)
	}
	putJob(t, s, "b", "a")
	jobs, err := s.Jobs(ctx)
	if err != nil || len(jobs) != 2 || jobs[0].Name != "a" || jobs[1].Name != "b" {
		t.Errorf("Jobs() = %+v, %v; want a, b", jobs, err)
	}

	for _, c := range []struct {
		name, job, version string
		spec               string
		parents            []string
	}{
		{"empty name", "", "v1", `{}`, nil},
		{"empty version", "x", "", `{}`, nil},
		{"not an object", "x", "v1", `[1]`, nil},
		{"bad json", "x", "v1", `{`, nil},
		{"own parent", "x", "v1", `{}`, []string{"x"}},
		{"unknown parent", "x", "v1", `{}`, []string{"a", "nope"}},
		{"empty parent", "x", "v1", `{}`, []string{""}},
	} {
		if err := s.PutJob(ctx, c.job, c.version, json.RawMessage(c.spec), c.parents); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutJob %s = %v; want ErrInvalid", c.name, err)
		}
	}
	if _, err := s.Job(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused PutJob stored the job: Job(x) err = %v", err)
	}
}

func TestAdvanceCursor(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	for _, c := range []struct {
		to, want time.Time
	}{
		{at(10, 0, 0), at(10, 0, 0)},
		{at(9, 0, 0), at(10, 0, 0)}, // never back
		{at(11, 0, 0).Add(1500 * time.Nanosecond), at(11, 0, 0).Add(time.Microsecond)},
	} {
		if err := s.AdvanceCursor(ctx, "a", c.to); err != nil {
			t.Fatal(err)
		}
		j, err := s.Job(ctx, "a")
		if err != nil || !j.LastScheduled.Equal(c.want) {
			t.Errorf("after AdvanceCursor(%v): LastScheduled = %v, %v; want %v", c.to, j.LastScheduled, err, c.want)
		}
	}
	if err := s.AdvanceCursor(ctx, "nope", at(1, 0, 0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("AdvanceCursor(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.AdvanceCursor(ctx, "a", time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AdvanceCursor(zero) = %v; want ErrInvalid", err)
	}
}

func TestKeys(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	for _, c := range []struct {
		got, want string
	}{
		{ScheduleKey(time.Date(2026, 3, 1, 11, 0, 0, 0, loc)), "schedule:2026-03-01T10:00:00Z"},
		{ScheduleKey(time.Date(2026, 3, 1, 10, 0, 0, 250_000_999, time.UTC)), "schedule:2026-03-01T10:00:00.25Z"},
		{DependencyKey([]int64{12, 3, 40}), "dep:3,12,40"},
		{DependencyKey([]int64{7}), "dep:7"},
	} {
		if c.got != c.want {
			t.Errorf("key = %q; want %q", c.got, c.want)
		}
	}
}

func TestInsertRun(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	when := at(10, 0, 0)
	exit := 3
	in := Run{
		Job: "a", Trigger: TriggerSchedule, ScheduledFor: &when, MaxAttempts: 3,
		Arguments: []string{"-v", "x y"}, Reason: "due", ExitStatus: &exit, NotBefore: &when,
		QueuedAt: when.Add(-time.Second),
	}
	r, created, err := s.InsertRun(ctx, in)
	if err != nil || !created {
		t.Fatalf("InsertRun = %v, %v; want created", created, err)
	}
	want := in
	want.ID, want.DedupKey, want.State = r.ID, "schedule:2026-03-01T10:00:00Z", StateQueued
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("InsertRun returned (-want +got):\n%s", diff)
	}
	if got, err := s.Run(ctx, r.ID); err != nil || !cmp.Equal(r, got) {
		t.Errorf("Run(%d) = %+v, %v; want %+v", r.ID, got, err, r)
	}

	// The same occurrence again, even in another zone and with other
	// fields (and a wrong key), is the same run.
	again := Run{Job: "a", Trigger: TriggerSchedule, ScheduledFor: ptr(when.In(time.FixedZone("Y", -7200))), State: StateSkipped, DedupKey: "junk"}
	r2, created, err := s.InsertRun(ctx, again)
	if err != nil || created || !cmp.Equal(r, r2) {
		t.Errorf("InsertRun of the same occurrence = %+v, %v, %v; want the first run, not created", r2, created, err)
	}
	// Another job's run of the same time is its own.
	if _, created, err := s.InsertRun(ctx, Run{Job: "b", Trigger: TriggerSchedule, ScheduledFor: &when}); err != nil || !created {
		t.Errorf("InsertRun for another job = %v, %v; want created", created, err)
	}

	// Manual runs get fresh keys unless given one.
	m1, c1, err1 := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
	m2, c2, err2 := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
	if err1 != nil || err2 != nil || !c1 || !c2 || m1.DedupKey == m2.DedupKey || m1.MaxAttempts != 1 || m1.ScheduledFor != nil {
		t.Errorf("two manual runs: %+v %v %v, %+v %v %v", m1, c1, err1, m2, c2, err2)
	}
	k1, _, _ := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, DedupKey: "manual:req-1"})
	k2, c, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, DedupKey: "manual:req-1"})
	if err != nil || c || k1.ID != k2.ID {
		t.Errorf("manual run with a repeated key = %d, %v, %v; want run %d, not created", k2.ID, c, err, k1.ID)
	}

	// Dependency runs: the key follows the sorted parent runs.
	d, created, err := s.InsertRun(ctx, Run{Job: "d", Trigger: TriggerDependency, TriggeredBy: []int64{9, 4}})
	if err != nil || !created || d.DedupKey != "dep:4,9" || !slices.Equal(d.TriggeredBy, []int64{4, 9}) {
		t.Errorf("dependency run = %+v, %v, %v", d, created, err)
	}

	for _, c := range []struct {
		name string
		r    Run
	}{
		{"no job", Run{Trigger: TriggerManual}},
		{"bad trigger", Run{Job: "a", Trigger: "cron"}},
		{"bad state", Run{Job: "a", Trigger: TriggerManual, State: "DONE"}},
		{"scheduled without time", Run{Job: "a", Trigger: TriggerSchedule}},
		{"dependency without parents", Run{Job: "a", Trigger: TriggerDependency}},
		{"negative attempts", Run{Job: "a", Trigger: TriggerManual, MaxAttempts: -1}},
	} {
		if _, _, err := s.InsertRun(ctx, c.r); !errors.Is(err, ErrInvalid) {
			t.Errorf("InsertRun %s = %v; want ErrInvalid", c.name, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestRecordOccurrencesRace has two processes (two stores) plan the same
// occurrences of the same jobs at the same time, batch after batch: every
// occurrence must be stored once, both must see the same runs, and the
// cursor must end at the last one.
func TestRecordOccurrencesRace(t *testing.T) {
	db := newDB(t)
	s1, s2 := open(t, db), open(t, db)
	ctx := t.Context()
	jobs := []string{"j1", "j2", "j3"}
	for _, j := range jobs {
		putJob(t, s1, j)
	}
	const batches, perBatch = 20, 5
	start := at(0, 0, 0)
	occurrence := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) }

	type result struct {
		ids map[string][]int64 // job → run ids, in occurrence order
		err error
	}
	// One racer records job by job, the other every job at once.
	race := func(s *Store, many bool) result {
		res := result{ids: map[string][]int64{}}
		for b := range batches {
			var occ []Occurrences
			for _, j := range jobs {
				var runs []Run
				for i := b * perBatch; i < (b+1)*perBatch; i++ {
					when := occurrence(i)
					state := StateQueued
					if i%3 == 0 {
						state = StateMissed
					}
					runs = append(runs, Run{Trigger: TriggerSchedule, ScheduledFor: &when, State: state})
				}
				occ = append(occ, Occurrences{Job: j, Runs: runs, Cursor: occurrence((b+1)*perBatch - 1)})
			}
			var stored [][]Run
			err := s.Atomically(ctx, func(tx *Tx) error {
				if many {
					var err error
					stored, err = tx.RecordManyOccurrences(ctx, occ)
					return err
				}
				stored = nil
				for _, o := range occ {
					rs, err := tx.RecordOccurrences(ctx, o.Job, o.Runs, o.Cursor)
					if err != nil {
						return err
					}
					stored = append(stored, rs)
				}
				return nil
			})
			if err != nil {
				res.err = err
				return res
			}
			for i, j := range jobs {
				for _, r := range stored[i] {
					res.ids[j] = append(res.ids[j], r.ID)
				}
			}
		}
		return res
	}
	var wg sync.WaitGroup
	var r1, r2 result
	wg.Go(func() { r1 = race(s1, true) })
	wg.Go(func() { r2 = race(s2, false) })
	wg.Wait()
	if r1.err != nil || r2.err != nil {
		t.Fatalf("RecordOccurrences: %v, %v", r1.err, r2.err)
	}
	for _, j := range jobs {
		if len(r1.ids[j]) != batches*perBatch || !slices.Equal(r1.ids[j], r2.ids[j]) {
			t.Errorf("job %s: the racers saw different runs:\n%v\n%v", j, r1.ids[j], r2.ids[j])
		}
		runs, err := s1.Runs(ctx, j, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != batches*perBatch {
			t.Errorf("job %s: %d runs stored; want %d", j, len(runs), batches*perBatch)
		}
		seen := map[time.Time]bool{}
		for _, r := range runs {
			if seen[*r.ScheduledFor] {
				t.Errorf("job %s: occurrence %v stored twice", j, *r.ScheduledFor)
			}
			seen[*r.ScheduledFor] = true
		}
		rec, err := s1.Job(ctx, j)
		if want := occurrence(batches*perBatch - 1); err != nil || !rec.LastScheduled.Equal(want) {
			t.Errorf("job %s: cursor = %v, %v; want %v", j, rec.LastScheduled, err, want)
		}
	}
}

func TestRecordOccurrences(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	t1, t2, t3 := at(1, 0, 0), at(2, 0, 0), at(3, 0, 0)
	sched := func(when time.Time, state State) Run {
		return Run{Trigger: TriggerSchedule, ScheduledFor: &when, State: state}
	}
	stored, err := s.RecordOccurrences(ctx, "a", []Run{sched(t1, StateMissed), sched(t2, StateQueued)}, t2)
	if err != nil || len(stored) != 2 || stored[0].State != StateMissed || stored[1].State != StateQueued {
		t.Fatalf("RecordOccurrences = %+v, %v", stored, err)
	}

	// An occurrence behind the cursor whose record was pruned is not
	// recorded again; one that still exists is returned.
	if err := s.UpdateRun(ctx, Run{ID: stored[0].ID, State: StateMissed, MaxAttempts: 1, FinishedAt: ptr(at(1, 0, 0))}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneRuns(ctx, at(1, 30, 0), 0); n != 1 || err != nil {
		t.Fatalf("PruneRuns = %d, %v; want 1", n, err)
	}
	again, err := s.RecordOccurrences(ctx, "a", []Run{sched(t1, StateQueued), sched(t2, StateQueued), sched(t3, StateQueued)}, t3)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].ID != stored[1].ID || !again[1].ScheduledFor.Equal(t3) {
		t.Errorf("RecordOccurrences behind the cursor = %+v; want the t2 run and a new t3 run", again)
	}
	if runs, _ := s.Runs(ctx, "a", 0, 0); len(runs) != 2 {
		t.Errorf("runs after re-recording = %d; want 2", len(runs))
	}

	// All or nothing.
	bad := []Run{sched(at(4, 0, 0), StateQueued), {Trigger: "nope"}}
	if _, err := s.RecordOccurrences(ctx, "a", bad, at(4, 0, 0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordOccurrences with a bad run = %v; want ErrInvalid", err)
	}
	if j, _ := s.Job(ctx, "a"); !j.LastScheduled.Equal(t3) {
		t.Errorf("a refused RecordOccurrences moved the cursor to %v", j.LastScheduled)
	}
	if _, err := s.RecordOccurrences(ctx, "a", []Run{{Job: "b", Trigger: TriggerManual}}, t3); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordOccurrences with another job's run = %v; want ErrInvalid", err)
	}
	if _, err := s.RecordOccurrences(ctx, "nope", nil, t3); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordOccurrences(unknown job) = %v; want ErrNotFound", err)
	}
	// A crash between insert and cursor cannot happen: a failing
	// transaction leaves neither.
	boom := errors.New("boom")
	err = s.Atomically(ctx, func(tx *Tx) error {
		if _, err := tx.RecordOccurrences(ctx, "a", []Run{sched(at(5, 0, 0), StateQueued)}, at(5, 0, 0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomically = %v; want boom", err)
	}
	if j, _ := s.Job(ctx, "a"); !j.LastScheduled.Equal(t3) {
		t.Errorf("rolled back RecordOccurrences moved the cursor to %v", j.LastScheduled)
	}
	if runs, _ := s.Runs(ctx, "a", 0, 0); len(runs) != 2 {
		t.Errorf("rolled back RecordOccurrences left %d runs; want 2", len(runs))
	}
}

// TestRecordManyOccurrences records several jobs' occurrences in one
// call: each job's runs come back in its order, a job that does not exist
// is skipped (nil), notifications go with the runs that carry them, and
// an invalid argument writes nothing.
func TestRecordManyOccurrences(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	putJob(t, s, "b")
	t1, t2 := at(1, 0, 0), at(2, 0, 0)
	sched := func(when time.Time, state State) Run {
		r := Run{Trigger: TriggerSchedule, ScheduledFor: &when, State: state}
		if state == StateMissed {
			r.FinishedAt = &when
			r.Notify = []Target{{URL: "http://hooks.example/a"}}
		}
		return r
	}
	// b's t1 run exists already: it is returned, not inserted again.
	pre, err := s.RecordOccurrences(ctx, "b", []Run{sched(t1, StateQueued)}, t1)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]Run
	err = s.Atomically(ctx, func(tx *Tx) error {
		var err error
		got, err = tx.RecordManyOccurrences(ctx, []Occurrences{
			{Job: "a", Runs: []Run{sched(t1, StateMissed), sched(t2, StateQueued)}, Cursor: t2},
			{Job: "gone", Runs: []Run{sched(t1, StateQueued)}, Cursor: t1},
			{Job: "b", Runs: []Run{sched(t1, StateQueued), sched(t2, StateQueued)}, Cursor: t2},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0]) != 2 || got[1] != nil || len(got[2]) != 2 {
		t.Fatalf("RecordManyOccurrences = %+v", got)
	}
	if !got[0][0].ScheduledFor.Equal(t1) || got[0][0].State != StateMissed || !got[0][1].ScheduledFor.Equal(t2) {
		t.Errorf("a's runs = %+v; want t1 MISSED, t2", got[0])
	}
	if got[2][0].ID != pre[0].ID || !got[2][1].ScheduledFor.Equal(t2) {
		t.Errorf("b's runs = %+v; want the stored t1 run (id %d), then t2", got[2], pre[0].ID)
	}
	notes, err := s.Notifications(ctx, []int64{got[0][0].ID, got[0][1].ID})
	if err != nil || len(notes[got[0][0].ID]) != 1 || len(notes[got[0][1].ID]) != 0 {
		t.Errorf("notifications = %+v, %v; want one, of the missed run", notes, err)
	}
	for _, j := range []string{"a", "b"} {
		if rec, _ := s.Job(ctx, j); !rec.LastScheduled.Equal(t2) {
			t.Errorf("job %s: cursor = %v; want %v", j, rec.LastScheduled, t2)
		}
	}
	if runs, _ := s.Runs(ctx, "gone", 0, 0); len(runs) != 0 {
		t.Errorf("a job that does not exist got runs: %+v", runs)
	}
	for _, bad := range [][]Occurrences{
		{{Job: "a", Cursor: at(3, 0, 0)}, {Job: "a", Cursor: at(3, 0, 0)}},
		{{Job: "a", Runs: []Run{sched(at(3, 0, 0), StateQueued)}, Cursor: at(3, 0, 0)}, {Job: "b"}},
	} {
		err := s.Atomically(ctx, func(tx *Tx) error { _, err := tx.RecordManyOccurrences(ctx, bad); return err })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordManyOccurrences(%+v) = %v; want ErrInvalid", bad, err)
		}
	}
	if rec, _ := s.Job(ctx, "a"); !rec.LastScheduled.Equal(t2) {
		t.Errorf("a refused call moved a's cursor to %v", rec.LastScheduled)
	}
}

// TestTransitionRunRace has two processes race to start each of many runs:
// exactly one wins each, the other gets ErrConflict.
func TestTransitionRunRace(t *testing.T) {
	db := newDB(t)
	s1, s2 := open(t, db), open(t, db)
	ctx := t.Context()
	const n = 40
	var ids []int64
	for range n {
		r, _, err := s1.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	wins := make([][]int64, 2)
	var wg sync.WaitGroup
	for i, s := range []*Store{s1, s2} {
		wg.Go(func() {
			for _, id := range ids {
				task := fmt.Sprintf("task-%d-%d", id, i)
				r, err := s.TransitionRun(ctx, id, []State{StateQueued}, Run{State: StateStarting, TaskID: task})
				switch {
				case err == nil:
					if r.TaskID != task || r.State != StateStarting {
						t.Errorf("winner got %+v", r)
					}
					wins[i] = append(wins[i], id)
				case errors.Is(err, ErrConflict):
				default:
					t.Errorf("TransitionRun(%d): %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	if got := len(wins[0]) + len(wins[1]); got != n {
		t.Errorf("%d + %d transitions won; want %d in all", len(wins[0]), len(wins[1]), n)
	}
	for _, id := range wins[0] {
		if slices.Contains(wins[1], id) {
			t.Errorf("run %d started by both", id)
		}
	}
}

func TestTransitionRun(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	r, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	started := at(1, 0, 0)
	got, err := s.TransitionRun(ctx, r.ID, []State{StateQueued}, Run{State: StateRunning, TaskID: "t1", AgentID: "ag", Host: "h", StartedAt: &started})
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.State, want.TaskID, want.AgentID, want.Host, want.StartedAt = StateRunning, "t1", "ag", "h", &started
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TransitionRun (-want +got):\n%s", diff)
	}
	// Fields not given are kept.
	got, err = s.TransitionRun(ctx, r.ID, []State{StateStarting, StateRunning}, Run{State: StateFailed, ExitStatus: ptr(1), Reason: "exit 1"})
	if err != nil || got.TaskID != "t1" || got.StartedAt == nil || *got.ExitStatus != 1 || got.Reason != "exit 1" || got.MaxAttempts != 3 {
		t.Errorf("TransitionRun to FAILED = %+v, %v", got, err)
	}
	if _, err := s.TransitionRun(ctx, r.ID, []State{StateRunning}, Run{State: StateSucceeded}); !errors.Is(err, ErrConflict) || !Permanent(err) {
		t.Errorf("TransitionRun from a wrong state = %v; want ErrConflict", err)
	}
	if _, err := s.TransitionRun(ctx, 999999, []State{StateRunning}, Run{State: StateSucceeded}); !errors.Is(err, ErrNotFound) {
		t.Errorf("TransitionRun(unknown) = %v; want ErrNotFound", err)
	}
	for _, c := range []struct {
		from []State
		to   Run
	}{
		{nil, Run{State: StateQueued}},
		{[]State{"X"}, Run{State: StateQueued}},
		{[]State{StateFailed}, Run{}},
	} {
		if _, err := s.TransitionRun(ctx, r.ID, c.from, c.to); !errors.Is(err, ErrInvalid) {
			t.Errorf("TransitionRun(%v, %+v) = %v; want ErrInvalid", c.from, c.to, err)
		}
	}

	// A retry: back to QUEUED, clearing the last attempt's fields, in one
	// transaction.
	err = s.Atomically(ctx, func(tx *Tx) error {
		r, err := tx.TransitionRun(ctx, r.ID, []State{StateFailed}, Run{State: StateQueued, Attempt: 1})
		if err != nil {
			return err
		}
		r.TaskID, r.AgentID, r.Host, r.ExitStatus, r.StartedAt, r.Reason = "", "", "", nil, nil, ""
		r.NotBefore = ptr(at(1, 1, 0))
		return tx.UpdateRun(ctx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Run(ctx, r.ID)
	want = r
	want.Attempt, want.NotBefore = 1, ptr(at(1, 1, 0))
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("after retry (-want +got), %v:\n%s", err, diff)
	}
	if err := s.UpdateRun(ctx, Run{ID: 999999, State: StateQueued, MaxAttempts: 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateRun(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.UpdateRun(ctx, Run{ID: r.ID, State: StateQueued}); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateRun with zero max attempts = %v; want ErrInvalid", err)
	}
}

// TestTransitionRunsRace has two processes claim overlapping batches of
// runs, in opposite orders: each run is claimed once, and neither
// deadlocks.
func TestTransitionRunsRace(t *testing.T) {
	db := newDB(t)
	s1, s2 := open(t, db), open(t, db)
	ctx := t.Context()
	const n = 60
	var all []Run
	for range n {
		r, _, err := s1.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	won := make([][]Run, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range []*Store{s1, s2} {
		wg.Go(func() {
			for b := 0; b < n; b += 10 {
				batch := slices.Clone(all[b : b+10])
				if i == 1 {
					slices.Reverse(batch)
				}
				for j := range batch {
					batch[j] = Run{ID: batch[j].ID, State: StateStarting, TaskID: fmt.Sprintf("t%d-%d", batch[j].ID, i)}
				}
				got, err := s.TransitionRuns(ctx, []State{StateQueued}, batch)
				if err != nil {
					errs[i] = err
					return
				}
				won[i] = append(won[i], got...)
			}
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("TransitionRuns: %v, %v", errs[0], errs[1])
	}
	if len(won[0])+len(won[1]) != n {
		t.Errorf("%d + %d claimed; want %d in all", len(won[0]), len(won[1]), n)
	}
	for i, ws := range won {
		for _, r := range ws {
			if r.State != StateStarting || r.TaskID != fmt.Sprintf("t%d-%d", r.ID, i) {
				t.Errorf("claimed run %+v", r)
			}
			stored, err := s1.Run(ctx, r.ID)
			if err != nil || stored.TaskID != r.TaskID {
				t.Errorf("run %d stored with task %q, %v; claimed with %q", r.ID, stored.TaskID, err, r.TaskID)
			}
		}
	}
	if got, err := s1.TransitionRuns(ctx, []State{StateQueued}, []Run{{ID: all[0].ID, State: StateRunning}}); err != nil || len(got) != 0 {
		t.Errorf("TransitionRuns of a claimed run = %v, %v; want none", got, err)
	}
	if _, err := s1.TransitionRuns(ctx, []State{StateStarting}, []Run{{ID: 1, State: StateRunning}, {ID: 1, State: StateRunning}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("TransitionRuns naming a run twice = %v; want ErrInvalid", err)
	}
}

func TestRunQueries(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	var ids []int64
	for i := range 7 {
		r, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if i%2 == 0 {
			if _, _, err := s.InsertRun(ctx, Run{Job: "b", Trigger: TriggerManual, State: StateSucceeded}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var paged []int64
	before := int64(0)
	for {
		page, err := s.Runs(ctx, "a", 3, before)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("page of %d; want at most 3", len(page))
		}
		for _, r := range page {
			paged = append(paged, r.ID)
		}
		before = page[len(page)-1].ID
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(paged, want) {
		t.Errorf("Runs paged = %v; want %v", paged, want)
	}

	if _, err := s.TransitionRun(ctx, ids[2], []State{StateQueued}, Run{State: StateRunning, TaskID: "task-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionRun(ctx, ids[3], []State{StateQueued}, Run{State: StateKilled}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RunByTask(ctx, "task-2"); err != nil || r.ID != ids[2] {
		t.Errorf("RunByTask = %d, %v; want %d", r.ID, err, ids[2])
	}
	if _, err := s.RunByTask(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunByTask(unknown) = %v; want ErrNotFound", err)
	}
	active, err := s.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var activeIDs []int64
	for _, r := range active {
		activeIDs = append(activeIDs, r.ID)
	}
	wantActive := slices.Concat(ids[:3], ids[4:])
	if !slices.Equal(activeIDs, wantActive) {
		t.Errorf("ActiveRuns = %v; want %v", activeIDs, wantActive)
	}
	at := time.Now().UTC().Truncate(time.Second)
	if _, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerSchedule, ScheduledFor: &at, DedupKey: "schedule:x", NotBefore: &at}); err != nil {
		t.Fatal(err)
	}
	unscheduled, err := s.QueuedUnscheduledRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var queuedIDs []int64
	for _, r := range unscheduled {
		queuedIDs = append(queuedIDs, r.ID)
	}
	wantQueued := slices.Concat(ids[:2], ids[4:])
	if !slices.Equal(queuedIDs, wantQueued) {
		t.Errorf("QueuedUnscheduledRuns = %v; want %v (queued manual runs only)", queuedIDs, wantQueued)
	}
	if _, err := s.Run(ctx, 999999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Run(unknown) = %v; want ErrNotFound", err)
	}
}

// diamond stores A → B, A → C, {B, C} → D.
func diamond(t *testing.T, s *Store) {
	t.Helper()
	putJob(t, s, "A")
	putJob(t, s, "B", "A")
	putJob(t, s, "C", "A")
	putJob(t, s, "D", "C", "B")
}

func TestMarkParentDoneDiamond(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	diamond(t, s)
	queued := func(child string) Run { return Run{MaxAttempts: 2, Reason: "parents done: " + child} }

	for cycle := range 3 {
		a := finishedRun(t, s, "A", StateSucceeded)
		created, err := s.MarkParentDone(ctx, "A", a.ID, queued)
		if err != nil {
			t.Fatal(err)
		}
		if len(created) != 2 || created[0].Job != "B" || created[1].Job != "C" {
			t.Fatalf("cycle %d: A done created %+v; want runs of B and C", cycle, created)
		}
		for _, r := range created {
			if !slices.Equal(r.TriggeredBy, []int64{a.ID}) || r.Trigger != TriggerDependency || r.State != StateQueued ||
				r.MaxAttempts != 2 || r.Reason != "parents done: "+r.Job || r.DedupKey != DependencyKey([]int64{a.ID}) {
				t.Errorf("cycle %d: child run %+v", cycle, r)
			}
		}
		// Marking A's run again changes nothing.
		if again, err := s.MarkParentDone(ctx, "A", a.ID, queued); err != nil || len(again) != 0 {
			t.Errorf("cycle %d: A done again = %+v, %v; want nothing", cycle, again, err)
		}

		b, c := created[0], created[1]
		for _, r := range []Run{b, c} {
			if _, err := s.TransitionRun(ctx, r.ID, []State{StateQueued}, Run{State: StateSucceeded}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.MarkParentDone(ctx, "B", b.ID, queued); err != nil || len(got) != 0 {
			t.Fatalf("cycle %d: B done = %+v, %v; want nothing yet", cycle, got, err)
		}
		edges, err := s.Edges(ctx, "D")
		wantEdges := []Edge{{"D", "B", b.ID}, {"D", "C", 0}}
		if diff := cmp.Diff(wantEdges, edges); err != nil || diff != "" {
			t.Errorf("cycle %d: edges of D (-want +got), %v:\n%s", cycle, err, diff)
		}
		got, err := s.MarkParentDone(ctx, "C", c.ID, queued)
		if err != nil || len(got) != 1 || got[0].Job != "D" || !slices.Equal(got[0].TriggeredBy, []int64{b.ID, c.ID}) {
			t.Fatalf("cycle %d: C done = %+v, %v; want D triggered by [%d %d]", cycle, got, err, b.ID, c.ID)
		}
		edges, _ = s.Edges(ctx, "D")
		if diff := cmp.Diff([]Edge{{"D", "B", 0}, {"D", "C", 0}}, edges); diff != "" {
			t.Errorf("cycle %d: edges of D after it fired (-want +got):\n%s", cycle, diff)
		}
		// Late repeats fire nothing, even once the other parent runs again.
		for _, p := range []Run{b, c} {
			if again, err := s.MarkParentDone(ctx, p.Job, p.ID, queued); err != nil || len(again) != 0 {
				t.Errorf("cycle %d: %s done again = %+v, %v; want nothing", cycle, p.Job, again, err)
			}
		}
		if edges, _ := s.Edges(ctx, "D"); edges[0].PendingRun != 0 || edges[1].PendingRun != 0 {
			t.Errorf("cycle %d: repeated marks left edges %+v", cycle, edges)
		}
	}
	if runs, _ := s.Runs(ctx, "D", 0, 0); len(runs) != 3 {
		t.Errorf("D ran %d times in 3 cycles; want 3", len(runs))
	}

	// An older run never replaces a newer pending one.
	b1 := finishedRun(t, s, "B", StateSucceeded)
	b2 := finishedRun(t, s, "B", StateSucceeded)
	for _, r := range []Run{b2, b1} {
		if _, err := s.MarkParentDone(ctx, "B", r.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	if edges, _ := s.Edges(ctx, "D"); edges[0].PendingRun != b2.ID {
		t.Errorf("pending run of B→D = %d; want the newer %d", edges[0].PendingRun, b2.ID)
	}

	queuedRun := finishedRun(t, s, "A", StateQueued)
	if _, err := s.MarkParentDone(ctx, "A", queuedRun.ID, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("MarkParentDone of a queued run = %v; want ErrInvalid", err)
	}
	if _, err := s.MarkParentDone(ctx, "B", queuedRun.ID, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("MarkParentDone of another job's run = %v; want ErrInvalid", err)
	}
	if _, err := s.MarkParentDone(ctx, "A", 999999, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkParentDone of an unknown run = %v; want ErrNotFound", err)
	}
	// A failed run fires children too (softError is the caller's call).
	failed := finishedRun(t, s, "A", StateFailed)
	if got, err := s.MarkParentDone(ctx, "A", failed.ID, nil); err != nil || len(got) != 2 {
		t.Errorf("MarkParentDone of a failed run = %+v, %v; want two children", got, err)
	}
}

// TestMarkParentDoneRace has B and C finish at the same moment, reported by
// two processes, each report sent twice: D runs once per cycle.
func TestMarkParentDoneRace(t *testing.T) {
	db := newDB(t)
	s1, s2 := open(t, db), open(t, db)
	ctx := t.Context()
	diamond(t, s1)
	const cycles = 25
	for cycle := range cycles {
		b := finishedRun(t, s1, "B", StateSucceeded)
		c := finishedRun(t, s1, "C", StateSucceeded)
		var mu sync.Mutex
		var created []Run
		var wg sync.WaitGroup
		for _, call := range []struct {
			s   *Store
			job string
			id  int64
		}{{s1, "B", b.ID}, {s2, "C", c.ID}, {s2, "B", b.ID}, {s1, "C", c.ID}} {
			wg.Go(func() {
				got, err := call.s.MarkParentDone(ctx, call.job, call.id, nil)
				if err != nil {
					t.Errorf("cycle %d: MarkParentDone(%s, %d): %v", cycle, call.job, call.id, err)
				}
				mu.Lock()
				created = append(created, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(created) != 1 || !slices.Equal(created[0].TriggeredBy, []int64{b.ID, c.ID}) {
			t.Fatalf("cycle %d: created %+v; want one run of D triggered by [%d %d]", cycle, created, b.ID, c.ID)
		}
	}
	if runs, _ := s1.Runs(ctx, "D", 0, 0); len(runs) != cycles {
		t.Errorf("D ran %d times; want %d", len(runs), cycles)
	}
}

func TestPutJobKeepsEdges(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	diamond(t, s)
	putJob(t, s, "E")
	b := finishedRun(t, s, "B", StateSucceeded)
	if _, err := s.MarkParentDone(ctx, "B", b.ID, nil); err != nil {
		t.Fatal(err)
	}
	// D now depends on B and E: B's progress stays, C's edge goes.
	if err := s.PutJob(ctx, "D", "v2", spec, []string{"E", "B", "E"}); err != nil {
		t.Fatal(err)
	}
	edges, err := s.Edges(ctx, "D")
	if diff := cmp.Diff([]Edge{{"D", "B", b.ID}, {"D", "E", 0}}, edges); err != nil || diff != "" {
		t.Errorf("edges after PutJob (-want +got), %v:\n%s", err, diff)
	}
	e := finishedRun(t, s, "E", StateSucceeded)
	got, err := s.MarkParentDone(ctx, "E", e.ID, nil)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].TriggeredBy, []int64{b.ID, e.ID}) {
		t.Errorf("E done = %+v, %v; want D triggered by B's and E's runs", got, err)
	}
	// No parents: no edges.
	if err := s.PutJob(ctx, "D", "v3", spec, nil); err != nil {
		t.Fatal(err)
	}
	if edges, err := s.Edges(ctx, "D"); len(edges) != 0 || err != nil {
		t.Errorf("edges after PutJob without parents = %+v, %v; want none", edges, err)
	}
}

func TestDeleteJob(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	diamond(t, s)
	done := finishedRun(t, s, "B", StateSucceeded)
	active := finishedRun(t, s, "B", StateRunning)
	other := finishedRun(t, s, "A", StateSucceeded)
	if err := s.RecordResult(ctx, "B", true, at(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, "B"); err != nil {
		t.Errorf("DeleteJob again = %v; want nil", err)
	}
	if _, err := s.Job(ctx, "B"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Job(B) after delete = %v; want ErrNotFound", err)
	}
	if edges, _ := s.Edges(ctx, "D"); len(edges) != 1 || edges[0].Parent != "C" {
		t.Errorf("edges of D after deleting B = %+v; want only C", edges)
	}
	if edges, _ := s.Edges(ctx, "B"); len(edges) != 0 {
		t.Errorf("edges of deleted B = %+v", edges)
	}
	if _, err := s.Run(ctx, done.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("finished run of a deleted job: %v; want deleted", err)
	}
	if _, err := s.Run(ctx, active.ID); err != nil {
		t.Errorf("active run of a deleted job: %v; want kept", err)
	}
	if _, err := s.Run(ctx, other.ID); err != nil {
		t.Errorf("another job's run: %v; want kept", err)
	}
	if st, _ := s.Stats(ctx); len(st) != 3 {
		t.Errorf("Stats after delete = %v; want A, C, D only", st)
	}
	// Recreated, it starts afresh.
	putJob(t, s, "B", "A")
	if st, _ := s.Stats(ctx); st["B"] != (Stats{}) {
		t.Errorf("stats of the recreated job = %+v; want zero", st["B"])
	}
	// Rewiring and deleting in one transaction.
	err := s.Atomically(ctx, func(tx *Tx) error {
		if err := tx.PutJob(ctx, "D", "v2", spec, []string{"A"}); err != nil {
			return err
		}
		return tx.DeleteJob(ctx, "C")
	})
	if err != nil {
		t.Fatal(err)
	}
	if edges, _ := s.Edges(ctx, "D"); len(edges) != 1 || edges[0].Parent != "A" {
		t.Errorf("edges of D after rewiring = %+v; want A", edges)
	}
}

func TestStats(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	putJob(t, s, "b")
	steps := []struct {
		ok bool
		at time.Time
	}{{false, at(1, 0, 0)}, {false, at(2, 0, 0)}, {true, at(3, 0, 0)}, {false, at(4, 0, 0)}, {true, at(2, 30, 0)}}
	for _, st := range steps {
		if err := s.RecordResult(ctx, "a", st.ok, st.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Stats{
		"a": {SuccessCount: 2, ErrorCount: 3, ErrorsSinceLastSuccess: 0, LastSuccess: ptr(at(3, 0, 0)), LastError: ptr(at(4, 0, 0))},
		"b": {},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if err := s.RecordResult(ctx, "a", false, at(5, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Stats(ctx); got["a"].ErrorsSinceLastSuccess != 1 || got["a"].ErrorCount != 4 {
		t.Errorf("after a failure: %+v", got["a"])
	}
	if err := s.RecordResult(ctx, "nope", true, at(1, 0, 0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordResult(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.RecordResult(ctx, "a", true, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordResult(zero time) = %v; want ErrInvalid", err)
	}
}

func TestPruneRuns(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	old, recent := at(1, 0, 0), at(5, 0, 0)
	mk := func(job string, state State, finished time.Time) int64 {
		r, _, err := s.InsertRun(ctx, Run{Job: job, Trigger: TriggerManual, State: state, QueuedAt: finished, FinishedAt: &finished})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	mk("a", StateSucceeded, old)     // pruned
	mk("a", StateFailed, old)        // pruned
	a3 := mk("a", StateRunning, old) // active: never pruned
	a4 := mk("a", StateSucceeded, old)
	a5 := mk("a", StateSucceeded, recent)
	b1 := mk("b", StateSucceeded, old)
	b2 := mk("b", StateSucceeded, old)
	if _, err := s.PruneRuns(ctx, at(3, 0, 0), -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("PruneRuns(keep -1) = %v; want ErrInvalid", err)
	}
	// Keep the newest 2 per job; of the rest, delete those finished before 3:00.
	n, err := s.PruneRuns(ctx, at(3, 0, 0), 2)
	if err != nil || n != 2 {
		t.Errorf("PruneRuns = %d, %v; want 2 (a1, a2)", n, err)
	}
	var left []int64
	for _, job := range []string{"a", "b"} {
		runs, _ := s.Runs(ctx, job, 0, 0)
		for _, r := range runs {
			left = append(left, r.ID)
		}
	}
	if want := []int64{a5, a4, a3, b2, b1}; !slices.Equal(left, want) {
		t.Errorf("runs left = %v; want %v", left, want)
	}
	if n, err := s.PruneRuns(ctx, at(3, 0, 0), 2); n != 0 || err != nil {
		t.Errorf("PruneRuns again = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneRuns(ctx, at(3, 0, 0), 0); n != 3 || err != nil {
		t.Errorf("PruneRuns keeping none = %d, %v; want 3 (a4, b1, b2)", n, err)
	}
}

func TestAtomicallyRollsBack(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	boom := errors.New("boom")
	err := s.Atomically(ctx, func(tx *Tx) error {
		steps := []error{
			tx.PutJob(ctx, "b", "v1", spec, []string{"a"}),
			tx.SetFrameworkID(ctx, "fw"),
			tx.AdvanceCursor(ctx, "a", at(1, 0, 0)),
			tx.RecordResult(ctx, "a", true, at(1, 0, 0)),
			tx.DeleteJob(ctx, "a"),
		}
		if _, _, err := tx.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual}); err != nil {
			return err
		}
		if err := errors.Join(steps...); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomically = %v; want boom", err)
	}
	jobs, _ := s.Jobs(ctx)
	fid, _ := s.FrameworkID(ctx)
	runs, _ := s.Runs(ctx, "a", 0, 0)
	st, _ := s.Stats(ctx)
	if len(jobs) != 1 || !jobs[0].LastScheduled.IsZero() || fid != "" || len(runs) != 0 || st["a"] != (Stats{}) {
		t.Errorf("a rolled back transaction left jobs %+v, framework id %q, runs %+v, stats %+v", jobs, fid, runs, st)
	}
}

func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", ErrInvalid), true},
		{fmt.Errorf("x: %w", ErrNotFound), true},
		{fmt.Errorf("x: %w", ErrConflict), true},
		{fmt.Errorf("x: %w", ErrFenced), true},
		{fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505"}), true},
		{fmt.Errorf("x: %w", &pgconn.PgError{Code: "40P01"}), false},
		{context.DeadlineExceeded, false},
		{errors.New("connection refused"), false},
	} {
		if got := Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%v) = %v; want %v", c.err, got, c.want)
		}
	}
}

func TestSurvivesPostgresRestart(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "a")
	term := s.Fenced()
	if _, err := term.BeginTerm(ctx); err != nil {
		t.Fatal(err)
	}

	testpg.Stop(t)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping while postgres is stopped = nil; want an error")
	}
	when := at(1, 0, 0)
	occ := []Run{{Trigger: TriggerSchedule, ScheduledFor: &when}}
	if _, err := s.RecordOccurrences(ctx, "a", occ, when); err == nil || Permanent(err) {
		t.Errorf("RecordOccurrences while postgres is stopped = %v; want a transient error", err)
	}
	if _, err := term.TransitionRuns(ctx, []State{StateQueued}, []Run{{ID: 1, State: StateStarting}}); err == nil || Permanent(err) {
		t.Errorf("a fenced write while postgres is stopped = %v; want a transient error", err)
	}
	if _, err := s.Fenced().BeginTerm(ctx); err == nil || Permanent(err) {
		t.Errorf("BeginTerm while postgres is stopped = %v; want a transient error", err)
	}
	testpg.Start(t)

	// The pool may hand out a connection broken by the restart once; the
	// caller retries, on the same Store.
	retry := func(name string, op func() error) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if err = op(); err == nil {
				return
			}
			if Permanent(err) {
				t.Fatalf("%s after restart: permanent error %v", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s after restart: still failing: %v", name, err)
	}
	retry("RecordOccurrences", func() error {
		_, err := s.RecordOccurrences(ctx, "a", occ, when)
		return err
	})
	retry("Jobs", func() error {
		jobs, err := s.Jobs(ctx)
		if err == nil && (len(jobs) != 1 || !jobs[0].LastScheduled.Equal(when)) {
			t.Errorf("Jobs after restart = %+v", jobs)
		}
		return err
	})
	retry("a fenced write", func() error { return term.SetFrameworkID(ctx, "fw-1") })
}

func TestApplyRunChanges(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	putJob(t, s, "bulk")
	var runs []Run
	for i := 0; i < 300; i++ {
		r, _, err := s.InsertRun(ctx, Run{Job: "bulk", Trigger: TriggerManual, State: StateQueued, MaxAttempts: 1, QueuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		r.State, r.StartedAt, r.FinishedAt, r.TaskID = StateSucceeded, &now, &now, fmt.Sprintf("t%d", i)
		runs = append(runs, r)
	}
	results := []Result{{Job: "bulk", Success: true, At: time.Now()}, {Job: "bulk", Success: false, At: time.Now()}, {Job: "gone", Success: true, At: time.Now()}}
	if err := s.ApplyRunChanges(ctx, runs, results); err != nil {
		t.Fatal(err)
	}
	got, err := s.Runs(ctx, "bulk", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.State != StateSucceeded || r.TaskID == "" {
			t.Fatalf("run %d = %s %q after ApplyRunChanges; want SUCCEEDED with a task id", r.ID, r.State, r.TaskID)
		}
	}
	st, _ := s.Stats(ctx)
	if st["bulk"].SuccessCount != 1 || st["bulk"].ErrorCount != 1 {
		t.Errorf("stats = %+v; want one success and one error", st["bulk"])
	}
	// Invalid input writes nothing.
	bad := runs[0]
	bad.State = "BOGUS"
	if err := s.ApplyRunChanges(ctx, []Run{runs[1], bad}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("ApplyRunChanges with a bad state = %v; want ErrInvalid", err)
	}
}

// A term fences off every write of the earlier terms' views, the writes
// the keys make safe included, and ends their terms; the API's writes are
// never fenced.
func TestTermsFenceEarlierSchedulers(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	putJob(t, s, "a")
	putJob(t, s, "child", "a")
	old := s.Fenced()
	if _, err := old.BeginTerm(ctx); err != nil {
		t.Fatal(err)
	}
	term, stop := old.Fence().Context(ctx)
	defer stop()
	queued, _, err := old.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
	if err != nil {
		t.Fatalf("write in the current term: %v", err)
	}
	done := finishedRun(t, s, "a", StateSucceeded)
	end := at(1, 0, 0)
	notified, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, State: StateFailed, FinishedAt: &end,
		Notify: []Target{{URL: "http://h.example/"}}})
	if err != nil {
		t.Fatal(err)
	}
	claimed, _, err := s.ClaimNotifications(ctx, end, time.Nanosecond, 1)
	if err != nil || len(claimed) != 1 || claimed[0].RunID != notified.ID {
		t.Fatalf("ClaimNotifications = %+v, %v; want run %d's", claimed, err, notified.ID)
	}

	next := s.Fenced()
	if _, err := next.BeginTerm(ctx); err != nil {
		t.Fatal(err)
	}
	when := at(1, 0, 0)
	for _, w := range []struct {
		name  string
		write func(*Store) error
	}{
		{"SetFrameworkID", func(s *Store) error { return s.SetFrameworkID(ctx, "fw") }},
		{"InsertRun", func(s *Store) error {
			_, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
			return err
		}},
		{"RecordOccurrences", func(s *Store) error {
			_, err := s.RecordOccurrences(ctx, "a", []Run{{Trigger: TriggerSchedule, ScheduledFor: &when}}, when)
			return err
		}},
		{"AdvanceCursor", func(s *Store) error { return s.AdvanceCursor(ctx, "a", when) }},
		{"UpdateRun", func(s *Store) error {
			r := queued
			r.State = StateFailed
			return s.UpdateRun(ctx, r)
		}},
		{"TransitionRun", func(s *Store) error {
			_, err := s.TransitionRun(ctx, queued.ID, []State{StateQueued}, Run{State: StateStarting})
			return err
		}},
		{"TransitionRuns", func(s *Store) error {
			_, err := s.TransitionRuns(ctx, []State{StateQueued}, []Run{{ID: queued.ID, State: StateStarting}})
			return err
		}},
		{"ApplyRunChanges", func(s *Store) error {
			return s.ApplyRunChanges(ctx, nil, []Result{{Job: "a", Success: true, At: when}})
		}},
		{"RecordResult", func(s *Store) error { return s.RecordResult(ctx, "a", true, when) }},
		{"MarkParentDone", func(s *Store) error {
			_, err := s.MarkParentDone(ctx, "a", done.ID, nil)
			return err
		}},
		{"PruneRuns", func(s *Store) error {
			_, err := s.PruneRuns(ctx, time.Now().Add(time.Hour), 0)
			return err
		}},
		{"ClaimNotifications", func(s *Store) error {
			_, _, err := s.ClaimNotifications(ctx, end.Add(time.Hour), time.Minute, 10)
			return err
		}},
		{"RecordDelivery", func(s *Store) error {
			return s.RecordDelivery(ctx, claimed[0].ID, Attempt{State: DeliveryDelivered, At: end})
		}},
	} {
		if err := w.write(old); !errors.Is(err, ErrFenced) || !Permanent(err) {
			t.Errorf("%s by the deposed scheduler = %v; want a permanent ErrFenced", w.name, err)
		}
	}
	if !errors.Is(context.Cause(term), ErrFenced) {
		t.Errorf("the deposed term's context: cause %v; want ErrFenced", context.Cause(term))
	}
	if r, err := s.Run(ctx, queued.ID); err != nil || r.State != StateQueued {
		t.Errorf("run %d after fenced writes = %s, %v; want QUEUED", queued.ID, r.State, err)
	}
	if st, err := s.Stats(ctx); err != nil || st["a"].SuccessCount != 0 {
		t.Errorf("stats after fenced writes = %+v, %v; want none counted", st["a"], err)
	}
	if fid, err := s.FrameworkID(ctx); err != nil || fid != "" {
		t.Errorf("framework id after a fenced write = %q, %v; want none", fid, err)
	}
	if ns, err := s.Notifications(ctx, []int64{notified.ID}); err != nil || len(ns[notified.ID]) != 1 || ns[notified.ID][0].State != DeliveryPending {
		t.Errorf("notification after fenced writes = %+v, %v; want it pending", ns, err)
	}
	if _, err := next.TransitionRun(ctx, queued.ID, []State{StateQueued}, Run{State: StateStarting}); err != nil {
		t.Errorf("write in the new term: %v", err)
	}
	if err := s.PutJob(ctx, "b", "v1", spec, nil); err != nil {
		t.Errorf("an API write after the terms changed: %v; want it unchecked", err)
	}
	if _, err := s.BeginTerm(ctx); !errors.Is(err, ErrInvalid) {
		t.Errorf("BeginTerm on a Store that is not a fenced view = %v; want ErrInvalid", err)
	}
}
