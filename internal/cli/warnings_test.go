package cli

import (
	"bytes"
	"net/http"
	"testing"
)

func TestPrintWarnings(t *testing.T) {
	tests := []struct {
		name, subject, body, want string
	}{
		{"no warnings", "", `{"deploymentId":"d","version":"v"}`, ""},
		{"empty list", "", `{"warnings":[]}`, ""},
		{"not JSON", "", `<html>`, ""},
		{"not an object", "", `["x"]`, ""},
		{"one", "", `{"id":"/a","warnings":["unknown field \"/intances\" ignored"]}`, "warning: unknown field \"/intances\" ignored\n"},
		{"several, in order", "", `{"warnings":["unknown field \"/b\" ignored","unknown field \"/a\" ignored"]}`,
			"warning: unknown field \"/b\" ignored\nwarning: unknown field \"/a\" ignored\n"},
		{"with a subject", "job nightly", `{"warnings":["unknown field \"/schedul\" ignored"]}`,
			"warning: job nightly: unknown field \"/schedul\" ignored\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printWarnings(&buf, tt.subject, []byte(tt.body))
			if got := buf.String(); got != tt.want {
				t.Errorf("printWarnings(%q, %s) printed %q; want %q", tt.subject, tt.body, got, tt.want)
			}
		})
	}
}

// TestJobAddPrintsWarnings: `corral job add` says on stderr what the jobs
// API ignored, naming the job when the file holds several; stdout and the
// exit status are those of a clean save.
func TestJobAddPrintsWarnings(t *testing.T) {
	api := newFake(t, map[string]http.HandlerFunc{
		"GET /v1/jobs/one": answer(404, `{"message": "job \"one\" does not exist"}`),
		"GET /v1/jobs/two": answer(200, `{"name": "two"}`),
		"POST /v1/jobs":    answer(201, `{"name": "one", "warnings": ["unknown field \"/intances\" ignored"]}`),
		"PUT /v1/jobs/two": answer(200, `{"name": "two", "warnings": ["unknown field \"/schedul\" ignored", "unknown field \"/retires\" ignored"]}`),
	})
	single := writeFile(t, "one.json", `{"name": "one", "command": "true", "schedule": "@daily", "intances": 3}`)
	res := runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", single)
	if res.code != ExitOK {
		t.Fatalf("job add = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	if want := "warning: unknown field \"/intances\" ignored\n"; res.stderr != want {
		t.Errorf("job add stderr = %q; want %q", res.stderr, want)
	}
	if want := "created job one\n"; res.stdout != want {
		t.Errorf("job add stdout = %q; want %q", res.stdout, want)
	}

	both := writeFile(t, "both.json", `[{"name": "one", "command": "true", "schedule": "@daily"}, {"name": "two", "command": "true", "parents": ["one"]}]`)
	res = runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", both)
	if res.code != ExitOK {
		t.Fatalf("job add = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	want := "warning: job one: unknown field \"/intances\" ignored\n" +
		"warning: job two: unknown field \"/schedul\" ignored\nwarning: job two: unknown field \"/retires\" ignored\n"
	if res.stderr != want {
		t.Errorf("job add stderr = %q; want %q", res.stderr, want)
	}
	// With --json, stdout holds the answers and stderr the warnings.
	res = runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", "--json", single)
	if res.code != ExitOK || !bytes.Contains([]byte(res.stderr), []byte("warning: unknown field \"/intances\" ignored\n")) {
		t.Errorf("job add --json = %d, stderr %q; want 0 and the warning on stderr", res.code, res.stderr)
	}
}
