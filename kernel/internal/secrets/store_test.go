package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"corral/internal/lead"
	"corral/internal/migrate"
	"corral/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// newDB returns a freshly migrated database.
func newDB(t *testing.T) string {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatalf("migrate.Up: %v", err)
	}
	return db
}

func openStore(t *testing.T, db string, kr *Keyring) *Store {
	t.Helper()
	s, err := Open(t.Context(), db, kr, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawRow is a row of kernel.secrets as stored.
type rawRow struct {
	keyID, nonce, ciphertext []byte
	text                     string // the whole row as Postgres prints it
}

func readRaw(t *testing.T, db, name string) rawRow {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var r rawRow
	err = conn.QueryRow(t.Context(), `SELECT key_id, nonce, ciphertext, s::text FROM kernel.secrets s WHERE name = $1`, name).
		Scan(&r.keyID, &r.nonce, &r.ciphertext, &r.text)
	if err != nil {
		t.Fatalf("reading the row of %q: %v", name, err)
	}
	return r
}

func execSQL(t *testing.T, db, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestRoundTrip(t *testing.T) {
	db := newDB(t)
	s := openStore(t, db, NewKeyring(newKey(t)))
	ctx := t.Context()
	value := []byte("pa55word\x00\xfe\n")

	m, created, err := s.Put(ctx, "/team/db", value)
	if err != nil || !created {
		t.Fatalf("Put = %+v, %v, %v; want created", m, created, err)
	}
	if m.Name != "team/db" || m.Version != 1 || m.Size != len(value) || m.Created.IsZero() || !m.Updated.Equal(m.Created) {
		t.Errorf("Put metadata = %+v; want team/db, version 1, size %d, created = updated", m, len(value))
	}
	got, gm, err := s.Get(ctx, "team/db")
	if err != nil || !bytes.Equal(got, value) || gm != m {
		t.Errorf("Get = %q, %+v, %v; want %q, %+v", got, gm, err, value, m)
	}

	other := []byte("n3w")
	m2, created, err := s.Put(ctx, "team/db", other)
	if err != nil || created || m2.Version != 2 || m2.Size != 3 || !m2.Created.Equal(m.Created) || m2.Updated.Before(m.Updated) {
		t.Errorf("Put again = %+v, %v, %v; want replaced, version 2, size 3, same Created", m2, created, err)
	}
	if got, _, _ := s.Get(ctx, "/team/db"); !bytes.Equal(got, other) {
		t.Errorf("Get after replace = %q; want %q", got, other)
	}
	if md, err := s.Metadata(ctx, "team/db"); err != nil || md != m2 {
		t.Errorf("Metadata = %+v, %v; want %+v", md, err, m2)
	}

	for _, n := range []string{"team", "team/web", "teams/db", "zeta"} {
		if _, _, err := s.Put(ctx, n, []byte("v-"+n)); err != nil {
			t.Fatal(err)
		}
	}
	names := func(prefix string) []string {
		ms, err := s.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		out := []string{}
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"team", "team/db", "team/web", "teams/db", "zeta"}},
		{"/team/", []string{"team", "team/db", "team/web"}},
		{"team/db", []string{"team/db"}},
		{"nope", []string{}},
	} {
		if d := cmp.Diff(tc.want, names(tc.prefix)); d != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, d)
		}
	}
	if _, err := s.List(ctx, "team//x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(team//x) = %v; want ErrInvalid", err)
	}

	if err := s.Delete(ctx, "/team/db"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, "team/db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete again = %v; want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctx, "team/db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v; want ErrNotFound", err)
	}
	if _, err := s.Metadata(ctx, "team/db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Metadata after Delete = %v; want ErrNotFound", err)
	}
	// Created again, it starts over.
	if m, created, err := s.Put(ctx, "team/db", value); err != nil || !created || m.Version != 1 {
		t.Errorf("Put after Delete = %+v, %v, %v; want created at version 1", m, created, err)
	}
}

// TestTableHoldsNoPlaintext reads the raw row: neither the value nor its
// common encodings appear anywhere in it.
func TestTableHoldsNoPlaintext(t *testing.T) {
	db := newDB(t)
	kr := NewKeyring(newKey(t))
	s := openStore(t, db, kr)
	value := []byte("correct-horse-battery-staple")
	if _, _, err := s.Put(t.Context(), "app/password", value); err != nil {
		t.Fatal(err)
	}
	r := readRaw(t, db, "app/password")
	for _, enc := range []string{string(value), hex.EncodeToString(value), base64.StdEncoding.EncodeToString(value)} {
		if strings.Contains(r.text, enc) || bytes.Contains(r.ciphertext, []byte(enc)) {
			t.Errorf("the stored row holds the value (as %q): %s", enc, r.text)
		}
	}
	cur := kr.Current()
	if !bytes.Equal(r.keyID, cur[:]) || len(r.nonce) != nonceSize || len(r.ciphertext) != len(value)+16 {
		t.Errorf("row = key %x, nonce %d bytes, ciphertext %d bytes; want key %s, a %d-byte nonce, value+16 bytes",
			r.keyID, len(r.nonce), len(r.ciphertext), cur, nonceSize)
	}
}

