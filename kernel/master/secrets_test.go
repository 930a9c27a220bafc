package master

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/lead"
	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/internal/registry"
	"corral/kernel/internal/secrets"
)

// secretKeyFile writes a fresh random key, in hex, to a file and returns
// its path and the key.
func secretKeyFile(t *testing.T) (string, secrets.Key) {
	t.Helper()
	raw := make([]byte, secrets.KeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	k, err := secrets.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k
}

// secretMaster is a master with a secret store.
func secretMaster(t *testing.T, mutate func(*Config)) *testMaster {
	t.Helper()
	key, _ := secretKeyFile(t)
	return startMaster(t, func(c *Config) {
		c.SecretsKey = key
		if mutate != nil {
			mutate(c)
		}
	})
}

func decodeMeta(t *testing.T, body string) SecretMeta {
	t.Helper()
	var m SecretMeta
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("metadata %q: %v", body, err)
	}
	return m
}

func decodeList(t *testing.T, body string) []string {
	t.Helper()
	var ms []SecretMeta
	if err := json.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("list %q: %v", body, err)
	}
	names := []string{}
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

// message reads an error body's {"message"}.
func message(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
		t.Fatalf("error body %q is not {\"message\": …}", body)
	}
	return e.Message
}

func TestSecretsAPI(t *testing.T) {
	tm := secretMaster(t, nil)
	u := tm.url + "/secrets"
	plain := "pa55-w0rd-plain"
	binary := []byte{0, 1, 2, 0xff, 'x'}
	var bodies []string // every answer, to check that none holds a value
	call := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		resp, b := as(t, "", "", method, u+path, nil, body)
		bodies = append(bodies, b)
		return resp, b
	}

	resp, body := call("PUT", "/team/db", `{"value": "`+plain+`"}`)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/secrets/team/db" {
		t.Fatalf("PUT new = %d %q Location %q; want 201 at /secrets/team/db", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	created := decodeMeta(t, body)
	if created.Name != "team/db" || created.Version != 1 || created.Size != len(plain) || created.Created.IsZero() {
		t.Errorf("PUT new = %+v; want team/db, version 1, size %d", created, len(plain))
	}
	resp, body = call("PUT", "/team/db", `{"value": "another"}`)
	if m := decodeMeta(t, body); resp.StatusCode != http.StatusOK || m.Version != 2 || m.Size != 7 || !m.Created.Equal(created.Created) {
		t.Errorf("PUT again = %d %+v; want 200, version 2, size 7, created kept", resp.StatusCode, m)
	}
	b64 := base64.StdEncoding.EncodeToString(binary)
	resp, body = call("PUT", "/team/cert", `{"value_base64": "`+b64+`"}`)
	if m := decodeMeta(t, body); resp.StatusCode != http.StatusCreated || m.Size != len(binary) {
		t.Errorf("PUT value_base64 = %d %q; want 201, size %d", resp.StatusCode, body, len(binary))
	}
	call("PUT", "/teams/other", `{"value": "x"}`)

	resp, body = call("GET", "/team/db", "")
	if m := decodeMeta(t, body); resp.StatusCode != http.StatusOK || m.Name != "team/db" || m.Version != 2 {
		t.Errorf("GET metadata = %d %q; want 200, team/db at version 2", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"team/cert", "team/db", "teams/other"}},
		{"?prefix=team", []string{"team/cert", "team/db"}},
		{"?prefix=/team/db", []string{"team/db"}},
		{"?prefix=nothing", []string{}},
	} {
		resp, body := call("GET", tc.query, "")
		if got := decodeList(t, body); resp.StatusCode != http.StatusOK || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET /secrets%s = %d %v; want %v", tc.query, resp.StatusCode, got, tc.want)
		}
	}

	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"empty component", "PUT", "/a//b", `{"value": "v"}`, 422, "name: component 2"},
		{"character", "PUT", "/a%20b", `{"value": "v"}`, 422, "name: component 1 of \"a b\" holds ' '"},
		{"long name", "PUT", "/" + strings.Repeat("n", 256), `{"value": "v"}`, 422, "name: 256 bytes long"},
		{"empty name", "PUT", "/", `{"value": "v"}`, 422, "name: must not be empty"},
		{"empty name to read", "GET", "/", ``, 422, "name: must not be empty"},
		{"value too large", "PUT", "/big", `{"value": "` + strings.Repeat("v", secrets.MaxValueBytes+1) + `"}`, 422, "value: 65537 bytes; at most 65536"},
		{"empty value", "PUT", "/e", `{"value": ""}`, 422, "value: must not be empty"},
		{"both fields", "PUT", "/x", `{"value": "a", "value_base64": "YQ=="}`, 422, "value, value_base64: give one"},
		{"no field", "PUT", "/x", `{}`, 422, "value: required"},
		{"bad base64", "PUT", "/x", `{"value_base64": "***"}`, 422, "value_base64: not valid base64"},
		{"unknown field", "PUT", "/x", `{"valeu": "a"}`, 422, `unknown field "valeu"`},
		{"not JSON", "PUT", "/x", `value=a`, 400, "body: not a JSON object"},
		{"no body", "PUT", "/x", ``, 400, "body: empty"},
		{"bad prefix", "GET", "?prefix=a//b", ``, 422, "prefix: component 2"},
		{"missing", "GET", "/nope", ``, 404, `No secret named "nope"`},
		{"delete missing", "DELETE", "/nope", ``, 404, `No secret named "nope"`},
		{"no reading back", "POST", "/team/db", `{}`, 405, "cannot be read back"},
		{"collection", "POST", "", `{}`, 405, "PUT /secrets/NAME stores one"},
	} {
		resp, body := call(tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.code || !strings.Contains(message(t, body), tc.says) {
			t.Errorf("%s: %s /secrets%.30s = %d %.200q; want %d saying %q", tc.name, tc.method, tc.path, resp.StatusCode, body, tc.code, tc.says)
		}
	}
	if resp, _ := call("POST", "/team/db", ""); resp.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("405 Allow = %q; want GET, PUT, DELETE", resp.Header.Get("Allow"))
	}

	if resp, body := call("DELETE", "/team/db", ""); resp.StatusCode != http.StatusNoContent || body != "" {
		t.Errorf("DELETE = %d %q; want 204 without a body", resp.StatusCode, body)
	}
	if resp, _ := call("GET", "/team/db", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d; want 404", resp.StatusCode)
	}
	for _, b := range bodies {
		for _, v := range []string{plain, "another", b64} {
			if strings.Contains(b, v) {
				t.Errorf("an answer holds a secret's value %q: %s", v, b)
			}
		}
	}
}

