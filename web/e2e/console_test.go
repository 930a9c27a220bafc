package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"corral/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// browserPath finds Chromium: CORRAL_CHROMIUM, or the usual names on PATH.
// Without one the test skips, except in CI (CI=true), where a missing
// dependency fails the run.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CORRAL_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CORRAL_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (set CORRAL_CHROMIUM, or install Debian's chromium package)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactDir is where screenshots go: $CORRAL_ARTIFACTS/console, or
// bin/artifacts/console at the root of the repository.
func artifactDir(t *testing.T) string {
	t.Helper()
	var dir string
	if base := os.Getenv("CORRAL_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, "console")
	} else {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("no go.mod above the test's directory")
			}
			root = parent
		}
		dir = filepath.Join(root, "bin", "artifacts", "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab on the console.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string

	mu  sync.Mutex
	log []string // the page's console errors and uncaught exceptions
	bad []string // uncaught exceptions only
}

func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	exe := browserPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, dir: artifactDir(t)}
	_ = os.Remove(filepath.Join(b.dir, "failure.png")) // from an earlier run
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := "uncaught: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil && ev.ExceptionDetails.Exception.Description != "" {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.log = append(b.log, msg)
			b.bad = append(b.bad, msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					if a.Description != "" {
						parts = append(parts, a.Description)
					} else {
						parts = append(parts, string(a.Value))
					}
				}
				b.log = append(b.log, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
			}
		}
	})
	if err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	return b
}

