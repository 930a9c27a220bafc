package jobs

import (
	"context"
	"errors"
	"time"

	"corral/frameworks/jobs/store"
	"corral/internal/lead"
)

// Leadership of the jobs instances sharing one database (see
// corral/internal/lead). With Config.ZK they elect a leader in ZooKeeper
// and standbys forward writes to it; without it the instance holding the
// database's jobs lock leads and nothing is forwarded. Either way a term
// begins in Postgres:
//
//	elected ──► begin a jobs term ──► term: a fresh core writing through the
//	   ▲        (a fenced view of      fenced view, until the election ends
//	   │         the store, epoch+1)   it or one of its writes is refused
//	   │                               because a later term began
//	   └──── the term ends; one that ends while elected gives leadership up ◄┘
//
// The election picks the leader quickly and tells standbys where to
// forward; the epoch is the fence: a leader the election has already
// replaced but that has not noticed yet has its writes refused, and its
// term ends at the first of them. Exactly-once never depends on ZooKeeper
// and Postgres agreeing.

const (
	// memberPrefix names the jobs instances' members under the election's
	// base path.
	memberPrefix = "jobs_"
	// leaderLockKey is the Postgres advisory lock by which instances
	// without ZooKeeper elect one: "corraljb" in ASCII, clear of the keys
	// golang-migrate derives from database names.
	leaderLockKey int64 = 0x636f7272616c6a62
	// termWarnEvery spaces out the warnings of an elected instance that
	// cannot reach the database to begin its term.
	termWarnEvery = 10 * time.Second
)

// election returns this instance's election: in ZooKeeper with Config.ZK,
// else by the database lock.
func (s *Service) election() (lead.Election, error) {
	log := s.root.With("component", "jobs-election")
	if s.cfg.ZK != "" {
		return lead.NewZK(s.cfg.ZK, s.self, lead.ZKOptions{SessionTimeout: s.cfg.ZKSessionTimeout, Prefix: memberPrefix, Logger: log})
	}
	return lead.NewDBLock(s.cfg.DB, leaderLockKey, s.self, log)
}

// forwarding reports whether standbys forward writes to the leader: with
// ZooKeeper, where they know who leads.
func (s *Service) forwarding() bool { return s.cfg.ZK != "" }

// contend leads whenever elected, until ctx ends. A term that ends while
// still elected (it was fenced, or the scheduler failed) gives leadership
// up, so another instance may try.
func (s *Service) contend(ctx context.Context) {
	err := s.el.Run(ctx, func(ectx context.Context) {
		err := s.term(ectx)
		switch {
		case ectx.Err() != nil:
			s.log.Warn("lost leadership; standing by", "cause", context.Cause(ectx))
		case errors.Is(err, store.ErrFenced):
			s.log.Warn("deposed: another jobs instance began a term; giving up leadership", "cause", err)
		case err != nil:
			s.log.Error("scheduler stopped; giving up leadership", "err", err)
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("election stopped", "err", err)
	}
}

// term leads for one term: it begins a jobs term in the database, then a
// fresh scheduler core runs on the term's fenced view of the store until
// ctx ends or one of its writes is refused. Nothing is carried over from
// an earlier term: each core loads the jobs and active runs from Postgres
// and subscribes with the framework id stored there. term returns the
// core's error, the fence's if a write was refused, nil when it was
// stopped.
func (s *Service) term(ctx context.Context) error {
	st := s.store.Fenced()
	epoch, err := s.beginTerm(ctx, st)
	if err != nil {
		return nil
	}
	tctx, stop := st.Fence().Context(ctx)
	defer stop()
	s.log.Info("leading: scheduling jobs", "epoch", epoch)
	c := newCore(s, st)
	s.mu.Lock()
	s.leader = c
	s.mu.Unlock()
	s.leading.Store(true)
	err = c.run(tctx)
	s.leading.Store(false)
	s.mu.Lock()
	s.leader = nil
	s.mu.Unlock()
	if cause := context.Cause(tctx); errors.Is(cause, store.ErrFenced) {
		return cause
	}
	return err
}

// beginTerm begins st's term, retrying while the database cannot be
// reached. It returns an error only when ctx ends.
func (s *Service) beginTerm(ctx context.Context, st *store.Store) (int64, error) {
	start := time.Now()
	warned := start
	backoff := 200 * time.Millisecond
	for {
		epoch, err := st.BeginTerm(ctx)
		if err == nil {
			return epoch, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Since(warned) >= termWarnEvery {
			warned = time.Now()
			s.log.Warn("elected, but the database cannot be reached to begin a term; retrying", "err", err, "waited", time.Since(start).Round(time.Second))
		}
		if err := sleep(ctx, backoff); err != nil {
			return 0, err
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// leaderURL returns the base URL of the instance that leads, as far as
// this one knows: its own while it leads, else the one the election names
// (as last seen, so possibly stale while ZooKeeper cannot be reached). ok
// is false when no leader is known: without ZooKeeper, or while this
// instance is elected but not yet (or no longer) leading.
func (s *Service) leaderURL() (u string, ok bool) {
	if s.Leading() {
		return s.url, true
	}
	l, known := s.el.Leader()
	if !known || l.Same(s.self) {
		return "", false
	}
	return l.URL, true
}

// sleep waits for d or until ctx ends, and then returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
