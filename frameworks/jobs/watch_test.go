package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/frameworks/jobs/store"
)

// TestLeaderLearnsOtherWritersChanges: jobs created, redefined and deleted
// and runs queued by another process reach the leader from the database's
// announcements, also those made while its listening connection was
// lost: it reads everything again when it is back.
func TestLeaderLearnsOtherWritersChanges(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	s := startServer(t, db)
	other, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	job := func(name string) (version string, known bool) {
		onLoop(t, s, "reading the jobs", func(c *core) {
			if js := c.jobs[name]; js != nil {
				version, known = js.version, true
			}
		})
		return version, known
	}
	put := func(name, version string) {
		t.Helper()
		spec := []byte(`{"name": "` + name + `", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
		if err := other.PutJob(ctx, name, version, spec, nil); err != nil {
			t.Fatal(err)
		}
	}

	put("a", "v1")
	eventually(t, "the leader knows job a", func() bool { v, ok := job("a"); return ok && v == "v1" })
	put("a", "v2")
	eventually(t, "the leader knows a's new version", func() bool { v, _ := job("a"); return v == "v2" })
	r, _, err := other.InsertRun(ctx, store.Run{Job: "a", Trigger: store.TriggerManual, DedupKey: "manual:x", State: stateQueued, MaxAttempts: 1, QueuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the leader tracks the queued run", func() (yes bool) {
		onLoop(t, s, "reading the runs", func(c *core) { _, yes = c.runs[r.ID] })
		return yes
	})
	if err := other.DeleteJob(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the leader forgets job a", func() bool { _, ok := job("a"); return !ok })

	// The listening connection goes; what changes meanwhile is read when
	// it is back.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminating the listening connection: %d, %v; want 1", n, err)
	}
	put("b", "v1")
	eventually(t, "the leader knows job b, created while it was not listening", func() bool { _, ok := job("b"); return ok })
}
