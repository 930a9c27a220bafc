package services

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/kernel/mesos"
)

// tableLock holds an ACCESS EXCLUSIVE lock on a table from a connection of
// its own, so that every statement on the table waits, as on a database
// that hangs.
type tableLock struct {
	conn *pgx.Conn
	tx   pgx.Tx
}

func lockTable(t *testing.T, db, table string) *tableLock {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	l := &tableLock{conn: conn, tx: tx}
	t.Cleanup(l.release)
	return l
}

func (l *tableLock) release() {
	if l.conn == nil {
		return
	}
	_ = l.tx.Rollback(context.Background())
	_ = l.conn.Close(context.Background())
	l.conn = nil
}

// waitForLockWaiter waits until some session of db waits for a lock.
func waitForLockWaiter(t *testing.T, db string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	eventually(t, "a statement waits for the lock", func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n > 0
	})
}

// send makes a request from any goroutine: it reports failures instead of
// ending the test.
func (s *server) send(method, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// promptly fails the test unless fn returns within d.
func promptly(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if took := time.Since(start); took > d {
		t.Errorf("%s took %s while a change waited for the database; want at most %s", what, took.Round(time.Millisecond), d)
	}
}

// update hands the loop a status update as the kernel would.
func (s *server) update(tid string, state mesos.TaskState, uuid string) {
	s.t.Helper()
	ev := &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
		TaskID: mesos.ID{Value: tid}, State: state, UUID: uuid, AgentID: &mesos.ID{Value: "agent-h1"},
	}}}
	select {
	case s.svc.evs <- ev:
	case <-time.After(time.Second):
		s.t.Fatal("the loop takes no events")
	}
}

func (s *server) taskState(appID, tid string) string {
	s.t.Helper()
	for _, tk := range get(s.must(http.StatusOK, "GET", "/v2/apps"+appID+"/tasks", "").json(s.t), "tasks").([]any) {
		if get(tk, "id") == tid {
			return get(tk, "state").(string)
		}
	}
	return ""
}

func (s *server) storedInstanceState(tid string) string {
	s.t.Helper()
	recs, err := s.store.Instances(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range recs {
		if r.TaskID == tid {
			var in instance
			if err := json.Unmarshal(r.Spec, &in); err != nil {
				s.t.Fatal(err)
			}
			return string(in.State)
		}
	}
	return ""
}

// TestLoopServesWhileAChangeWaits: an app change that waits for the
// database (its table locked) holds up neither reads of the API nor
// status updates; the change is answered once it is stored.
func TestLoopServesWhileAChangeWaits(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/web","cmd":"sleep 1000","instances":1}`)
	tid := s.seedTask("/web", "h1", mesos.TaskStaging)
	eventually(t, "the instance is stored", func() bool { return s.storedInstanceState(tid) == string(mesos.TaskStaging) })

	lock := lockTable(t, db, "services.apps")
	type answer struct {
		code int
		body string
		err  error
	}
	put := make(chan answer, 1)
	go func() {
		code, body, err := s.send("PUT", "/v2/apps/web?force=true", `{"instances":2}`)
		put <- answer{code, body, err}
	}()
	waitForLockWaiter(t, db)

	promptly(t, time.Second, "GET /ping", func() { s.must(http.StatusOK, "GET", "/ping", "") })
	promptly(t, time.Second, "GET /v2/apps", func() {
		apps := get(s.must(http.StatusOK, "GET", "/v2/apps", "").json(t), "apps").([]any)
		if len(apps) != 1 || get(apps[0], "instances") != 1.0 {
			t.Errorf("GET /v2/apps = %v; want /web with 1 instance until the change is stored", apps)
		}
	})
	promptly(t, time.Second, "a status update", func() {
		s.update(tid, mesos.TaskRunning, "u1")
		deadline := time.Now().Add(2 * time.Second)
		for s.taskState("/web", tid) != string(mesos.TaskRunning) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	})
	if got := s.taskState("/web", tid); got != string(mesos.TaskRunning) {
		t.Errorf("task state = %q; want TASK_RUNNING", got)
	}

	lock.release()
	select {
	case a := <-put:
		if a.err != nil || a.code != http.StatusOK {
			t.Fatalf("PUT /v2/apps/web = %d %s, %v; want 200 once the table is free", a.code, a.body, a.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("PUT /v2/apps/web did not answer within 15s of the table being free")
	}
	if got := get(s.app("/web"), "instances"); got != 2.0 {
		t.Errorf("instances = %v after the change; want 2", got)
	}
	eventually(t, "the status is stored", func() bool { return s.storedInstanceState(tid) == string(mesos.TaskRunning) })
}

// TestChangeNotStoredFailsAfterItsDeadline: a change that cannot be stored
// within its deadline gets a 503 and leaves no trace; once the database
// takes writes again, the same change goes through.
func TestChangeNotStoredFailsAfterItsDeadline(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	const deadline = 2 * time.Second
	if err := s.svc.do(t.Context(), func(c *core) { c.changeTimeout = deadline }); err != nil {
		t.Fatal(err)
	}
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/web","cmd":"sleep 1000","instances":1}`)

	before := s.deploymentIDs()

	lock := lockTable(t, db, "services.apps")
	start := time.Now()
	r := s.do("PUT", "/v2/apps/web?force=true", `{"instances":3}`)
	took := time.Since(start)
	wantError(t, r, http.StatusServiceUnavailable, "cannot store the change: the database is not reachable; retry")
	if took < deadline-100*time.Millisecond || took > deadline+2*time.Second {
		t.Errorf("the 503 came after %s; want about the %s deadline", took.Round(time.Millisecond), deadline)
	}
	promptly(t, time.Second, "GET /v2/apps/web", func() {
		if got := get(s.app("/web"), "instances"); got != 1.0 {
			t.Errorf("instances = %v after a change that failed; want 1", got)
		}
	})
	if deps := s.deploymentIDs(); !slices.Equal(deps, before) {
		t.Errorf("deployments = %v after a change that failed; want %v as before", deps, before)
	}

	lock.release()
	s.must(http.StatusOK, "PUT", "/v2/apps/web?force=true", `{"instances":3}`)
	if got := get(s.app("/web"), "instances"); got != 3.0 {
		t.Errorf("instances = %v; want 3", got)
	}
	recs, err := s.store.Apps(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !strings.Contains(string(recs[0].Spec), `"instances": 3`) {
		t.Errorf("stored apps = %s; want /web with 3 instances", fmt.Sprint(recs))
	}
}
