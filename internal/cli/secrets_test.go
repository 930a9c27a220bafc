package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const (
	secretDB  = `{"name": "team/db", "version": 3, "size": 24, "created": "2026-11-01T12:00:00Z", "updated": "2026-11-21T08:30:41.5Z"}`
	secretNew = `{"name": "team/new", "version": 1, "size": 1, "created": "2026-11-22T10:00:00Z", "updated": "2026-11-22T10:00:00Z"}`
)

// secretMaster is a master whose secret routes answer from canned bodies.
func secretMaster(t *testing.T) *fakeAPI {
	t.Helper()
	notFound := answer(404, `{"message": "No secret named \"missing\""}`)
	return newFake(t, map[string]http.HandlerFunc{
		"PUT /secrets/team/new":       answer(201, secretNew),
		"PUT /secrets/team/db":        answer(200, secretDB),
		"GET /secrets/team/db":        answer(200, secretDB),
		"GET /secrets":                answer(200, apiFile(t, "secrets.json")),
		"GET /secrets?prefix=team":    answer(200, "["+secretDB+"]"),
		"DELETE /secrets/team/db":     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
		"GET /secrets/missing":        notFound,
		"DELETE /secrets/missing":     notFound,
		"PUT /secrets/missing":        notFound,
		"PUT /secrets/bad//name":      answer(422, `{"message": "name: component 2 of \"bad//name\" is empty (a \"//\" or a trailing \"/\"); components are separated by single slashes"}`),
		"PUT /secrets/off":            answer(501, `{"message": "The master was started without --secrets_key, so it keeps no secrets"}`),
		"GET /secrets?prefix=a%2F%2F": answer(422, `{"message": "prefix: component 2 of \"a//\" is empty"}`),
	})
}

func TestSecretGolden(t *testing.T) {
	master := secretMaster(t)
	env := addrEnv(master, nil, nil)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"secret_put.txt", []string{"secret", "put", "team/new", "-"}, "v"},
		{"secret_put_replaced.txt", []string{"secret", "put", "/team/db"}, "pa55"},
		{"secret_put.json", []string{"secret", "put", "team/db", "-", "--json"}, "pa55"},
		{"secret_get_metadata.txt", []string{"secret", "get-metadata", "team/db"}, ""},
		{"secret_get_metadata.json", []string{"secret", "get-metadata", "/team/db", "--json"}, ""},
		{"secret_list.txt", []string{"secret", "list"}, ""},
		{"secret_list_prefix.txt", []string{"secret", "list", "team"}, ""},
		{"secret_list.json", []string{"secret", "list", "--json"}, ""},
		{"secret_delete.txt", []string{"secret", "delete", "/team/db"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, invocation{env: env, stdin: tc.stdin}, tc.args...)
			if res.code != ExitOK {
				t.Fatalf("Run(%q) = %d; want 0\nstderr: %s", tc.args, res.code, res.stderr)
			}
			if strings.HasSuffix(tc.name, ".json") && !json.Valid([]byte(res.stdout)) {
				t.Errorf("Run(%q) printed invalid JSON:\n%s", tc.args, res.stdout)
			}
			golden(t, tc.name, res.stdout)
		})
	}
}

// sentValue decodes the value a `secret put` sent.
func sentValue(t *testing.T, f *fakeAPI, call string) string {
	t.Helper()
	bodies := f.bodyOf(call)
	if len(bodies) == 0 {
		t.Fatalf("no %s was sent", call)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(bodies[len(bodies)-1]), &body); err != nil || len(body) != 1 {
		t.Fatalf("%s sent %q; want {\"value_base64\": …} alone", call, bodies[len(bodies)-1])
	}
	v, err := base64.StdEncoding.DecodeString(body["value_base64"])
	if err != nil {
		t.Fatalf("%s sent bad base64: %v", call, err)
	}
	return string(v)
}

func TestSecretPutValue(t *testing.T) {
	const call = "PUT /secrets/team/new"
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		want   string
		stderr string // what stderr must say; "" for nothing at all
	}{
		{"argument", []string{"hunter2"}, "ignored", "hunter2", "visible to the other users"},
		{"dash reads stdin", []string{"-"}, "from\x00stdin\xff", "from\x00stdin\xff", ""},
		{"no value reads stdin", nil, "multi\nline\n", "multi\nline\n", ""},
		{"a line keeps its newline", []string{"-"}, "pw\n", "pw\n", "ends with a newline"},
		{"an argument keeps its newline", []string{"pw\n"}, "", "pw\n", "visible to the other users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master := secretMaster(t)
			args := append([]string{"secret", "put", "team/new"}, tc.args...)
			res := runCLI(t, invocation{env: addrEnv(master, nil, nil), stdin: tc.stdin}, args...)
			if res.code != ExitOK {
				t.Fatalf("Run(%q) = %d; want 0\nstderr: %s", args, res.code, res.stderr)
			}
			if got := sentValue(t, master, call); got != tc.want {
				t.Errorf("Run(%q) sent %q; want %q", args, got, tc.want)
			}
			if tc.stderr == "" && res.stderr != "" || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("Run(%q) stderr = %q; want %q", args, res.stderr, tc.stderr)
			}
			if strings.Contains(res.stderr, "visible") && strings.Contains(res.stderr, "newline") {
				t.Errorf("Run(%q) stderr = %q; the newline note is for stdin only", args, res.stderr)
			}
		})
	}
}

func TestSecretErrors(t *testing.T) {
	master := secretMaster(t)
	env := addrEnv(master, nil, nil)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		says  string
	}{
		{"metadata of a missing secret", []string{"secret", "get-metadata", "missing"}, "", ExitNotFound, `No secret named "missing"`},
		{"delete a missing secret", []string{"secret", "delete", "missing"}, "", ExitNotFound, `No secret named "missing"`},
		{"bad name", []string{"secret", "put", "bad//name", "-"}, "v", ExitFailed, "name: component 2"},
		{"bad prefix", []string{"secret", "list", "a//"}, "", ExitFailed, "prefix: component 2"},
		{"master without a key", []string{"secret", "put", "off", "-"}, "v", ExitFailed, "without --secrets_key"},
		{"value too large", []string{"secret", "put", "team/new"}, strings.Repeat("x", maxSecretValue+1), ExitFailed, "more than 65536 bytes"},
		{"no name", []string{"secret", "put"}, "", ExitUsage, "missing arguments"},
		{"too many arguments", []string{"secret", "put", "a", "b", "c"}, "", ExitUsage, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, invocation{env: env, stdin: tc.stdin}, tc.args...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.says) {
				t.Errorf("Run(%q) = %d %q; want %d saying %q", tc.args, res.code, res.stderr, tc.code, tc.says)
			}
		})
	}
	if n := master.count("PUT /secrets/team/new"); n != 0 {
		t.Errorf("a value over 64 KiB was sent %d times; want it refused before sending", n)
	}

	res := runCLI(t, invocation{env: map[string]string{"CORRAL_MASTER": closedURL(t)}}, "secret", "list")
	if res.code != ExitUnreachable || !strings.Contains(res.stderr, "CORRAL_MASTER") {
		t.Errorf("secret list with the master down = %d %q; want %d naming CORRAL_MASTER", res.code, res.stderr, ExitUnreachable)
	}
}
