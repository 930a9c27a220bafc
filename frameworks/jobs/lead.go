package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"corral/frameworks/jobs/store"
	"corral/internal/zkelect"
)

// Leadership of the jobs instances sharing one database.
//
// Without an election the instance that holds the database lock
// (store.TryLead) leads. With one (Config.ZK) an instance leads only while
// both hold:
//
//	elected in ZooKeeper ──► take the database lock ──► term: a fresh core
//	   ▲   (zkelect)         (retry every fenceRetry   runs until the
//	   │                      while the previous        election or the
//	   │                      leader still holds it)    lock is lost
//	   └──────────── lost either: the term ends, the lock is released ◄┘
//
// The election picks the leader quickly and tells standbys where to
// forward; the lock is the fence: a leader ZooKeeper has already replaced
// but that has not noticed yet still holds the lock, so its successor
// cannot start scheduling until it has stopped. Exactly-once therefore
// never depends on ZooKeeper and Postgres agreeing.

const (
	// memberPrefix names the jobs instances' members under the election's
	// base path.
	memberPrefix = "jobs_"
	// fenceRetry is how often an elected instance asks for the database
	// lock while another process still holds it.
	fenceRetry = 200 * time.Millisecond
	// fenceWarnEvery spaces out the warnings of an elected instance that
	// keeps waiting for the lock.
	fenceWarnEvery = 10 * time.Second
	// lockRetry is how often an instance without an election asks for the
	// database lock.
	lockRetry = time.Second
)

// member is what an instance publishes as its member's data in the
// election: the base URL of its API, and an id that tells it apart from
// other instances even if two advertise the same URL.
type member struct {
	URL string `json:"url"`
	ID  string `json:"id"`
}

// parseMember reads a member's data; a member without a URL is an error,
// as nobody could forward to it.
func parseMember(data []byte) (member, error) {
	var m member
	if err := json.Unmarshal(data, &m); err != nil {
		return member{}, fmt.Errorf("member data %q: %w", data, err)
	}
	if m.URL == "" {
		return member{}, fmt.Errorf("member data %q has no url", data)
	}
	return m, nil
}

// newElector returns the election for this instance under Config.ZK,
// publishing s.url and s.id. It does not connect.
func (s *Service) newElector() (*zkelect.Elector, error) {
	u, err := zkelect.ParseURL(s.cfg.ZK)
	if err != nil {
		return nil, fmt.Errorf("zk: %w", err)
	}
	data, err := json.Marshal(member{URL: s.url, ID: s.id})
	if err != nil {
		return nil, err
	}
	return zkelect.NewElector(u, data, zkelect.Options{SessionTimeout: s.cfg.ZKSessionTimeout, Prefix: memberPrefix,
		Logger: s.root.With("component", "jobs-election")}), nil
}

// contend leads whenever this instance may, until ctx ends.
func (s *Service) contend(ctx context.Context) {
	if s.el == nil {
		s.contendLock(ctx)
		return
	}
	s.contendElected(ctx)
}

// contendLock takes the database lock whenever it is free and leads while
// holding it.
func (s *Service) contendLock(ctx context.Context) {
	for ctx.Err() == nil {
		lead, ok, err := s.store.TryLead(ctx)
		if err != nil || !ok {
			if err != nil {
				s.log.Warn("cannot reach the database to contend for leadership", "err", err)
			}
			if sleep(ctx, lockRetry) != nil {
				return
			}
			continue
		}
		if err := s.term(ctx, lead); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler stopped", "err", err)
			if sleep(ctx, lockRetry) != nil {
				return
			}
		}
	}
}

// contendElected runs the election until ctx ends and leads, fenced by the
// database lock, whenever elected. A term that ends while still elected
// (the lock was lost, or the scheduler failed) gives the election up, so
// another instance may try; the Elector then joins again at the back.
func (s *Service) contendElected(ctx context.Context) {
	err := s.el.Run(ctx, func(ectx context.Context) {
		s.log.Info("elected; taking the database lock")
		lead, err := s.fence(ectx)
		if err != nil {
			s.log.Info("stopped waiting for the database lock", "cause", context.Cause(ectx))
			return
		}
		err = s.term(ectx, lead)
		switch {
		case ectx.Err() != nil:
			s.log.Warn("lost the election; standing by", "cause", context.Cause(ectx))
		case err != nil:
			s.log.Error("scheduler stopped; giving up the election", "err", err)
		default:
			s.log.Error("lost the database lock; giving up the election")
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("election stopped", "err", err)
	}
}

// fence takes the database lock for an elected instance, asking every
// fenceRetry while another process (the previous leader, still stopping)
// holds it or the database cannot be reached. It returns an error only
// when ctx ends.
func (s *Service) fence(ctx context.Context) (*store.Leadership, error) {
	start := time.Now()
	warned := start
	for {
		lead, ok, err := s.store.TryLead(ctx)
		if ok {
			if waited := time.Since(start); waited > fenceRetry {
				s.log.Info("took the database lock", "waited", waited.Round(time.Millisecond))
			}
			return lead, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Since(warned) >= fenceWarnEvery {
			warned = time.Now()
			if err != nil {
				s.log.Warn("elected, but the database cannot be reached to take its lock; retrying", "err", err)
			} else {
				s.log.Warn("elected, but another process still holds the database lock; waiting", "waited", time.Since(start).Round(time.Second))
			}
		}
		if err := sleep(ctx, fenceRetry); err != nil {
			return nil, err
		}
	}
}

// term leads for one term, holding lead: a fresh scheduler core runs until
// ctx ends or the lock is lost, then lead is released. Nothing is carried
// over from an earlier term: each core loads the jobs and active runs from
// Postgres and subscribes with the framework id stored there. term returns
// the core's error, nil when it was stopped.
func (s *Service) term(ctx context.Context, lead *store.Leadership) error {
	defer lead.Release()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-lead.Lost():
			s.log.Error("lost the leadership lock; stepping down", "err", lead.Err())
			cancel()
		case <-lctx.Done():
		}
	})
	s.log.Info("leading: scheduling jobs")
	c := newCore(s)
	s.mu.Lock()
	s.leader = c
	s.mu.Unlock()
	s.leading.Store(true)
	err := c.run(lctx)
	s.leading.Store(false)
	s.mu.Lock()
	s.leader = nil
	s.mu.Unlock()
	cancel()
	wg.Wait()
	return err
}

// leaderURL returns the base URL of the instance that leads, as far as
// this one knows: its own while it leads, else the one the election names
// (as last seen, so possibly stale while ZooKeeper cannot be reached).
// other says it is another instance. ok is false when no leader is known:
// without an election, or while this instance is elected but not yet (or
// no longer) leading.
func (s *Service) leaderURL() (u string, other, ok bool) {
	if s.Leading() {
		return s.url, false, true
	}
	if s.el == nil {
		return "", false, false
	}
	l, known := s.el.Leader()
	if !known {
		return "", false, false
	}
	m, err := parseMember(l.Data)
	if err != nil || m.ID == s.id {
		return "", false, false
	}
	return m.URL, true, true
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
