package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPrefixWriter(t *testing.T) {
	var b strings.Builder
	p := &prefixWriter{w: &b, prefix: "t1 stderr| "}
	for _, chunk := range []string{"one\ntw", "o\n", "", "three", " and more\nfour"} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.String(), "t1 stderr| one\nt1 stderr| two\nt1 stderr| three and more\n"; got != want {
		t.Errorf("before flush = %q; want %q", got, want)
	}
	p.flush()
	p.flush()
	if !strings.HasSuffix(b.String(), "t1 stderr| four\n") || strings.Count(b.String(), "four") != 1 {
		t.Errorf("after flush = %q; want the last line once", b.String())
	}
}

func TestShortTask(t *testing.T) {
	for in, want := range map[string]string{
		"hello.91b9e633-ed92-4074-9908-034be9df2975": "hello.91b9e633",
		"a_b.c0ffee":                "a_b.c0ffee",
		"ct:1796693279635:2:boom:3": "ct:1796693279635:2:boom:3",
	} {
		if got := shortTask(in); got != want {
			t.Errorf("shortTask(%q) = %q; want %q", in, got, want)
		}
	}
}

// job logs -f prints both streams of the run's sandbox, prefixed, then
// what is appended to either, until interrupted (exit 0).
func TestJobLogsFollow(t *testing.T) {
	files := map[string]*fileServer{
		"fw-1/extract.r7/stdout": {path: "fw-1/extract.r7/stdout", data: "rows: 1\n"},
		"fw-1/extract.r7/stderr": {path: "fw-1/extract.r7/stderr", data: "warming up\n"},
	}
	master := newFake(t, map[string]http.HandlerFunc{
		"GET /agent/A1/files/read": func(w http.ResponseWriter, r *http.Request) {
			f := files[strings.TrimSuffix(r.URL.Query().Get("path"), ".1")]
			if f == nil {
				http.Error(w, "no such file", 404)
				return
			}
			f.read(w, r)
		},
	})
	jobs := newFake(t, map[string]http.HandlerFunc{
		"GET /v1/jobs/extract/runs": answer(200, `[{"id": 8, "job": "extract", "state": "QUEUED"},
			{"id": 7, "job": "extract", "state": "RUNNING", "agentId": "A1", "taskId": "extract.r7",
			 "sandbox": "http://agent0.test:5051/files/browse?path=fw-1%2Fextract.r7"}]`),
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(100 * time.Millisecond)
		files["fw-1/extract.r7/stderr"].append("half a line")
		time.Sleep(50 * time.Millisecond)
		files["fw-1/extract.r7/stderr"].append(" and the rest\n")
		files["fw-1/extract.r7/stdout"].append("rows: 2\n")
		time.Sleep(150 * time.Millisecond)
		cancel()
	}()
	res := runCLI(t, invocation{env: addrEnv(master, nil, jobs), ctx: ctx}, "job", "logs", "extract", "-f")
	if res.code != ExitOK {
		t.Fatalf("job logs -f = %d; want 0 once interrupted\nstderr: %s", res.code, res.stderr)
	}
	for _, want := range []string{"stdout| rows: 1\n", "stderr| warming up\n", "stderr| half a line and the rest\n", "stdout| rows: 2\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout:\n%s\nlacks %q", res.stdout, want)
		}
	}
	if !strings.Contains(res.stderr, "run 7 of extract, task extract.r7 (RUNNING)") {
		t.Errorf("stderr = %q; want which run it follows", res.stderr)
	}
	if res := runCLI(t, invocation{env: addrEnv(master, nil, jobs)}, "job", "logs", "extract", "x"); res.code != ExitUsage {
		t.Errorf("job logs with a bad run = %d; want %d", res.code, ExitUsage)
	}
}