func TestSecretsOffWithoutKey(t *testing.T) {
	tm := startMaster(t, nil)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/secrets", ""},
		{"GET", "/secrets/a", ""},
		{"PUT", "/secrets/a", `{"value": "v"}`},
		{"DELETE", "/secrets/a", ""},
	} {
		resp, body := as(t, "", "", c.method, tm.url+c.path, nil, c.body)
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(message(t, body), "started without --secrets_key") {
			t.Errorf("%s %s without a key = %d %q; want 501 naming --secrets_key", c.method, c.path, resp.StatusCode, body)
		}
	}
}

// TestSecretsOffAfterAuthorization: without a key, a caller who may not
// manage a name learns nothing more than a 403 about it.
func TestSecretsOffAfterAuthorization(t *testing.T) {
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [
		{"principal": "ops", "secret": "0ps"}, {"principal": "eve", "secret": "ev3"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	acls, err := acl.Parse([]byte(`{"permissive": false, "manage_secrets": [{"principals": {"values": ["ops"]}, "secrets": {"type": "ANY"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tm := startMaster(t, func(c *Config) { c.Trust = edge.Trust{Credentials: cs, ACLs: acls} })
	for _, tc := range []struct {
		who, secret string
		code        int
	}{{"eve", "ev3", 403}, {"ops", "0ps", 501}} {
		resp, body := as(t, tc.who, tc.secret, "PUT", tm.url+"/secrets/team/db", nil, `{"value": "v"}`)
		if resp.StatusCode != tc.code {
			t.Errorf("PUT as %s without a key = %d %q; want %d", tc.who, resp.StatusCode, body, tc.code)
		}
	}
}

func TestSecretsKeyFilesValidated(t *testing.T) {
	good, _ := secretKeyFile(t)
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.key")
	for _, tc := range []struct {
		name     string
		key      string
		previous []string
		says     []string // empty: valid
	}{
		{"off", "", nil, nil},
		{"good", good, []string{good}, nil},
		{"bad key", bad, nil, []string{"secrets_key:", bad, "64 hex digits or as base64"}},
		{"missing key", missing, nil, []string{"secrets_key:", missing}},
		{"bad previous key", good, []string{bad}, []string{"secrets_previous_keys:", bad}},
		{"previous without current", "", []string{good}, []string{"secrets_previous_keys: given without --secrets_key"}},
	} {
		cfg := DefaultConfig()
		cfg.SecretsKey, cfg.SecretsPreviousKeys = tc.key, tc.previous
		err := cfg.ValidateSecrets()
		if len(tc.says) == 0 {
			if err != nil {
				t.Errorf("%s: ValidateSecrets() = %v; want nil", tc.name, err)
			}
			continue
		}
		for _, s := range tc.says {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("%s: ValidateSecrets() = %v; want it to say %q", tc.name, err, s)
			}
		}
	}

	// A master started with a bad key file anyway keeps its store off,
	// saying so without the file's path.
	tm := startMaster(t, func(c *Config) { c.SecretsKey = bad })
	resp, body := as(t, "", "", "GET", tm.url+"/secrets", nil, "")
	if msg := message(t, body); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(msg, "--secrets_key") || strings.Contains(msg, bad) {
		t.Errorf("GET /secrets with a bad key file = %d %q; want 503 naming the flag, not the path", resp.StatusCode, body)
	}
}

func TestSecretsAuthorization(t *testing.T) {
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [
		{"principal": "ops", "secret": "0ps"}, {"principal": "eve", "secret": "ev3"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	acls, err := acl.Parse([]byte(`{"permissive": false, "manage_secrets": [
		{"principals": {"values": ["ops"]}, "secrets": {"type": "ANY"}},
		{"principals": {"values": ["eve"]}, "secrets": {"values": ["eve"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tm := secretMaster(t, func(c *Config) { c.Trust = edge.Trust{Credentials: cs, ACLs: acls} })
	u := tm.url + "/secrets"
	for _, tc := range []struct {
		who, secret, method, path, body string
		code                            int
	}{
		{"", "", "GET", "", "", 401},
		{"ops", "0ps", "PUT", "/team/db", `{"value": "v"}`, 201},
		{"eve", "ev3", "PUT", "/team/db", `{"value": "mine now"}`, 403},
		{"eve", "ev3", "GET", "/team/db", "", 403},
		{"eve", "ev3", "GET", "/team/nothing", "", 403}, // not a 404: eve learns nothing
		{"eve", "ev3", "DELETE", "/team/db", "", 403},
		{"eve", "ev3", "PUT", "/eve/token", `{"value": "v"}`, 201},
		{"eve", "ev3", "PUT", "/evelyn/token", `{"value": "v"}`, 403},
		{"eve", "ev3", "GET", "/eve/token", "", 200},
	} {
		resp, body := as(t, tc.who, tc.secret, tc.method, u+tc.path, nil, tc.body)
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s as %q = %d %q; want %d", tc.method, tc.path, tc.who, resp.StatusCode, body, tc.code)
		}
		if tc.code == 403 && !strings.Contains(body, `principal \"eve\" may not manage_secrets`) {
			t.Errorf("%s %s as eve: 403 body %q; want it to name the principal and the action", tc.method, tc.path, body)
		}
	}
	for who, want := range map[string]string{"ops": "eve/token,team/db", "eve": "eve/token"} {
		_, body := as(t, who, map[string]string{"ops": "0ps", "eve": "ev3"}[who], "GET", u, nil, "")
		if got := strings.Join(decodeList(t, body), ","); got != want {
			t.Errorf("GET /secrets as %s = %s; want %s", who, got, want)
		}
	}
}

// rawKeyIDs returns the key id of every row of kernel.secrets by name.
func rawKeyIDs(t *testing.T, db string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT name, key_id FROM kernel.secrets`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var name string
		var id []byte
		if err := rows.Scan(&name, &id); err != nil {
			t.Fatal(err)
		}
		out[name] = hex.EncodeToString(id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSecretsRotatedWhenLeading: started with a new key and the old one
// as previous, the leader re-encrypts every value under the new key; the
// new key alone then reads them all.
func TestSecretsRotatedWhenLeading(t *testing.T) {
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	oldFile, oldKey := secretKeyFile(t)
	newFile, newKey := secretKeyFile(t)
	old, err := secrets.Open(t.Context(), db, secrets.NewKeyring(oldKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	values := map[string]string{"a": "alpha", "b/c": "beta", "d": "delta"}
	for n, v := range values {
		if _, _, err := old.Put(t.Context(), n, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	startMasterOn(t, db, func(c *Config) {
		c.SecretsKey, c.SecretsPreviousKeys = newFile, []string{oldFile}
	})
	want := newKey.ID().String()
	waitForWithin(t, 20*time.Second, "every secret under the new key", func() bool {
		for _, id := range rawKeyIDs(t, db) {
			if id != want {
				return false
			}
		}
		return true
	})
	alone, err := secrets.Open(t.Context(), db, secrets.NewKeyring(newKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	for n, v := range values {
		if got, _, err := alone.Get(t.Context(), n); err != nil || string(got) != v {
			t.Errorf("Get(%s) with the new key alone = %q, %v; want %q", n, got, err, v)
		}
		if _, _, err := old.Get(t.Context(), n); !errors.Is(err, secrets.ErrUndecryptable) {
			t.Errorf("Get(%s) with the old key alone = %v; want ErrUndecryptable", n, err)
		}
	}
}

// startSecretContender is startContender with a secret store.
func startSecretContender(t *testing.T, z *fakeElection, i int, db, keyFile string) string {
	t.Helper()
	ctx := t.Context()
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DB, cfg.SecretsKey = db, keyFile
	cfg.Listen = ln.Addr().String()
	cfg.Advertise = "http://" + ln.Addr().String()
	cfg.AgentPingInterval = 200 * time.Millisecond
	cfg.AllocationInterval = 100 * time.Millisecond
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	registered := make(chan struct{})
	go func() {
		defer close(done)
		err := Contend(runCtx, cfg, store, log, ln, func(self lead.Member) (lead.Election, error) {
			z.mu.Lock()
			z.infos[i] = self.Data
			z.mu.Unlock()
			close(registered)
			return contender{z, i}, nil
		})
		if err != nil {
			t.Errorf("Contend: %v", err)
		}
	}()
	<-registered
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return cfg.Advertise
}

// following sends a request as the CLI does, following a standby's 307.
func following(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecretsThroughAStandby: the secret routes reach the leader through a
// standby, and a deposed leader that has not noticed refuses to write.
func TestSecretsThroughAStandby(t *testing.T) {
	z := newFakeElection()
	db := testpg.URL(t)
	key, _ := secretKeyFile(t)
	a := startSecretContender(t, z, 0, db, key)
	b := startSecretContender(t, z, 1, db, key)
	z.elect(0)
	waitLeading(t, a)

	if code, body := following(t, "PUT", b+"/secrets/team/db", `{"value": "v"}`); code != http.StatusCreated {
		t.Fatalf("PUT through the standby = %d %q; want 201 from the leader", code, body)
	}
	if code, body := following(t, "GET", b+"/secrets/team/db", ""); code != http.StatusOK || decodeMeta(t, body).Version != 1 {
		t.Errorf("GET through the standby = %d %q; want the metadata", code, body)
	}
	if code, body := following(t, "GET", b+"/secrets", ""); code != http.StatusOK || strings.Join(decodeList(t, body), ",") != "team/db" {
		t.Errorf("GET /secrets through the standby = %d %q; want team/db", code, body)
	}

	z.electUnnoticed(1)
	waitLeading(t, b)
	resp, body := send(t, "PUT", a+"/secrets/team/db", nil, `{"value": "late"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(message(t, body), "no longer leads") {
		t.Errorf("PUT at the deposed master = %d %q; want 503 saying it no longer leads", resp.StatusCode, body)
	}
	if code, body := following(t, "GET", b+"/secrets/team/db", ""); code != http.StatusOK || decodeMeta(t, body).Version != 1 {
		t.Errorf("GET at the new leader = %d %q; want version 1: the deposed write must not land", code, body)
	}
	waitForWithin(t, 10*time.Second, "the deposed master to stand by for "+b, func() bool {
		_, body := send(t, "GET", a+"/health", nil, "")
		var h Health
		return json.Unmarshal([]byte(body), &h) == nil && !h.Leader && h.LeaderURL == b
	})
	if code, body := following(t, "DELETE", a+"/secrets/team/db", ""); code != http.StatusNoContent {
		t.Errorf("DELETE through the deposed master, standing by = %d %q; want 204 from the leader", code, body)
	}
}
