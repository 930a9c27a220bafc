package durable

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

type loop struct{ done []string }

func TestWriterRetriesInOrderAndGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		permanent := errors.New("refused for good")
		wr := New[*loop](Config{Queue: 3, Attempt: time.Second, Permanent: func(err error) bool { return errors.Is(err, permanent) }}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go wr.Run(ctx)
		l := &loop{}
		record := func(name string) func(*loop, error) {
			return func(l *loop, err error) {
				if err != nil {
					name += ": " + err.Error()
				}
				l.done = append(l.done, name)
			}
		}
		fails := 0
		flaky := &Write[*loop]{What: "flaky", Fn: func(context.Context) error {
			if fails < 3 {
				fails++
				return errors.New("connection refused")
			}
			return nil
		}, Done: record("flaky")}
		refused := &Write[*loop]{What: "refused", Fn: func(context.Context) error { return permanent }, Done: record("refused")}
		late := &Write[*loop]{What: "late", Deadline: time.Now().Add(150 * time.Millisecond),
			Fn: func(context.Context) error { return errors.New("still down") }, Done: record("late")}
		for _, w := range []*Write[*loop]{flaky, refused, late} {
			if !wr.Submit(w) {
				t.Fatalf("Submit(%s) = false with room in the queue", w.What)
			}
		}
		if wr.Submit(&Write[*loop]{What: "one too many", Fn: func(context.Context) error { return nil }}) {
			t.Fatal("Submit past the queue's bound = true; want false")
		}
		for range 3 {
			wr.Written(l, <-wr.Out())
		}
		want := []string{"flaky", "refused: refused for good", "late: context deadline exceeded"}
		if len(l.done) != 3 || l.done[0] != want[0] || l.done[1] != want[1] || l.done[2] != want[2] {
			t.Errorf("outcomes = %q; want %q (in order: retried until it succeeded, refused at once, given up at its deadline)", l.done, want)
		}
		if s := wr.Stats(); s.Outstanding != 0 || s.Refused != 1 || s.LastErr == nil {
			t.Errorf("Stats() = %+v; want nothing outstanding, one refusal and the last write's error", s)
		}
	})
}
