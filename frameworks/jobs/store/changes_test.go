package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nextChange returns the next announced change, failing after 5s.
func nextChange(t *testing.T, l *Listener) Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := l.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v; want a change", err)
	}
	return c
}

// noChange checks that nothing is announced for a moment, and that the
// Listener is usable after waiting in vain.
func noChange(t *testing.T, l *Listener) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if c, err := l.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %+v, %v; want no change (context.DeadlineExceeded)", c, err)
	}
}

// TestListenAnnouncesWhatASchedulerMustLearn: creating, redefining and
// deleting a job and queuing a manual run are announced, each by name;
// what the scheduler writes itself (cursors, scheduled runs, transitions)
// and writes that change nothing are not.
func TestListenAnnouncesWhatASchedulerMustLearn(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	l, err := s.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close(context.Background())

	putJob(t, s, "a")
	if got := nextChange(t, l); got != (Change{Job: "a"}) {
		t.Errorf("after PutJob(a): %+v; want job a", got)
	}
	putJob(t, s, "a") // the same definition again
	noChange(t, l)
	if err := s.PutJob(ctx, "a", "v2", spec, nil); err != nil {
		t.Fatal(err)
	}
	if got := nextChange(t, l); got != (Change{Job: "a"}) {
		t.Errorf("after redefining a: %+v; want job a", got)
	}
	if err := s.AdvanceCursor(ctx, "a", at(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	sched := at(2, 0, 0)
	if _, err := s.RecordOccurrences(ctx, "a", []Run{{Job: "a", Trigger: TriggerSchedule, State: StateQueued, ScheduledFor: &sched, DedupKey: ScheduleKey(sched)}}, sched); err != nil {
		t.Fatal(err)
	}
	noChange(t, l)

	r, _, err := s.InsertRun(ctx, Run{Job: "a", Trigger: TriggerManual, State: StateQueued})
	if err != nil {
		t.Fatal(err)
	}
	if got := nextChange(t, l); got != (Change{Run: r.ID}) {
		t.Errorf("after a manual run: %+v; want run %d", got, r.ID)
	}
	queued, err := s.QueuedRuns(ctx, []int64{r.ID, r.ID + 1000})
	if err != nil || len(queued) != 1 || queued[0].ID != r.ID {
		t.Errorf("QueuedRuns = %v, %v; want run %d alone", queued, err, r.ID)
	}
	to := r
	to.State = StateKilled
	if _, err := s.TransitionRun(ctx, r.ID, []State{StateQueued}, to); err != nil {
		t.Fatal(err)
	}
	noChange(t, l)
	if queued, err := s.QueuedRuns(ctx, []int64{r.ID}); err != nil || len(queued) != 0 {
		t.Errorf("QueuedRuns of a killed run = %v, %v; want none", queued, err)
	}

	putJob(t, s, "b")
	if err := s.DeleteJob(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var got []Change
	for range 2 {
		got = append(got, nextChange(t, l))
	}
	if diff := cmp.Diff([]Change{{Job: "b"}, {Job: "a"}}, got); diff != "" {
		t.Errorf("changes in commit order (-want +got):\n%s", diff)
	}
	jobs, err := s.JobsNamed(ctx, []string{"a", "b"})
	if err != nil || len(jobs) != 1 || jobs[0].Name != "b" {
		t.Errorf("JobsNamed(a, b) = %v, %v; want b alone", jobs, err)
	}

	long := strings.Repeat("x", 7001)
	putJob(t, s, long)
	if got := nextChange(t, l); got != (Change{All: true}) {
		t.Errorf("after a job whose name is too long for a payload: %+v; want all", got)
	}
	if err := l.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestParseChange(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    Change
	}{
		{"job:nightly", Change{Job: "nightly"}},
		{"job:a:b", Change{Job: "a:b"}},
		{"run:42", Change{Run: 42}},
		{"jobs", Change{All: true}},
		{"run:x", Change{All: true}},
		{"job:", Change{All: true}},
		{"", Change{All: true}},
	} {
		if got := parseChange(tc.payload); got != tc.want {
			t.Errorf("parseChange(%q) = %+v; want %+v", tc.payload, got, tc.want)
		}
	}
}
