package cli

import (
	"net/http"
	"strings"
	"testing"
)

// A file people wrote that the CLI cannot take says where the mistake is
// (line and column) and what it is; a jobs file given to app deploy, or
// an app to job add, is named as such, with the verb that takes it. No
// API is called.
func TestFileMistakes(t *testing.T) {
	calls := 0
	count := func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(500) }
	svc := newFake(t, map[string]http.HandlerFunc{"POST /v2/apps": count, "PUT /v2/apps/web": count})
	jobs := newFake(t, map[string]http.HandlerFunc{"POST /v1/jobs": count})
	env := map[string]string{"CORRAL_SERVICES": svc.URL, "CORRAL_JOBS": jobs.URL}
	appSyntax := writeFile(t, "app.json", "\n{\n  \"id\": \"/web\",\n  \"cmd\": \"sleep 1\"\n  \"instances\": 2\n}\n")
	job := writeFile(t, "job.json", `{"name": "nightly", "schedule": "0 3 * * *", "command": "backup"}`)
	jobList := writeFile(t, "jobs.json", `[{"name": "a", "command": "true"}, {"name": "b", "parents": ["a"], "command": "true"}]`)
	jobsSyntax := writeFile(t, "jobs-bad.json", "[\n  {\"name\": \"a\", \"command\": \"true\"},\n  {\"name\": \"b\" \"command\": \"true\"}\n]\n")
	jobsType := writeFile(t, "jobs-type.json", "[\n  {\"name\": \"a\", \"command\": \"true\"},\n  {\"name\": 5,\n   \"command\": \"true\"}\n]\n")
	app := writeFile(t, "web.json", `{"id": "/web", "cmd": "sleep 1", "instances": 2}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"syntax", []string{"app", "deploy", appSyntax}, appSyntax + ` does not hold one app definition (a JSON object): line 5, column 3: unexpected '"' after object key:value pair`},
		{"a job to app deploy", []string{"app", "deploy", job}, job + ` holds a job, not an app definition (it has no "id" but has "name", "schedule", "command"): add it with 'corral job add ` + job + `'`},
		{"jobs to app deploy", []string{"app", "deploy", jobList}, jobList + ` holds a JSON array; app deploy takes one app definition (an object); it holds jobs: add them with 'corral job add ` + jobList + `'`},
		{"syntax in a job", []string{"job", "add", jobsSyntax}, jobsSyntax + ` does not hold a job or an array of jobs: line 3, column 16: unexpected '"' after object key`},
		{"type in a job", []string{"job", "add", jobsType}, jobsType + ` does not hold a job or an array of jobs: job 2: line 3, column 12: "name" is number, want string`},
		{"an app to job add", []string{"job", "add", app}, app + ` does not hold a job or an array of jobs: job 1 is an app definition, not a job (it has no "name" but has "id", "cmd", "instances"): deploy it with 'corral app deploy'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, invocation{env: env}, tc.args...)
			if res.code != ExitFailed {
				t.Errorf("exit %d; want %d", res.code, ExitFailed)
			}
			if got := strings.TrimSpace(res.stderr); !strings.Contains(got, tc.want) {
				t.Errorf("stderr:\n%s\nwant it to contain:\n%s", got, tc.want)
			}
		})
	}
	if calls != 0 {
		t.Errorf("%d API calls made for files the CLI should refuse itself", calls)
	}
}

func TestPosition(t *testing.T) {
	body := []byte("ab\ncd\n\nef")
	for _, tc := range []struct {
		off       int64
		line, col int
	}{{1, 1, 1}, {2, 1, 2}, {4, 2, 1}, {5, 2, 2}, {8, 4, 1}, {0, 1, 1}, {99, 4, 2}} {
		if l, c := position(body, tc.off); l != tc.line || c != tc.col {
			t.Errorf("position(%d) = %d:%d; want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}
