package lead

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// says is a handler that answers its name.
type says string

func (s says) ServeHTTP(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, string(s)) }

func get(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Body.String()
}

func TestSwap(t *testing.T) {
	ctx := t.Context()
	s := NewSwap(says("standby"))
	if got := get(t, s); got != "standby" || s.Serving() {
		t.Fatalf("before any term: %q, serving %v; want standby", got, s.Serving())
	}
	end1 := s.Serve(ctx, says("term 1"))
	if got := get(t, s); got != "term 1" || !s.Serving() {
		t.Errorf("during term 1: %q, serving %v; want term 1", got, s.Serving())
	}
	end1()
	end1() // idempotent
	if got := get(t, s); got != "standby" || s.Serving() {
		t.Errorf("after term 1: %q, serving %v; want standby", got, s.Serving())
	}
	end2 := s.Serve(ctx, says("term 2"))
	end1() // a stale end leaves the next term alone
	if got := get(t, s); got != "term 2" {
		t.Errorf("term 2 after term 1's end again: %q; want term 2", got)
	}
	end3 := s.Serve(ctx, says("term 3")) // replaces term 2
	end2()
	if got := get(t, s); got != "term 3" {
		t.Errorf("term 3 after term 2's end: %q; want term 3", got)
	}
	end3()
	if got := get(t, s); got != "standby" {
		t.Errorf("after term 3: %q; want standby", got)
	}
}

// A term stops answering the moment its context ends, before its code
// calls end: a request in between goes to the standby.
func TestSwapEndsWithItsContext(t *testing.T) {
	s := NewSwap(says("standby"))
	ctx, cancel := context.WithCancel(t.Context())
	end := s.Serve(ctx, says("term"))
	defer end()
	if got := get(t, s); got != "term" || !s.Serving() {
		t.Fatalf("during the term: %q, serving %v; want term", got, s.Serving())
	}
	cancel()
	if got := get(t, s); got != "standby" || s.Serving() {
		t.Errorf("after the term's context ended: %q, serving %v; want standby", got, s.Serving())
	}
}
