package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawKey returns KeySize random bytes.
func rawKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newKey(t *testing.T) Key {
	t.Helper()
	k, err := NewKey(rawKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKey(t *testing.T) {
	raw := rawKey(t)
	want, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	hx := hex.EncodeToString(raw)
	for _, tc := range []struct {
		name, text string
		err        string // "" when the key must parse to raw
	}{
		{"hex", hx, ""},
		{"upper-case hex with a final newline", strings.ToUpper(hx) + "\n", ""},
		{"hex with CRLF and blanks", "  " + hx + "\r\n", ""},
		{"base64", base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"base64 URL alphabet", base64.URLEncoding.EncodeToString(raw), ""},
		{"empty", "\n", "it is empty"},
		{"short hex", hx[:62], "62 hex digits (31 bytes)"},
		{"long base64", base64.StdEncoding.EncodeToString(append(raw, 1)), "base64 of 33 bytes"},
		{"two lines", hx + "\n" + hx + "\n", "holds 2 lines"},
		{"a passphrase", "correct horse battery staple", "neither hex nor base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey([]byte(tc.text))
			if tc.err == "" {
				if err != nil || k.ID() != want.ID() {
					t.Fatalf("ParseKey = %v, %v; want the key %v", k.ID(), err, want.ID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "64 hex digits or as base64") {
				t.Fatalf("ParseKey = %v; want an error saying %q and naming the format", err, tc.err)
			}
			if len(tc.text) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.text)) {
				t.Errorf("ParseKey error %q quotes the file's contents", err)
			}
		})
	}
}

func TestLoadKeyNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKey(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), KeyFormat) {
		t.Errorf("LoadKey(bad) = %v; want an error naming %s and the format", err, bad)
	}
	missing := filepath.Join(dir, "missing.key")
	if _, err := LoadKey(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadKey(missing) = %v; want an error naming %s", err, missing)
	}
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte(hex.EncodeToString(rawKey(t))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyring(good, []string{good, bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadKeyring with a bad previous key = %v; want an error naming %s", err, bad)
	}
	kr, err := LoadKeyring(good, []string{good})
	if err != nil || len(kr.Previous()) != 0 {
		t.Errorf("LoadKeyring(good, [good]) = %v, %v; want the current key once, no previous one", kr, err)
	}
}

func TestKeyIDsDiffer(t *testing.T) {
	a, b := newKey(t), newKey(t)
	if a.ID() == b.ID() {
		t.Fatalf("two random keys share id %s", a.ID())
	}
	if len(a.ID().String()) != 16 {
		t.Errorf("KeyID.String() = %q; want 16 hex digits", a.ID())
	}
}

func TestSealBindsNameAndKey(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	kr := NewKeyring(newKey, oldKey)
	value := []byte("s3cr3t\x00\xff binary")

	id, nonce, ct, err := kr.seal("team/db", value)
	if err != nil {
		t.Fatal(err)
	}
	if id != newKey.ID() {
		t.Errorf("seal used key %s; want the current key %s", id, newKey.ID())
	}
	if bytes.Contains(ct, value) {
		t.Error("the ciphertext holds the value")
	}
	if got, err := kr.open("team/db", id, nonce, ct); err != nil || !bytes.Equal(got, value) {
		t.Errorf("open(team/db) = %q, %v; want the value", got, err)
	}
	// The same value sealed twice gives another nonce and ciphertext.
	_, nonce2, ct2, _ := kr.seal("team/db", value)
	if bytes.Equal(nonce, nonce2) || bytes.Equal(ct, ct2) {
		t.Error("sealing twice reused the nonce")
	}

	_, err = kr.open("team/other", id, nonce, ct)
	if !errors.Is(err, ErrUndecryptable) || !strings.Contains(err.Error(), "copied from another name") {
		t.Errorf("open under another name = %v; want ErrUndecryptable saying the row was copied", err)
	}
	_, err = NewKeyring(oldKey).open("team/db", id, nonce, ct)
	if !errors.Is(err, ErrUndecryptable) || !strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), "--secrets_previous_keys") {
		t.Errorf("open without the key = %v; want ErrUndecryptable naming key %s and --secrets_previous_keys", err, id)
	}
	// A previous key still opens what it sealed.
	oid, once, oct, _ := NewKeyring(oldKey).seal("x", value)
	if got, err := kr.open("x", oid, once, oct); err != nil || !bytes.Equal(got, value) {
		t.Errorf("open with a previous key = %q, %v; want the value", got, err)
	}
}
