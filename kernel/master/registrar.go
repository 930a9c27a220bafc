package master

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"corral/internal/lead"
)

// registrar applies registry writes in order, one at a time, retrying each
// with backoff until it succeeds or the master stops. A write is
// acknowledged (done receives nil) only once it is durable; one that
// cannot succeed is dropped, and done receives why. Because it owns
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
	stopped bool // run has returned
	wake    chan struct{}
	lastErr error
	lastOK  time.Time
}

type write struct {
	what string
	fn   func(ctx context.Context) error
	done chan error // buffered: run never waits for a reader
}

func newRegistrar(log *slog.Logger, permanent func(error) bool) *registrar {
	return &registrar{log: log, permanent: permanent, wake: make(chan struct{}, 1)}
}

// enqueue schedules fn and returns a channel that receives one answer:
// nil once fn has succeeded, the error for which it was dropped (see
// permanent), or errStopped if the master stopped first.
func (r *registrar) enqueue(what string, fn func(ctx context.Context) error) <-chan error {
	w := &write{what: what, fn: fn, done: make(chan error, 1)}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		w.done <- errStopped
		return w.done
	}
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

// run processes writes until ctx is done. Then it answers errStopped for
// the write it was carrying out and for every other it will not carry
// out, those enqueued later included.
func (r *registrar) run(ctx context.Context) {
	defer r.stop()
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
		if !r.carry(ctx, w) {
			w.done <- errStopped
			return
		}
	}
}

// carry makes w durable, retrying with backoff, or drops it if it cannot
// succeed, and answers it. It returns false, leaving w unanswered, if ctx
// ends first.
func (r *registrar) carry(ctx context.Context, w *write) bool {
	backoff := 100 * time.Millisecond
	for {
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := w.fn(opCtx)
		cancel()
		if err != nil && r.permanent(err) {
			r.log.Error("registry write refused; dropping it", "what", w.what, "err", err)
			w.done <- err
			return true
		}
		r.setResult(err)
		if err == nil {
			w.done <- nil
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		r.log.Warn("registry write failed; retrying", "what", w.what, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// stop answers errStopped for the pending writes and makes enqueue answer
// it at once from now on.
func (r *registrar) stop() {
	r.mu.Lock()
	pending := r.pending
	r.pending, r.stopped = nil, true
	r.mu.Unlock()
	for _, w := range pending {
		w.done <- errStopped
	}
}

// notWritten is the answer to a call whose registry write was not carried
// out: 503 when another master began a term since this one (the call can
// succeed at the leader; a standby at this address forwards or redirects
// it) or when the master stopped first, else an internal error whose
// cause is logged.
func notWritten(err error) error {
	switch {
	case errors.Is(err, lead.ErrFenced):
		return errorf(http.StatusServiceUnavailable, "This master no longer leads: another master began a term since; retry")
	case errors.Is(err, errStopped):
		return errorf(http.StatusServiceUnavailable, "Master is stopping")
	}
	return err
}
