package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
)

// lockTable holds an ACCESS EXCLUSIVE lock on table from a connection of
// its own until the returned function is called (or the test ends): every
// statement on the table waits, as on a database that hangs.
func lockTable(t *testing.T, db, table string) (release func()) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "SET LOCAL lock_timeout = '5s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		_ = tx.Rollback(context.Background())
		_ = conn.Close(context.Background())
	}
	t.Cleanup(release)
	return release
}

// onLoop runs fn on the leader's loop and fails the test unless that
// takes at most a second.
func onLoop(t *testing.T, s *server, what string, fn func(c *core)) {
	t.Helper()
	start := time.Now()
	led := make(chan bool, 1)
	go func() { led <- s.svc.withLeader(context.Background(), fn) }()
	select {
	case ok := <-led:
		if !ok {
			t.Fatalf("%s: the scheduler stopped", what)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the scheduler did not answer within 10s", what)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%s took %s while the database hung; want at most 1s", what, took.Round(time.Millisecond))
	}
}

// TestLoopGoesOnWhileTheDatabaseHangs: with the runs table locked, writes
// of run changes wait, yet the scheduler applies status updates at once;
// with the jobs table locked it does not wait either, as it never reads
// the whole table. The changes are stored once the locks go.
func TestLoopGoesOnWhileTheDatabaseHangs(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutJob(ctx, "hang", "v1", []byte(`{"name": "hang", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`), nil); err != nil {
		t.Fatal(err)
	}
	// Runs an earlier leader launched, running on their agents.
	var runs []store.Run
	for _, tid := range []string{"task-1", "task-2"} {
		r, _, err := st.InsertRun(ctx, store.Run{Job: "hang", Trigger: store.TriggerManual, DedupKey: "manual:" + tid, State: stateRunning,
			TaskID: tid, AgentID: "agent-1", MaxAttempts: 1, QueuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	s := startServer(t, db)
	update := func(tid string, state mesos.TaskState) {
		t.Helper()
		ev := &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
			TaskID: mesos.ID{Value: tid}, State: state, UUID: "uuid-" + tid, AgentID: &mesos.ID{Value: "agent-1"},
		}}}
		select {
		case leaderCore(s).evs <- ev:
		case <-time.After(time.Second):
			t.Fatal("the scheduler takes no events")
		}
	}
	tracked := func(id int64) (yes bool) {
		onLoop(t, s, "reading the runs", func(c *core) { _, yes = c.runs[id] })
		return yes
	}
	if !tracked(runs[0].ID) || !tracked(runs[1].ID) {
		t.Fatal("the scheduler does not track the running runs")
	}

	releaseRuns := lockTable(t, db, "jobs.runs")
	update("task-1", mesos.TaskFinished)
	// The scheduler's next turns: neither waits for the run's write.
	deadline := time.Now().Add(2 * time.Second)
	for tracked(runs[0].ID) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tracked(runs[0].ID) {
		t.Error("run 1 still tracked as active after its task finished")
	}
	update("task-2", mesos.TaskFailed)
	deadline = time.Now().Add(2 * time.Second)
	for tracked(runs[1].ID) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tracked(runs[1].ID) {
		t.Error("run 2 still tracked as active after its task failed")
	}

	releaseJobs := lockTable(t, db, "jobs.jobs")
	time.Sleep(1500 * time.Millisecond) // past any once-a-second poll
	onLoop(t, s, "a turn with the jobs table locked", func(c *core) {})
	releaseJobs()
	releaseRuns()

	want := map[int64]store.State{runs[0].ID: stateSucceeded, runs[1].ID: stateFailed}
	eventually(t, "the runs' ends are stored", func() bool {
		for id, state := range want {
			if r, err := st.Run(ctx, id); err != nil || r.State != state {
				return false
			}
		}
		return true
	})
}
