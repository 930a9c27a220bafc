package store

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// notes returns the notifications of run id.
func notes(t *testing.T, s *Store, id int64) []Notification {
	t.Helper()
	all, err := s.Notifications(t.Context(), []int64{id})
	if err != nil {
		t.Fatalf("Notifications(%d): %v", id, err)
	}
	return all[id]
}

// urls are the URLs of ns, in order.
func urls(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.URL)
	}
	return out
}

func TestNotificationsComeWithTheRunsEnd(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	queued, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
	if err != nil {
		t.Fatal(err)
	}
	end := at(1, 2, 3)
	failed := queued
	failed.State, failed.FinishedAt = StateFailed, &end
	failed.Notify = []Target{{URL: "https://b.example/hook"}, {URL: "https://a.example/hook", Default: true}}
	// Stored twice, as a batch retried after an uncertain commit would be:
	// one notification per URL all the same.
	for range 2 {
		if err := s.ApplyRunChanges(ctx, []Run{failed}, nil); err != nil {
			t.Fatalf("ApplyRunChanges: %v", err)
		}
	}
	got := notes(t, s, queued.ID)
	if want := []string{"https://a.example/hook", "https://b.example/hook"}; !slices.Equal(urls(got), want) {
		t.Fatalf("notifications of run %d = %v; want %v", queued.ID, urls(got), want)
	}
	for _, n := range got {
		if n.Event != StateFailed || n.State != DeliveryPending || n.Attempts != 0 || !n.CreatedAt.Equal(end) || !n.NextAttemptAt.Equal(end) ||
			n.Default != (n.URL == "https://a.example/hook") || uuid.Validate(n.ID) != nil || n.LastAttemptAt != nil || n.DeliveredAt != nil {
			t.Errorf("notification %+v; want a pending FAILED one due at the run's end %s", n, end)
		}
	}
	if r, err := s.Run(ctx, queued.ID); err != nil || r.Notify != nil {
		t.Errorf("Run(%d) = %+v, %v; want it without Notify", queued.ID, r, err)
	}

	// Each way a run ends records them: insert, update, transition.
	skip := at(2, 0, 0)
	skipped, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerSchedule, ScheduledFor: &skip, State: StateSkipped, FinishedAt: &skip,
		Notify: []Target{{URL: "http://x.example/"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The same occurrence again: no second run, no second notification.
	if _, created, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerSchedule, ScheduledFor: &skip, State: StateSkipped, FinishedAt: &skip,
		Notify: []Target{{URL: "http://y.example/"}}}); err != nil || created {
		t.Fatalf("InsertRun of the same occurrence = created %v, %v", created, err)
	}
	if got := notes(t, s, skipped.ID); len(got) != 1 || got[0].URL != "http://x.example/" || got[0].Event != StateSkipped {
		t.Errorf("notifications of the skipped run = %+v; want one SKIPPED to x", got)
	}
	r2, _, _ := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual})
	r2.State, r2.Notify = StateSucceeded, []Target{{URL: "http://z.example/"}}
	if err := s.UpdateRun(ctx, r2); err != nil {
		t.Fatal(err)
	}
	r3, _, _ := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, State: StateRunning})
	if _, err := s.TransitionRun(ctx, r3.ID, []State{StateRunning}, Run{State: StateFailed, Notify: []Target{{URL: "http://z.example/"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionRun(ctx, r3.ID, []State{StateRunning}, Run{State: StateFailed, Notify: []Target{{URL: "http://w.example/"}}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a lost TransitionRun = %v; want ErrConflict", err)
	}
	for _, tc := range []struct {
		id    int64
		event State
	}{{r2.ID, StateSucceeded}, {r3.ID, StateFailed}} {
		if got := notes(t, s, tc.id); len(got) != 1 || got[0].URL != "http://z.example/" || got[0].Event != tc.event {
			t.Errorf("notifications of run %d = %+v; want one %s to z", tc.id, got, tc.event)
		}
	}

	// A batch naming a run deleted meanwhile still commits.
	gone := Run{ID: 1 << 40, State: StateFailed, MaxAttempts: 1, Notify: []Target{{URL: "http://z.example/"}}}
	if err := s.ApplyRunChanges(ctx, []Run{gone}, nil); err != nil {
		t.Errorf("ApplyRunChanges of an unknown run with notifications = %v; want nil", err)
	}
}

func TestNotificationsRefused(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	r, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, State: StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	hook := []Target{{URL: "http://h.example/"}}
	for _, tc := range []struct {
		name  string
		write func() error
	}{
		{"a KILLED run", func() error {
			k := r
			k.State, k.Notify = StateKilled, hook
			return s.UpdateRun(ctx, k)
		}},
		{"an active run", func() error {
			_, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, Notify: hook})
			return err
		}},
		{"an empty URL", func() error {
			f := r
			f.State, f.Notify = StateFailed, []Target{{URL: ""}}
			return s.ApplyRunChanges(ctx, []Run{f}, nil)
		}},
		{"a URL twice", func() error {
			_, err := s.TransitionRun(ctx, r.ID, []State{StateRunning}, Run{State: StateFailed, Notify: append(hook, hook...)})
			return err
		}},
		{"TransitionRuns", func() error {
			_, err := s.TransitionRuns(ctx, []State{StateRunning}, []Run{{ID: r.ID, State: StateFailed, Notify: hook}})
			return err
		}},
	} {
		if err := tc.write(); !errors.Is(err, ErrInvalid) {
			t.Errorf("notifications for %s = %v; want ErrInvalid", tc.name, err)
		}
	}
	if got, err := s.Run(ctx, r.ID); err != nil || got.State != StateRunning || len(notes(t, s, r.ID)) != 0 {
		t.Errorf("run after refused writes = %s, %v, %v; want RUNNING without notifications", got.State, err, notes(t, s, r.ID))
	}
}

func TestMarkParentDoneNotifiesASkippedChild(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	putJob(t, s, "p")
	putJob(t, s, "c", "p")
	done := finishedRun(t, s, "p", StateSucceeded)
	now := at(3, 0, 0)
	children, err := s.MarkParentDone(ctx, "p", done.ID, func(string) Run {
		return Run{State: StateSkipped, FinishedAt: &now, Reason: "job is disabled", Notify: []Target{{URL: "http://h.example/"}}}
	})
	if err != nil || len(children) != 1 {
		t.Fatalf("MarkParentDone = %+v, %v; want one child run", children, err)
	}
	if got := notes(t, s, children[0].ID); len(got) != 1 || got[0].Event != StateSkipped {
		t.Errorf("notifications of the skipped child = %+v; want one SKIPPED", got)
	}
}

// endedRun inserts a FAILED run of job that ended at end, with
// notifications to hooks.
func endedRun(t *testing.T, s *Store, job string, end time.Time, hooks ...string) Run {
	t.Helper()
	var ts []Target
	for _, h := range hooks {
		ts = append(ts, Target{URL: h})
	}
	r, _, err := s.InsertRun(t.Context(), Run{Job: job, Trigger: TriggerManual, State: StateFailed, FinishedAt: &end, Notify: ts})
	if err != nil {
		t.Fatalf("InsertRun: %v", err)
	}
	return r
}

func TestClaimAndRecordDeliveries(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	end := at(1, 0, 0)
	r := endedRun(t, s, "a", end, "http://a.example/", "http://b.example/")
	later := endedRun(t, s, "a", end.Add(time.Minute), "http://c.example/")
	const lease = 30 * time.Second

	if _, _, err := s.ClaimNotifications(ctx, end, 0, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("ClaimNotifications with no lease = %v; want ErrInvalid", err)
	}
	got, next, err := s.ClaimNotifications(ctx, end.Add(-time.Second), lease, 10)
	if err != nil || len(got) != 0 || next == nil || !next.Equal(end) {
		t.Fatalf("ClaimNotifications before they are due = %d, next %v, %v; want none, next %s", len(got), next, err, end)
	}
	got, next, err = s.ClaimNotifications(ctx, end, lease, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ClaimNotifications at the run's end = %+v, %v; want run %d's two", got, err, r.ID)
	}
	for _, d := range got {
		if d.RunID != r.ID || d.Run.ID != r.ID || d.Run.State != StateFailed || !d.NextAttemptAt.Equal(end.Add(lease)) {
			t.Errorf("claimed %+v; want run %d's, with the run, leased until %s", d, r.ID, end.Add(lease))
		}
	}
	if want := end.Add(lease); next == nil || !next.Equal(want) {
		t.Errorf("next after the claim = %v; want %s (the end of the lease)", next, want)
	}
	// Leased: not claimed again until the lease passes.
	if again, _, err := s.ClaimNotifications(ctx, end.Add(lease-time.Second), lease, 10); err != nil || len(again) != 0 {
		t.Errorf("ClaimNotifications within the lease = %d, %v; want none", len(again), err)
	}

	a, b := got[0], got[1]
	fail := Attempt{State: DeliveryFailing, At: end.Add(time.Second), Status: 500, Error: "HTTP 500: " + strings.Repeat("x", 2*maxErrorLen), Next: end.Add(10 * time.Second)}
	if err := s.RecordDelivery(ctx, a.ID, fail); err != nil {
		t.Fatalf("RecordDelivery(failing): %v", err)
	}
	ok := Attempt{State: DeliveryDelivered, At: end.Add(2 * time.Second), Status: 204}
	if err := s.RecordDelivery(ctx, b.ID, ok); err != nil {
		t.Fatalf("RecordDelivery(delivered): %v", err)
	}
	byURL := map[string]Notification{}
	for _, n := range notes(t, s, r.ID) {
		byURL[n.URL] = n
	}
	if n := byURL[a.URL]; n.State != DeliveryFailing || n.Attempts != 1 || n.LastStatus != 500 || len(n.LastError) != maxErrorLen ||
		!n.NextAttemptAt.Equal(fail.Next) || n.LastAttemptAt == nil || !n.LastAttemptAt.Equal(fail.At) || n.DeliveredAt != nil {
		t.Errorf("after a failed attempt: %+v; want failing, 1 attempt, status 500, the error cut to %d bytes, due at %s", n, maxErrorLen, fail.Next)
	}
	if n := byURL[b.URL]; n.State != DeliveryDelivered || n.Attempts != 1 || n.LastStatus != 204 || n.LastError != "" ||
		n.DeliveredAt == nil || !n.DeliveredAt.Equal(ok.At) {
		t.Errorf("after a delivery: %+v; want delivered at %s", n, ok.At)
	}

	// Due again: the failing one at its next attempt, never the delivered.
	got, _, err = s.ClaimNotifications(ctx, end.Add(time.Hour), lease, 10)
	if err != nil || len(got) != 2 || got[0].ID != a.ID || got[1].RunID != later.ID {
		t.Fatalf("ClaimNotifications an hour on = %+v, %v; want the failing one, then run %d's", got, err, later.ID)
	}
	if err := s.RecordDelivery(ctx, a.ID, Attempt{State: DeliveryAbandoned, At: end.Add(time.Hour), Error: "gave up"}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ClaimNotifications(ctx, end.Add(48*time.Hour), lease, 10); err != nil || len(got) != 1 || got[0].RunID != later.ID {
		t.Errorf("ClaimNotifications two days on = %+v, %v; want only run %d's", got, err, later.ID)
	}

	for _, tc := range []struct {
		name string
		id   string
		a    Attempt
		want error
	}{
		{"delivered twice", b.ID, ok, ErrConflict},
		{"abandoned, then delivered", a.ID, ok, ErrConflict},
		{"unknown id", uuid.NewString(), ok, ErrNotFound},
		{"not an id", "x", ok, ErrInvalid},
		{"no state", a.ID, Attempt{At: end}, ErrInvalid},
		{"failing without next", a.ID, Attempt{State: DeliveryFailing, At: end}, ErrInvalid},
		{"pending", a.ID, Attempt{State: DeliveryPending, At: end}, ErrInvalid},
	} {
		if err := s.RecordDelivery(ctx, tc.id, tc.a); !errors.Is(err, tc.want) {
			t.Errorf("RecordDelivery, %s = %v; want %v", tc.name, err, tc.want)
		}
	}
	counts, err := s.NotificationCounts(ctx)
	if want := map[DeliveryState]int64{DeliveryDelivered: 1, DeliveryAbandoned: 1, DeliveryPending: 1}; err != nil || !mapsEqual(counts, want) {
		t.Errorf("NotificationCounts = %v, %v; want %v", counts, err, want)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Claims racing from several processes never hand out one notification
// twice.
func TestClaimNotificationsRace(t *testing.T) {
	db := newDB(t)
	s := open(t, db)
	ctx := t.Context()
	end := at(1, 0, 0)
	const runs = 40
	for i := range runs {
		endedRun(t, s, "a", end.Add(time.Duration(i)*time.Millisecond), "http://a.example/")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := open(t, db)
			for {
				got, _, err := other.ClaimNotifications(ctx, end.Add(time.Hour), time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimNotifications: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != runs {
		t.Errorf("%d notifications claimed; want %d", len(seen), runs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("notification %s claimed %d times; want once", id, n)
		}
	}
}

func TestPruneKeepsRunsWithNotificationsToDeliver(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	old := at(1, 0, 0)
	pending := endedRun(t, s, "a", old, "http://a.example/")
	delivered := endedRun(t, s, "a", old, "http://a.example/")
	got, _, err := s.ClaimNotifications(ctx, old, time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ClaimNotifications = %d, %v", len(got), err)
	}
	for _, d := range got {
		if d.RunID == delivered.ID {
			if err := s.RecordDelivery(ctx, d.ID, Attempt{State: DeliveryDelivered, At: old}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := s.PruneRuns(ctx, at(5, 0, 0), 0); n != 1 || err != nil {
		t.Errorf("PruneRuns = %d, %v; want 1 (the run whose notification was delivered)", n, err)
	}
	if _, err := s.Run(ctx, pending.ID); err != nil {
		t.Errorf("the run with a pending notification: %v; want it kept", err)
	}
	if all, err := s.Notifications(ctx, []int64{pending.ID, delivered.ID}); err != nil || len(all[delivered.ID]) != 0 || len(all[pending.ID]) != 1 {
		t.Errorf("notifications after pruning = %v, %v; want only the pending run's", all, err)
	}
}