// fail saves a screenshot and the page's text, then fails the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	b.screenshot("failure")
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if len(text) > 4000 {
		text = text[:4000] + "…"
	}
	b.mu.Lock()
	logs := strings.Join(b.log, "\n")
	b.mu.Unlock()
	b.t.Fatalf(format+"\n--- page ---\n%s\n--- browser console ---\n%s", append(args, text, logs)...)
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// waitJS waits until the expression is true in the page.
func (b *browser) waitJS(what string, timeout time.Duration, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			b.fail("timed out after %s waiting for %s (%s; last error %v)", timeout, what, expr, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text returns the trimmed text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector(`+js(sel)+`)||{}).textContent||""`))
	if err != nil {
		b.fail("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// click waits for an element and clicks it.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.waitJS(what, 20*time.Second, `(() => { const el = document.querySelector(`+js(sel)+`); if (!el) return false; el.click(); return true })()`)
}

// setValue sets a form field's value.
func (b *browser) setValue(sel, value string) {
	b.t.Helper()
	b.waitJS("the field "+sel, 10*time.Second, `(() => { const el = document.querySelector(`+js(sel)+`); if (!el) return false; el.value = `+js(value)+`; return true })()`)
}

// screenshot saves the page as <name>.png in the artifact directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("saving screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot: %s", p)
}

// post sends a JSON request to a framework's API and checks the status.
func post(t *testing.T, url string, body any, want int) {
	t.Helper()
	send(t, http.MethodPost, url, body, want)
}

// send sends a JSON request with method to a framework's API and checks
// the status.
func send(t *testing.T, method, url string, body any, want int) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", method, url, resp.StatusCode, out, want)
	}
}

// freePortRanges picks n ranges of size ports for the agents, away from
// the 31000s that other tests' agents use (go test runs packages in
// parallel) and below Linux's ephemeral ports, each starting with ports
// that nothing listens on.
func freePortRanges(t testing.TB, n, size int) []int {
	t.Helper()
	var out []int
	for attempt := 0; len(out) < n && attempt < 200; attempt++ {
		base := 20000 + rand.IntN((30000-20000)/size)*size
		if slices.Contains(out, base) {
			continue
		}
		free := true
		for p := base; p < base+10 && free; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			out = append(out, base)
		}
	}
	if len(out) < n {
		t.Fatalf("found only %d free port ranges of %d", len(out), size)
	}
	return out
}

// The app the test creates: python's http.server on $PORT0, healthy while
// the file "health" exists in its sandbox. It logs each request (the
// health checks) to stderr.
const webApp = `{
  "id": "/console-web",
  "cmd": "echo ok > health && exec python3 -m http.server $PORT0 --bind 127.0.0.1",
  "cpus": 0.1,
  "mem": 64,
  "instances": 1,
  "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0,
    "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}],
  "backoffSeconds": 1
}`

func TestConsole(t *testing.T) {
	b := startBrowser(t)
	ports := freePortRanges(t, 2, 200)
	c := testcluster.Start(t, testcluster.Options{Agents: 2, Resources: func(i int) string {
		return fmt.Sprintf("cpus:4;mem:4096;disk:2000;ports:[%d-%d]", ports[i], ports[i]+199)
	}})
	svc := c.StartFramework("services")

	// Before the jobs framework registers, its page says so; it recovers
	// by itself once the framework is up.
	b.do("opening the console", chromedp.Navigate(c.URL+"/#/jobs"))
	b.waitJS("the jobs page saying its framework is not registered", 20*time.Second,
		`(() => { const el = document.getElementById('jobs-banner'); return el && !el.hidden && el.textContent.includes('"jobs" framework is not registered') })()`)
	// A reload would lose this; every step below must happen without one.
	b.do("marking the page", chromedp.Evaluate[chromedp.Void](`window.__consoleTest = 'same page'`))
	b.screenshot("jobs-unregistered")
	jobs := c.StartFramework("jobs")
	b.waitJS("the jobs page once the framework registered", 30*time.Second,
		`document.getElementById('jobs-banner').hidden && document.querySelector('#jobs tbody tr')`)

	// The cluster page: both agents and both frameworks, live.
	b.click("the Cluster tab", `a[data-nav="cluster"]`)
	b.waitJS("both agents and both frameworks on the cluster page", 20*time.Second,
		`document.querySelectorAll('#agents tr[data-agent-id]').length === 2 &&
		 document.querySelector('#frameworks tr[data-framework-name="services"]') &&
		 document.querySelector('#frameworks tr[data-framework-name="jobs"]') &&
		 document.querySelectorAll('#agents .bar svg').length >= 8`)
	b.waitJS("the cluster page's live stream", 10*time.Second, `document.getElementById('live').dataset.state === 'open'`)
	b.screenshot("cluster")

	// Services: an invalid app first, whose error names the field.
	b.click("the Services tab", `a[data-nav="services"]`)
	b.click("the New app button", `#new-app`)
	invalid := strings.Replace(webApp, `"cpus": 0.1`, `"cpus": -1`, 1)
	b.setValue(`#app-editor textarea`, invalid)
	b.click("Create app", `#app-editor [data-role=submit]`)
	b.waitJS("the inline error on /cpus", 20*time.Second, `document.querySelector('#app-editor .field-error[data-path="/cpus"]')`)
	if got := b.text(`#app-editor .field-error[data-path="/cpus"]`); !strings.Contains(got, "/cpus") || len(got) <= len("/cpus") {
		b.fail("the error next to /cpus says %q; want the path and what is wrong with it", got)
	}
	b.screenshot("services-invalid")

	// Then a valid one, with a misspelt field the API ignores and the
	// console warns about; its row turns healthy through the event stream.
	b.setValue(`#app-editor textarea`, strings.Replace(webApp, `"mem": 64,`, `"mem": 64, "intances": 3,`, 1))
	b.click("Create app", `#app-editor [data-role=submit]`)
	b.waitJS("a warning naming the misspelt field", 20*time.Second,
		`[...document.querySelectorAll('#toasts .toast.warn')].some((t) => t.textContent.includes('intances'))`)
	row := `#apps tr[data-app-id="/console-web"]`
	b.waitJS("the new app in the list", 20*time.Second, `document.querySelector('`+row+`')`)
	b.waitJS("the services page's live stream", 10*time.Second, `document.getElementById('live').dataset.state === 'open'`)
	b.waitJS("the app healthy in the list, without a reload", 90*time.Second,
		`(() => { const r = document.querySelector('`+row+`'); return r && r.dataset.status === 'Running' &&
		   r.querySelector('[data-field=healthy]').textContent.trim() === '1' })()`)
	b.screenshot("services")

	// The app's page: its instance, healthy, with a link to its logs.
	b.click("the app's link", row+` a`)
	inst := `#instances tr[data-task-id]`
	b.waitJS("the app's healthy instance", 20*time.Second,
		`(() => { const r = document.querySelector('`+inst+`'); return r && r.querySelector('[data-field=health]').textContent.includes('healthy') && r.querySelector('a[data-logs]') })()`)
	b.waitJS("the app's versions", 10*time.Second, `document.querySelector('#versions [data-version]')`)
	b.waitJS("the app's events", 10*time.Second, `document.querySelector('#app-events li[data-event-type]')`)

	// Scale it to two through the dialog; the second instance turns up
	// healthy by itself.
	b.click("Scale", `#app-scale`)
	b.waitJS("the scale dialog", 10*time.Second, `document.getElementById('dialog').open`)
	b.setValue(`#dialog-input`, "2")
	b.click("the dialog's OK", `#dialog-ok`)
	b.waitJS("two healthy instances", 60*time.Second,
		`[...document.querySelectorAll('`+inst+`')].filter((r) => r.querySelector('[data-field=health]').textContent.includes('healthy')).length === 2`)
	b.screenshot("app")

	// Its logs: python logs every health check request to stderr.
	b.click("the instance's logs link", inst+` a[data-logs]`)
	b.waitJS("the logs page", 10*time.Second, `document.querySelector('#log-output')`)
	b.click("the stderr switch", `button[data-stream="stderr"]`)
	b.waitJS("health check requests in the task's stderr", 30*time.Second,
		`document.querySelector('#log-output').dataset.stream === 'stderr' && document.querySelector('#log-output').textContent.includes('GET /health')`)
	b.screenshot("logs")

	// A version whose instances crash: its deployment fails as a crash
	// loop and rolls back; the app's page says so, with the reason.
	b.do("back to the app's page", chromedp.Evaluate[chromedp.Void](`location.hash = '#/services/app/console-web'`))
	b.waitJS("the app's page", 10*time.Second, `document.querySelector('#app-page #instances tr[data-task-id]')`)
	send(t, http.MethodPut, svc.URL+"/v2/apps/console-web", map[string]any{"cmd": "echo crashing; exit 1",
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1, "autoRollback": true}}, http.StatusOK)
	b.waitJS("the failed deployment, its reason and its rollback", 90*time.Second,
		`(() => { const el = document.getElementById('app-deploy-failed'); return el && el.dataset.kind === 'crashLoop' &&
		   el.querySelector('[data-field=reason]').textContent.includes('failed in a row (crash loop') &&
		   el.querySelector('[data-field=rollback]').textContent.includes('to the previous version') })()`)
	b.waitJS("the failure among the app's events", 10*time.Second, `document.querySelector('#app-events li[data-event-type="deployment_failed"]')`)
	b.waitJS("the app back on its old version: two healthy instances, no deployment", 90*time.Second,
		`!document.getElementById('app-waiting') && document.querySelector('#app-deploy-failed [data-field=rollback]').dataset.state === 'succeeded' &&
		 [...document.querySelectorAll('`+inst+`')].filter((r) => r.querySelector('[data-field=health]').textContent.includes('healthy')).length === 2 &&
		 document.querySelectorAll('`+inst+`').length === 2`)
	b.screenshot("app-failed")

	// Jobs: a parent and a child (through the API); the list shows the
	// parent's next run in its zone, and the graph the edge.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	post(t, jobs.URL+"/v1/jobs", map[string]any{"name": "console-extract", "command": "echo extracting rows; sleep 1", "schedule": "0 0 1 1 *",
		"timezone": "Europe/Berlin", "cpus": 0.1, "mem": 32, "webhooks": []map[string]any{{"url": hook.URL, "on": []string{"SUCCEEDED"}}}}, http.StatusCreated)
	post(t, jobs.URL+"/v1/jobs", map[string]any{"name": "console-report", "command": "echo reporting", "parents": []string{"console-extract"},
		"description": `<b id="injected">user text</b>`, "cpus": 0.1, "mem": 32}, http.StatusCreated)
	now := time.Now().In(berlin)
	next := time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, berlin).Format("2006-01-02 15:04:05")

	b.click("the Jobs tab", `a[data-nav="jobs"]`)
	parent := `#jobs tr[data-job-name="console-extract"]`
	b.waitJS("both jobs and the edge between them", 20*time.Second,
		`document.querySelector('`+parent+`') && document.querySelector('#jobs tr[data-job-name="console-report"]') &&
		 document.querySelector('#job-graph path.edge[data-from="console-extract"][data-to="console-report"]') &&
		 document.querySelector('#job-graph [data-job-name="console-report"]')`)
	// User data is text, never markup.
	b.waitJS("the child's description shown as text", 5*time.Second,
		`!document.getElementById('injected') && document.querySelector('#jobs tr[data-job-name="console-report"]').textContent.includes('<b id="injected">user text</b>')`)
	if got := b.text(parent + ` [data-field=next]`); !strings.Contains(got, next) {
		b.fail("the parent's next run reads %q; want %s, midnight in its zone (Europe/Berlin)", got, next)
	}
	b.click("Run now", parent+` button[data-action="run"]`)
	// The child runs after its parent succeeded; both counts update live.
	b.waitJS("a success of the parent and then of the child", 60*time.Second,
		`document.querySelector('`+parent+` [data-field=successes]').textContent.trim() === '1' &&
		 document.querySelector('#jobs tr[data-job-name="console-report"] [data-field=successes]').textContent.trim() === '1' &&
		 document.querySelector('#job-graph [data-job-name="console-report"]').classList.contains('success')`)
	// Disable the child, and enable it again.
	child := `#jobs tr[data-job-name="console-report"]`
	b.click("Disable", child+` button[data-action="toggle"]`)
	b.waitJS("the child disabled", 20*time.Second, `document.querySelector('`+child+`').dataset.status === 'disabled'`)
	b.click("Enable", child+` button[data-action="toggle"]`)
	b.waitJS("the child enabled", 20*time.Second, `document.querySelector('`+child+`').dataset.status !== 'disabled'`)
	b.screenshot("jobs")

	// The parent's page: its run, with a result, and its webhook told.
	b.click("the parent's link", parent+` a`)
	b.waitJS("the parent's succeeded run", 20*time.Second,
		`(() => { const r = document.querySelector('#runs tr[data-run-id]'); return r && r.dataset.state === 'SUCCEEDED' &&
		   r.querySelector('[data-field=state]').textContent.includes('SUCCEEDED') })()`)
	b.waitJS("the parent's run notified", 20*time.Second,
		`document.querySelector('#runs tr[data-run-id] [data-field=notified]').textContent.trim() === 'delivered'`)
	b.screenshot("job")

	// Back on the cluster page: the app's tasks, healthy (the services
	// framework's own checks), with their logs one click away.
	b.click("the Cluster tab", `a[data-nav="cluster"]`)
	b.waitJS("the app's task on the cluster page", 20*time.Second,
		`document.querySelector('#tasks tr[data-task-id^="console-web."] a[data-logs]') &&
		 document.querySelector('#frameworks tr[data-framework-name="services"] td.num').textContent.trim() === '2'`)
	b.waitJS("the app's tasks healthy on the cluster page", 20*time.Second,
		`(() => { const rows = [...document.querySelectorAll('#tasks tr[data-task-id^="console-web."]')];
		   return rows.length === 2 && rows.every((r) => r.cells[4].textContent.trim() === 'healthy') })()`)
	b.screenshot("cluster-tasks")

	b.waitJS("the same page all along (no reload)", time.Second, `window.__consoleTest === 'same page'`)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.bad) > 0 {
		t.Errorf("uncaught errors in the console's JavaScript:\n%s", strings.Join(b.bad, "\n"))
	}
}