func TestWrongKeyIsAClearError(t *testing.T) {
	db := newDB(t)
	right := newKey(t)
	if _, _, err := openStore(t, db, NewKeyring(right)).Put(t.Context(), "db", []byte("v")); err != nil {
		t.Fatal(err)
	}
	wrong := openStore(t, db, NewKeyring(newKey(t)))
	_, _, err := wrong.Get(t.Context(), "db")
	if !errors.Is(err, ErrUndecryptable) || !strings.Contains(err.Error(), right.ID().String()) || !strings.Contains(err.Error(), "--secrets_previous_keys") {
		t.Errorf("Get with the wrong key = %v; want ErrUndecryptable naming key %s and the flag", err, right.ID())
	}
	// The metadata needs no key.
	if m, err := wrong.Metadata(t.Context(), "db"); err != nil || m.Size != 1 {
		t.Errorf("Metadata with the wrong key = %+v, %v; want it", m, err)
	}
}

// TestNameBinding copies a row's sealed value under another name: it does
// not decrypt there.
func TestNameBinding(t *testing.T) {
	db := newDB(t)
	s := openStore(t, db, NewKeyring(newKey(t)))
	ctx := t.Context()
	for _, n := range []string{"prod/db", "dev/db"} {
		if _, _, err := s.Put(ctx, n, []byte("value of "+n)); err != nil {
			t.Fatal(err)
		}
	}
	execSQL(t, db, `UPDATE kernel.secrets d SET key_id = p.key_id, nonce = p.nonce, ciphertext = p.ciphertext, size = p.size
		FROM kernel.secrets p WHERE p.name = 'prod/db' AND d.name = 'dev/db'`)
	_, _, err := s.Get(ctx, "dev/db")
	if !errors.Is(err, ErrUndecryptable) || !strings.Contains(err.Error(), `"dev/db"`) || !strings.Contains(err.Error(), "copied from another name") {
		t.Errorf("Get of a row copied from prod/db = %v; want ErrUndecryptable naming dev/db", err)
	}
	if got, _, err := s.Get(ctx, "prod/db"); err != nil || string(got) != "value of prod/db" {
		t.Errorf("Get(prod/db) = %q, %v; want its value", got, err)
	}
}

func TestRotate(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	oldKey, newKey := newKey(t), newKey(t)
	old := openStore(t, db, NewKeyring(oldKey))
	values := map[string]string{"a": "alpha", "b/c": "beta", "d": "delta"}
	metas := map[string]Meta{}
	for n, v := range values {
		m, _, err := old.Put(ctx, n, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		metas[n] = m
	}

	rotating := openStore(t, db, NewKeyring(newKey, oldKey))
	// A row written under the new key before the rotation is left alone.
	if _, _, err := rotating.Put(ctx, "e", []byte("epsilon")); err != nil {
		t.Fatal(err)
	}
	values["e"] = "epsilon"
	eBefore := readRaw(t, db, "e")
	// Before the rotation both keys are needed, and work.
	for n, v := range values {
		if got, _, err := rotating.Get(ctx, n); err != nil || string(got) != v {
			t.Errorf("Get(%s) before Rotate = %q, %v; want %q", n, got, err, v)
		}
	}

	r, err := rotating.Rotate(ctx)
	if err != nil || r.Rotated != 3 || len(r.Failed) != 0 {
		t.Fatalf("Rotate = %+v, %v; want 3 rotated", r, err)
	}
	cur := newKey.ID()
	for n := range values {
		if raw := readRaw(t, db, n); !bytes.Equal(raw.keyID, cur[:]) {
			t.Errorf("row %s is under key %x after Rotate; want %s", n, raw.keyID, cur)
		}
	}
	if raw := readRaw(t, db, "e"); !bytes.Equal(raw.nonce, eBefore.nonce) || !bytes.Equal(raw.ciphertext, eBefore.ciphertext) {
		t.Error("Rotate rewrote a row already under the current key")
	}
	for n, m := range metas {
		if got, err := rotating.Metadata(ctx, n); err != nil || got != m {
			t.Errorf("Metadata(%s) after Rotate = %+v, %v; want it unchanged, %+v", n, got, err, m)
		}
	}
	// Idempotent.
	if r, err := rotating.Rotate(ctx); err != nil || r.Rotated != 0 {
		t.Errorf("Rotate again = %+v, %v; want nothing to do", r, err)
	}
	// The new key alone reads everything; the old key alone nothing.
	alone := openStore(t, db, NewKeyring(newKey))
	for n, v := range values {
		if got, _, err := alone.Get(ctx, n); err != nil || string(got) != v {
			t.Errorf("Get(%s) with the new key alone = %q, %v; want %q", n, got, err, v)
		}
		if _, _, err := old.Get(ctx, n); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("Get(%s) with the old key alone = %v; want ErrUndecryptable", n, err)
		}
	}
}

