package cli

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// --watch shows a list again and again, each time on a cleared screen
// under a header, keeps going through a failed fetch, and ends with 0
// when interrupted; with --json it streams one document after another.
func TestWatch(t *testing.T) {
	var n atomic.Int32
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps": func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) {
			case 2:
				answer(503, `{"message": "leader changing"}`)(w, r)
			default:
				answer(200, `{"apps": [{"id": "/web", "instances": 1}]}`)(w, r)
			}
		},
	})
	env := map[string]string{"CORRAL_SERVICES": svc.URL}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for n.Load() < 4 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res := runCLI(t, invocation{env: env, ctx: ctx}, "app", "list", "--watch", "--interval", "10ms")
	if res.code != ExitOK {
		t.Fatalf("app list --watch = %d; want 0 once interrupted\nstderr: %s", res.code, res.stderr)
	}
	frames := strings.Split(res.stdout, clearScreen)[1:]
	if len(frames) < 3 {
		t.Fatalf("%d frames; want at least 3:\n%q", len(frames), res.stdout)
	}
	if !strings.HasPrefix(frames[0], "Every 10ms: corral app list") || !strings.Contains(frames[0], "/web") {
		t.Errorf("first frame = %q; want the header and the table", frames[0])
	}
	if !strings.Contains(frames[1], "leader changing") || !strings.Contains(frames[2], "/web") {
		t.Errorf("frames 2 and 3 = %q, %q; want the failure shown, then the table again", frames[1], frames[2])
	}

	n.Store(0)
	ctx, cancel = context.WithCancel(t.Context())
	go func() {
		for n.Load() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res = runCLI(t, invocation{env: env, ctx: ctx}, "app", "list", "-w", "--json", "--interval", "10ms")
	if res.code != ExitOK || strings.Contains(res.stdout, clearScreen) || strings.Count(res.stdout, `"/web"`) < 2 {
		t.Errorf("app list -w --json = %d, %q; want documents one after another, nothing cleared", res.code, res.stdout)
	}
	if res := runCLI(t, invocation{env: env}, "app", "show", "/web", "--watch"); res.code != ExitUsage {
		t.Errorf("app show --watch = %d; want a usage error: only lists watch", res.code)
	}
}
