package apiclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSecretPath(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"team/db", "/secrets/team/db"},
		{"/team/db", "/secrets/team/db"},
		{"a b/c?d", "/secrets/a%20b/c%3Fd"},
		{"a/../b", "/secrets/a/../b"},
	} {
		if got := SecretPath(tc.name); got != tc.want {
			t.Errorf("SecretPath(%q) = %q; want %q", tc.name, got, tc.want)
		}
	}
	if got := SecretsPath("team/x y"); got != "/secrets?prefix=team%2Fx+y" {
		t.Errorf("SecretsPath = %q", got)
	}
	if got := SecretsPath(""); got != "/secrets" {
		t.Errorf("SecretsPath(\"\") = %q; want /secrets", got)
	}
}

func TestSecretCalls(t *testing.T) {
	const meta = `{"name": "team/db", "version": 2, "size": 5, "created": "2026-01-02T03:04:05Z", "updated": "2026-01-03T03:04:05Z"}`
	var got struct {
		method, uri string
		body        []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.uri = r.Method, r.URL.RequestURI()
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.RequestURI() {
		case "PUT /secrets/team/new":
			w.WriteHeader(201)
			io.WriteString(w, strings.Replace(meta, `"version": 2`, `"version": 1`, 1))
		case "PUT /secrets/team/db":
			io.WriteString(w, meta)
		case "GET /secrets/team/db":
			io.WriteString(w, meta)
		case "GET /secrets?prefix=team":
			io.WriteString(w, "["+meta+"]")
		case "DELETE /secrets/team/db":
			w.WriteHeader(204)
		case "PUT /secrets/off":
			w.WriteHeader(501)
			io.WriteString(w, `{"message": "The master was started without --secrets_key"}`)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"message": "No secret named \"nope\""}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	m := NewMaster(srv.URL, nil)
	value := []byte{0, 'p', 'w', 0xff, '\n'}

	sm, created, err := m.PutSecret(ctx, "/team/new", value)
	if err != nil || !created || sm.Version != 1 {
		t.Errorf("PutSecret(new) = %+v, %v, %v; want created at version 1", sm, created, err)
	}
	var body map[string]string
	if err := json.Unmarshal(got.body, &body); err != nil || len(body) != 1 {
		t.Fatalf("PutSecret sent %s; want {\"value_base64\": …} alone", got.body)
	}
	if dec, err := base64.StdEncoding.DecodeString(body["value_base64"]); err != nil || !bytes.Equal(dec, value) {
		t.Errorf("PutSecret sent value %q; want %q", dec, value)
	}
	sm, created, err = m.PutSecret(ctx, "team/db", value)
	if err != nil || created || sm.Version != 2 || sm.Size != 5 || sm.Updated.Format("2006-01-02") != "2026-01-03" {
		t.Errorf("PutSecret(existing) = %+v, %v, %v; want replaced at version 2", sm, created, err)
	}
	if sm, err := m.SecretMetadata(ctx, "team/db"); err != nil || sm.Name != "team/db" {
		t.Errorf("SecretMetadata = %+v, %v", sm, err)
	}
	if ms, err := m.Secrets(ctx, "team"); err != nil || len(ms) != 1 || ms[0].Name != "team/db" {
		t.Errorf("Secrets(team) = %+v, %v", ms, err)
	}
	if err := m.DeleteSecret(ctx, "team/db"); err != nil || got.method != "DELETE" {
		t.Errorf("DeleteSecret = %v (sent %s %s)", err, got.method, got.uri)
	}
	if err := m.DeleteSecret(ctx, "nope"); !IsStatus(err, 404) || !strings.Contains(err.Error(), `No secret named "nope"`) {
		t.Errorf("DeleteSecret(nope) = %v; want a 404 naming it", err)
	}
	if _, _, err := m.PutSecret(ctx, "off", value); !IsStatus(err, 501) || !strings.Contains(err.Error(), "--secrets_key") {
		t.Errorf("PutSecret on a master without a key = %v; want its 501", err)
	}
}
