package lead

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Swap is the handler of a server whose API changes with leadership: the
// leading term's handler while a term serves, the standby's otherwise.
// Terms come and go under one server and one listener, so clients keep
// their address across them. Safe for concurrent use.
type Swap struct {
	standby http.Handler
	term    atomic.Pointer[served]
}

// served is one term's handler and the context it serves under; its
// address tells terms apart.
type served struct {
	ctx context.Context
	h   http.Handler
}

// live reports whether t is a term that still answers.
func (t *served) live() bool { return t != nil && t.ctx.Err() == nil }

// NewSwap returns a Swap that serves standby until a term serves.
func NewSwap(standby http.Handler) *Swap {
	return &Swap{standby: standby}
}

// Serve makes h answer every request from now until ctx ends or end is
// called, whichever comes first; then the standby answers again. The
// standby answers from the moment ctx ends, before the term's code has
// noticed and called end. One term serves at a time: a later Serve
// replaces h, and h's end then changes nothing. end is idempotent.
// Requests h has already begun run to their end.
func (s *Swap) Serve(ctx context.Context, h http.Handler) (end func()) {
	t := &served{ctx: ctx, h: h}
	s.term.Store(t)
	return func() { s.term.CompareAndSwap(t, nil) }
}

// Serving reports whether a term's handler answers.
func (s *Swap) Serving() bool { return s.term.Load().live() }

// ServeHTTP passes r to the serving term's handler, or to the standby's.
func (s *Swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := s.term.Load(); t.live() {
		t.h.ServeHTTP(w, r)
		return
	}
	s.standby.ServeHTTP(w, r)
}
