package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"corral/frameworks/jobs/store"
)

// The leader learns what any process's API changed (jobs created,
// redefined or deleted; manual and dependency runs queued) from the
// watcher, a goroutine of its term: it listens for the database's
// announcements (store.Listen), reads only what they name, and sends what
// it read to the loop. Each time it (re)connects it reads every job and
// queued run once, since announcements made while it was away are lost.
// The loop never reads the jobs table itself.

// news is what the watcher read, for the loop.
type news struct {
	// all says jobs holds every job: the others are gone.
	all  bool
	jobs []store.JobRecord
	// deleted names jobs announced that no longer exist.
	deleted []string
	// runs are queued manual and dependency runs.
	runs []store.Run
}

// Watcher timing.
const (
	// watchIdle is how long the watcher waits for an announcement before
	// it checks its connection.
	watchIdle = 30 * time.Second
	// watchGather is how long it waits for more announcements after one,
	// to read them together.
	watchGather = 20 * time.Millisecond
	// watchRead bounds each read.
	watchRead = 10 * time.Second
)

// watch sends news to out until ctx ends, reconnecting with backoff.
func watch(ctx context.Context, st *store.Store, log *slog.Logger, out chan<- news) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := watchOnce(ctx, st, out, func() { backoff = 200 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn("cannot watch the jobs for changes; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// watchOnce listens on one connection until it fails or ctx ends. synced
// is called once everything has been read.
func watchOnce(ctx context.Context, st *store.Store, out chan<- news, synced func()) error {
	lctx, cancel := context.WithTimeout(ctx, watchRead)
	l, err := st.Listen(lctx)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Close(cctx)
	}()
	// Listening first, then reading: what changed before is in the read,
	// what changes after is announced.
	n, err := readAll(ctx, st)
	if err != nil {
		return err
	}
	if !send(ctx, out, n) {
		return nil
	}
	synced()
	for {
		first, err := next(ctx, l, watchIdle)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = l.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		all := first.All
		jobs, runs := map[string]bool{}, map[int64]bool{}
		add := func(c store.Change) {
			switch {
			case c.All:
				all = true
			case c.Job != "":
				jobs[c.Job] = true
			case c.Run != 0:
				runs[c.Run] = true
			}
		}
		add(first)
		for len(jobs)+len(runs) < 1000 {
			c, err := next(ctx, l, watchGather)
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if err != nil {
				return err
			}
			add(c)
		}
		if all {
			n, err = readAll(ctx, st)
		} else {
			n, err = readNamed(ctx, st, jobs, runs)
		}
		if err != nil {
			return err
		}
		if !send(ctx, out, n) {
			return nil
		}
	}
}

// next waits at most d for an announcement.
func next(ctx context.Context, l *store.Listener, d time.Duration) (store.Change, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return l.Next(wctx)
}

// readAll reads every job and every queued manual or dependency run.
func readAll(ctx context.Context, st *store.Store) (news, error) {
	rctx, cancel := context.WithTimeout(ctx, watchRead)
	defer cancel()
	jobs, err := st.Jobs(rctx)
	if err != nil {
		return news{}, err
	}
	runs, err := st.QueuedUnscheduledRuns(rctx)
	if err != nil {
		return news{}, err
	}
	return news{all: true, jobs: jobs, runs: runs}, nil
}

// readNamed reads the jobs and runs announced.
func readNamed(ctx context.Context, st *store.Store, jobs map[string]bool, runs map[int64]bool) (news, error) {
	rctx, cancel := context.WithTimeout(ctx, watchRead)
	defer cancel()
	var n news
	names := sortedKeys(jobs)
	recs, err := st.JobsNamed(rctx, names)
	if err != nil {
		return news{}, err
	}
	n.jobs = recs
	found := map[string]bool{}
	for _, r := range recs {
		found[r.Name] = true
	}
	for _, name := range names {
		if !found[name] {
			n.deleted = append(n.deleted, name)
		}
	}
	ids := make([]int64, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	if n.runs, err = st.QueuedRuns(rctx, ids); err != nil {
		return news{}, err
	}
	return n, nil
}

// send hands n to the loop; false if ctx ended first.
func send(ctx context.Context, out chan<- news, n news) bool {
	select {
	case out <- n:
		return true
	case <-ctx.Done():
		return false
	}
}
