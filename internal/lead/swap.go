package lead

import (
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

// served is one term's handler; its address tells terms apart.
type served struct{ h http.Handler }

// NewSwap returns a Swap that serves standby until a term serves.
func NewSwap(standby http.Handler) *Swap {
	return &Swap{standby: standby}
}

// Serve makes h answer every request from now until end is called; then
// the standby answers again. One term serves at a time: a later Serve
// replaces h, and h's end then changes nothing. end is idempotent.
// Requests h has already begun run to their end.
func (s *Swap) Serve(h http.Handler) (end func()) {
	t := &served{h: h}
	s.term.Store(t)
	return func() { s.term.CompareAndSwap(t, nil) }
}

// Serving reports whether a term's handler answers.
func (s *Swap) Serving() bool { return s.term.Load() != nil }

// ServeHTTP passes r to the serving term's handler, or to the standby's.
func (s *Swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := s.term.Load(); t != nil {
		t.h.ServeHTTP(w, r)
		return
	}
	s.standby.ServeHTTP(w, r)
}
