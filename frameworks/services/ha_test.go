package services

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"corral/frameworks/services/store"
)

// A leader whose term a later one has fenced has its next write refused
// (503, nothing stored); its term ends, the standby API answers while no
// leader is known, and, holding the database lock still, it begins a new
// term in which the write goes through.
func TestDeposedTermEndsAndANewOneBegins(t *testing.T) {
	s := startServer(t, newDB(t))
	ctx := t.Context()
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id": "/before", "cmd": "sleep 1", "instances": 0}`)
	epoch := func() int64 {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var e int64
		if err := conn.QueryRow(ctx, `SELECT epoch FROM services.term`).Scan(&e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if e := epoch(); e != 1 {
		t.Fatalf("epoch after the first term began = %d; want 1", e)
	}

	// A successor begins a term behind the leader's back.
	successor, err := store.Open(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer successor.Close()
	if _, err := successor.BeginTerm(ctx); err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", "/v2/apps", `{"id": "/after", "cmd": "sleep 1", "instances": 0}`)
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("%s by the deposed leader = %d %s; want 503", r, r.code, r.body)
	}
	if _, err := s.store.App(ctx, "/after"); err == nil {
		t.Error("the deposed leader's app was stored")
	}

	// The term ends; the standby answers until the next one serves.
	eventually(t, "the standby answers", func() bool {
		r := s.do("GET", "/v2/apps", "")
		return r.code == http.StatusServiceUnavailable && strings.Contains(string(r.body), `"message":"no leading services instance is known`)
	})

	// It still holds the database lock: a new term begins and serves.
	eventually(t, "a new term serves", func() bool {
		return s.do("GET", "/v2/leader", "").code == http.StatusOK
	})
	if e := epoch(); e != 3 {
		t.Errorf("epoch after the new term began = %d; want 3", e)
	}
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id": "/after", "cmd": "sleep 1", "instances": 0}`)
	if _, err := s.store.App(ctx, "/after"); err != nil {
		t.Errorf("the new term's app: %v", err)
	}
}
