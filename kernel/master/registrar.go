package master

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// registrar applies registry writes in order, one at a time, retrying each
// with backoff until it succeeds or the master stops. A write is
// acknowledged (done is closed) only once it is durable. Because it owns
// the only path to the registry, the master's loop never blocks on
// Postgres: while the database is away, writes wait here and the running
// cluster keeps going.
type registrar struct {
	log *slog.Logger
	// permanent says which errors retrying cannot cure; such a write is
	// dropped (and logged) so it cannot hold up the writes behind it.
	permanent func(error) bool

	mu      sync.Mutex
	pending []*write
	wake    chan struct{}
	lastErr error
	lastOK  time.Time
}

type write struct {
	what string
	fn   func(ctx context.Context) error
	done chan struct{}
}

func newRegistrar(log *slog.Logger, permanent func(error) bool) *registrar {
	return &registrar{log: log, permanent: permanent, wake: make(chan struct{}, 1)}
}

// enqueue schedules fn and returns a channel closed once it has succeeded.
func (r *registrar) enqueue(what string, fn func(ctx context.Context) error) <-chan struct{} {
	w := &write{what: what, fn: fn, done: make(chan struct{})}
	r.mu.Lock()
	r.pending = append(r.pending, w)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return w.done
}

// healthy reports whether the last registry operation succeeded, and the
// error of the last failure otherwise.
func (r *registrar) health() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr == nil, r.lastErr
}

func (r *registrar) setResult(err error) {
	r.mu.Lock()
	r.lastErr = err
	if err == nil {
		r.lastOK = time.Now()
	}
	r.mu.Unlock()
}

// run processes writes until ctx is done.
func (r *registrar) run(ctx context.Context) {
	for {
		r.mu.Lock()
		var w *write
		if len(r.pending) > 0 {
			w = r.pending[0]
			r.pending = r.pending[1:]
		}
		r.mu.Unlock()
		if w == nil {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
			continue
		}
		backoff := 100 * time.Millisecond
		for {
			opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := w.fn(opCtx)
			cancel()
			if err != nil && r.permanent(err) {
				r.log.Error("registry write refused; dropping it", "what", w.what, "err", err)
				close(w.done)
				break
			}
			r.setResult(err)
			if err == nil {
				close(w.done)
				break
			}
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("registry write failed; retrying", "what", w.what, "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}
