// Package durable is how the frameworks' owner loops keep Postgres off
// their goroutine (decide → persist → apply): the loop decides a Write and
// submits it; the Writer, a goroutine of the loop's lifetime, makes the
// writes one at a time and in order, each attempt with a deadline, retrying
// with backoff until it succeeds, is refused for good, passes its own
// deadline or the loop ends; the loop then receives it back on Out and
// applies the outcome with Written.
//
//	loop ── Submit ──▶ in ──▶ Writer.Run (persist, retry) ──▶ Out ──▶ loop: Written → Done
//
// The queue is bounded: Submit reports false instead of blocking when the
// loop already has Queue writes outstanding, and the work stays pending with
// the loop.
package durable

import (
	"context"
	"log/slog"
	"time"
)

// Write is one durable change an owner loop decided. C is the loop's
// state, which Done receives.
type Write[C any] struct {
	// What names the write in logs.
	What string
	// Fn makes the change. It runs on the writer's goroutine, so it must
	// use nothing the loop owns: the loop copies what Fn needs beforehand.
	Fn func(ctx context.Context) error
	// Deadline, when not zero, is when the writer gives up; zero retries
	// until the write succeeds, is refused for good or the loop ends.
	Deadline time.Time
	// Attempt bounds one attempt (the Writer's default if zero).
	Attempt time.Duration
	// Done runs on the loop with the outcome: nil once durable.
	Done func(c C, err error)
	// Err is the outcome, set by the writer.
	Err error
}

// Writer makes an owner loop's writes. Run is its goroutine; Submit,
// Written and the counters belong to the loop (they are not safe for use
// by other goroutines).
type Writer[C any] struct {
	log       *slog.Logger
	permanent func(error) bool
	queue     int
	attempt   time.Duration
	retryMax  time.Duration
	in        chan *Write[C]
	out       chan *Write[C]

	outstanding int
	refused     int
	fullLogged  time.Time
	lastErr     error
	lastErrAt   time.Time
}

// Config tunes a Writer; zero fields take their defaults.
type Config struct {
	// Queue bounds the writes outstanding (default 256).
	Queue int
	// Attempt bounds one attempt of a write (default 5s).
	Attempt time.Duration
	// RetryMax bounds the backoff between attempts (default 5s).
	RetryMax time.Duration
	// Permanent reports an error that retrying cannot cure (the store's
	// data and fencing errors); nil treats every error as passing.
	Permanent func(error) bool
}

// New returns a Writer; start its Run on a goroutine of the loop's
// lifetime and join it when the loop stops.
func New[C any](cfg Config, log *slog.Logger) *Writer[C] {
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Attempt <= 0 {
		cfg.Attempt = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.Permanent == nil {
		cfg.Permanent = func(error) bool { return false }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer[C]{log: log, permanent: cfg.Permanent, queue: cfg.Queue, attempt: cfg.Attempt, retryMax: cfg.RetryMax,
		in: make(chan *Write[C], cfg.Queue), out: make(chan *Write[C], cfg.Queue)}
}

// Out delivers the writes made, in order, for the loop to pass to Written.
func (wr *Writer[C]) Out() <-chan *Write[C] { return wr.out }

// Run makes writes until ctx ends.
func (wr *Writer[C]) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-wr.in:
			w.Err = wr.persist(ctx, w)
			if ctx.Err() != nil {
				return
			}
			// The loop has at most queue writes outstanding, so out has
			// room.
			wr.out <- w
		}
	}
}

// persist tries w until it succeeds, fails for good, passes its deadline
// or ctx ends, with backoff between attempts.
func (wr *Writer[C]) persist(ctx context.Context, w *Write[C]) error {
	backoff := 100 * time.Millisecond
	attempt := w.Attempt
	if attempt <= 0 {
		attempt = wr.attempt
	}
	for {
		if !w.Deadline.IsZero() && !time.Now().Before(w.Deadline) {
			// Never started past its deadline: whoever waited for it has
			// been told it failed.
			return context.DeadlineExceeded
		}
		end := time.Now().Add(attempt)
		if !w.Deadline.IsZero() && w.Deadline.Before(end) {
			end = w.Deadline
		}
		actx, cancel := context.WithDeadline(ctx, end)
		err := w.Fn(actx)
		cancel()
		if err == nil || wr.permanent(err) || ctx.Err() != nil {
			return err
		}
		if !w.Deadline.IsZero() && time.Now().Add(backoff).After(w.Deadline) {
			return err
		}
		wr.log.Warn("write failed; retrying", "what", w.What, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, wr.retryMax)
	}
}

// CanSubmit reports whether the writer takes another write now.
func (wr *Writer[C]) CanSubmit() bool { return wr.outstanding < wr.queue }

// Submit hands w to the writer. It reports false, and leaves w to the
// caller, when the queue is full: the work stays pending with the loop.
func (wr *Writer[C]) Submit(w *Write[C]) bool {
	if !wr.CanSubmit() {
		wr.refused++
		if time.Since(wr.fullLogged) > 10*time.Second {
			wr.fullLogged = time.Now()
			wr.log.Warn("the write queue is full; keeping work pending", "outstanding", wr.outstanding, "what", w.What)
		}
		return false
	}
	wr.outstanding++
	wr.in <- w
	return true
}

// Written applies the outcome of a write received from Out: it runs its
// Done with c.
func (wr *Writer[C]) Written(c C, w *Write[C]) {
	wr.outstanding--
	if w.Err != nil {
		wr.lastErr, wr.lastErrAt = w.Err, time.Now()
	} else {
		wr.lastErr = nil
	}
	if w.Done != nil {
		w.Done(c, w.Err)
	}
}

// Stats are the writer's figures, for /health and /metrics.
type Stats struct {
	// Outstanding writes submitted and not yet Written.
	Outstanding int
	// Refused counts the Submits that found the queue full.
	Refused int
	// LastErr is the error of the last write, nil after a success, and
	// LastErrAt when it came back.
	LastErr   error
	LastErrAt time.Time
}

// Stats returns the writer's figures.
func (wr *Writer[C]) Stats() Stats {
	return Stats{Outstanding: wr.outstanding, Refused: wr.refused, LastErr: wr.lastErr, LastErrAt: wr.lastErrAt}
}