// TestRotateReportsWhatItCannotRead: a row under a key the keyring lacks
// is named and left as is; the others are rotated.
func TestRotateReportsWhatItCannotRead(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	lost, oldKey, newKey := newKey(t), newKey(t), newKey(t)
	if _, _, err := openStore(t, db, NewKeyring(lost)).Put(ctx, "lost", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openStore(t, db, NewKeyring(oldKey)).Put(ctx, "kept", []byte("y")); err != nil {
		t.Fatal(err)
	}
	r, err := openStore(t, db, NewKeyring(newKey, oldKey)).Rotate(ctx)
	if !errors.Is(err, ErrUndecryptable) || r.Rotated != 1 || !cmp.Equal(r.Failed, []string{"lost"}) || !strings.Contains(err.Error(), lost.ID().String()) {
		t.Errorf("Rotate = %+v, %v; want kept rotated, lost failed naming its key %s", r, err, lost.ID())
	}
	if raw := readRaw(t, db, "lost"); !bytes.Equal(raw.keyID, lost.ID().slice()) {
		t.Errorf("the undecryptable row moved to key %x", raw.keyID)
	}
}

func (id KeyID) slice() []byte { return id[:] }

func TestLimits(t *testing.T) {
	db := newDB(t)
	s := openStore(t, db, NewKeyring(newKey(t)))
	ctx := t.Context()
	longest := strings.Repeat("n", MaxNameBytes)
	for _, tc := range []struct {
		name  string
		size  int
		field string // "" when the Put must succeed
	}{
		{longest, MaxValueBytes, ""},
		{"/" + longest, MaxValueBytes, ""}, // the same name
		{longest + "n", 1, "name"},
		{"a/../b", 1, "name"},
		{"a//b", 1, "name"},
		{"ok", MaxValueBytes + 1, "value"},
		{"ok", 0, "value"},
	} {
		_, _, err := s.Put(ctx, tc.name, bytes.Repeat([]byte{0xab}, tc.size))
		var inv *InvalidError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("Put(%d-byte name, %d bytes) = %v; want it stored", len(tc.name), tc.size, err)
		case tc.field != "" && (!errors.As(err, &inv) || inv.Field != tc.field):
			t.Errorf("Put(%.20q, %d bytes) = %v; want an invalid %s", tc.name, tc.size, err, tc.field)
		}
	}
	if got, _, err := s.Get(ctx, longest); err != nil || len(got) != MaxValueBytes {
		t.Errorf("Get(longest) = %d bytes, %v; want %d", len(got), err, MaxValueBytes)
	}
	for _, call := range []func() error{
		func() error { _, _, err := s.Get(ctx, "a/./b"); return err },
		func() error { _, err := s.Metadata(ctx, ""); return err },
		func() error { return s.Delete(ctx, "x y") },
	} {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("call with a bad name = %v; want ErrInvalid", err)
		}
	}
}

// TestFencedWritesAreRefused: once another master began a kernel term,
// the store's writes fail with lead.ErrFenced and change nothing.
func TestFencedWritesAreRefused(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	mine, theirs := lead.NewFence("kernel"), lead.NewFence("kernel")
	if _, err := mine.Begin(ctx, conn); err != nil {
		t.Fatal(err)
	}
	kr := NewKeyring(newKey(t))
	s, err := Open(ctx, db, kr, mine)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatalf("Put in the term: %v", err)
	}
	if _, err := theirs.Begin(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, "b", []byte("2")); !errors.Is(err, lead.ErrFenced) {
		t.Errorf("Put after another term began = %v; want lead.ErrFenced", err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, lead.ErrFenced) {
		t.Errorf("Delete after another term began = %v; want lead.ErrFenced", err)
	}
	if ms, err := s.List(ctx, ""); err != nil || len(ms) != 1 || ms[0].Name != "a" {
		t.Errorf("List = %+v, %v; want a alone", ms, err)
	}
}
