package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"corral/internal/testcluster"
)

// The size the console must stay fast at: every page renders in well
// under a second with this many apps and jobs.
const (
	benchApps = 1000
	benchJobs = 1000
	// benchRunning apps of benchApps get one instance (a sleep), so the
	// cluster page has tasks and the app page an instance; the rest are
	// suspended.
	benchRunning = 10
	benchAgents  = 2
)

// The jobs form a layered graph: roots on a schedule, then layers of
// children whose parents are in the layer before (and, for some, a root
// too, so edges also skip columns).
var benchLayers = []int{600, 250, 100, 50}

// benchPage is one console page and when it counts as rendered.
type benchPage struct {
	name string // the metric is <name>-ms
	hash string
	// ready is a JavaScript expression, true once the page shows all its
	// data. It must be false on every other page.
	ready string
}

// pageTiming is what measureJS returns, in milliseconds since the
// navigation: when ready held, when the frame after it was painted, and
// when the last API response the page used had arrived (a request the page
// makes late, because its main thread was busy, arrives late too). Script, Style and
// Layout are the renderer's main-thread time in each over the same span,
// from the DevTools Performance domain.
type pageTiming struct {
	Ready float64 `json:"ready"`
	Total float64 `json:"total"`
	API   float64 `json:"api"`

	Script, Style, Layout float64 `json:"-"`
}

// settleJS resolves once the page has been quiet for half a second (idle
// callbacks with time to spare, no request finished), or after ten
// seconds. A page's live stream re-reads the API once it attaches, and
// that re-render belongs to the page, not to the next one's measurement.
const settleJS = `(async () => {
  const start = performance.now();
  let since = start, seen = performance.getEntriesByType('resource').length;
  while (performance.now() - start < 10000) {
    const idle = await new Promise((r) => requestIdleCallback(r, { timeout: 1000 }));
    const n = performance.getEntriesByType('resource').length;
    if (idle.didTimeout || idle.timeRemaining() < 40 || n !== seen) {
      seen = n;
      since = performance.now();
    } else if (performance.now() - since >= 500) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
})()`

// measureJS navigates to a hash and resolves once a MutationObserver on
// the console's #main sees the page ready, and the frame after that has
// been painted (a requestAnimationFrame, then a task). The API time comes
// from the Resource Timing entries of the fetches made in between.
const measureJS = `(async (hash, ready) => {
  performance.setResourceTimingBufferSize(100000);
  performance.clearResourceTimings();
  const main = document.getElementById('main');
  const t0 = performance.now();
  const tReady = await new Promise((resolve, reject) => {
    let done = false;
    const finish = (f) => { if (done) return; done = true; obs.disconnect(); clearTimeout(timer); f(); };
    const check = () => {
      let ok = false;
      try { ok = !!ready(); } catch { ok = false; }
      if (ok) finish(() => resolve(performance.now()));
    };
    const obs = new MutationObserver(check);
    obs.observe(main, { childList: true, subtree: true, attributes: true, characterData: true });
    const timer = setTimeout(() => finish(() => reject(new Error('page ' + hash + ' not ready after 30s'))), 30000);
    location.hash = hash;
  });
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const total = performance.now() - t0;
  let api = 0;
  for (const e of performance.getEntriesByType('resource')) {
    if (e.initiatorType === 'fetch' && e.startTime >= t0 && e.responseEnd <= tReady) api = Math.max(api, e.responseEnd - t0);
  }
  return { ready: tReady - t0, total, api };
})(%s, () => (%s))`

// BenchmarkConsolePages measures how long each console page takes to
// render with benchApps apps and benchJobs jobs: in the page, from setting
// location.hash until the page shows all its data, each long table its
// first window of rows with the count of all (and the frame is painted). It reports the median per page as <page>-ms, and as
// <page>-api-ms when the last API answer the page waited for arrived; the
// difference is the console's own time (parsing, building markup, layout).
func BenchmarkConsolePages(b *testing.B) {
	exe := benchBrowserPath(b)
	ports := freePortRanges(b, benchAgents, 200)
	c := testcluster.Start(b, testcluster.Options{Agents: benchAgents, Resources: func(i int) string {
		return fmt.Sprintf("cpus:4;mem:4096;disk:2000;ports:[%d-%d]", ports[i], ports[i]+199)
	}})
	services := c.StartFramework("services")
	jobs := c.StartFramework("jobs")

	ctx := b.Context()
	start := time.Now()
	apps := benchAppBodies()
	if err := postAll(ctx, services.URL+"/v2/apps", apps); err != nil {
		b.Fatal(err)
	}
	layers := benchJobBodies()
	edges := 0
	for _, layer := range layers { // parents exist before their children
		if err := postAll(ctx, jobs.URL+"/v1/jobs", layer); err != nil {
			b.Fatal(err)
		}
		for _, j := range layer {
			edges += len(j["parents"].([]string))
		}
	}
	testcluster.Eventually(b, 2*time.Minute, func() bool {
		var deps []json.RawMessage
		var running struct {
			Apps []struct {
				TasksRunning int `json:"tasksRunning"`
			} `json:"apps"`
		}
		if getJSON(services.URL+"/v2/deployments", &deps) != nil || getJSON(services.URL+"/v2/apps?id=/bench/running", &running) != nil {
			return false
		}
		n := 0
		for _, a := range running.Apps {
			n += a.TasksRunning
		}
		return len(deps) == 0 && n == benchRunning
	}, "%d apps deployed and %d instances running", benchApps, benchRunning)
	b.Logf("created %d apps and %d jobs (%d edges) in %s", benchApps, benchJobs, edges, time.Since(start).Round(time.Millisecond))

	app := apps[benchRunning/2]["id"].(string)
	job := layers[1][len(layers[1])/2]["name"].(string)
	pages := []benchPage{
		{"cluster", "#/cluster", fmt.Sprintf(`document.querySelector('#cluster-page') &&
			document.querySelectorAll('#agents tr[data-agent-id]').length === %d &&
			document.querySelectorAll('#frameworks tr[data-framework-name]').length === 2 &&
			document.querySelectorAll('#tasks tr[data-task-id]').length >= %d`, benchAgents, benchRunning)},
		{"services", "#/services", `document.querySelector('#services-page') && ` + windowed(`#apps tr[data-app-id]`, `#apps-pager`, benchApps)},
		{"app", "#/services/app" + app, `document.querySelector(` + js(`#app-page[data-app-id="`+app+`"][data-status]`) + `) &&
			document.querySelectorAll('#instances tr[data-task-id]').length === 1 &&
			document.querySelector('#versions [data-version]')`},
		// With this many jobs the graph waits to be asked for; the page is
		// complete when it says how big the graph is.
		{"jobs", "#/jobs", `document.querySelector('#jobs-page') && ` + windowed(`#jobs tr[data-job-name]`, `#jobs-pager`, benchJobs) +
			fmt.Sprintf(` && document.querySelector('#graph-deferred[data-jobs="%d"][data-edges="%d"]')`, benchJobs, edges)},
		{"job", "#/jobs/" + job, `document.querySelector(` + js(`#job-page[data-job-name="`+job+`"] #job-summary [data-field=next]`) + `) &&
			document.querySelector('#runs tbody tr')`},
	}

	br := startBenchBrowser(b, exe)
	// Open the console on a page that none of the measured ones is, so
	// that the first navigation is a hash change too.
	if _, err := chromedp.Run(br.ctx, chromedp.Navigate(c.URL+"/#/warm-up")); err != nil {
		b.Fatal(err)
	}
	// One untimed round: the browser compiles the console's scripts and
	// caches what it caches before the first measured navigation.
	for _, p := range pages {
		br.measure(p)
	}
	samples := make(map[string][]pageTiming)
	for b.Loop() {
		for _, p := range pages {
			samples[p.name] = append(samples[p.name], br.measure(p))
		}
	}
	for _, p := range pages {
		s := samples[p.name]
		m := func(f func(pageTiming) float64) float64 { return median(s, f) }
		total, api := m(func(t pageTiming) float64 { return t.Total }), m(func(t pageTiming) float64 { return t.API })
		b.ReportMetric(total, p.name+"-ms")
		b.ReportMetric(api, p.name+"-api-ms")
		b.Logf("%-8s %6.1f ms: API answered at %.1f, ready at %.1f; main thread: script %.1f, style %.1f, layout %.1f (medians of %d)",
			p.name, total, api, m(func(t pageTiming) float64 { return t.Ready }),
			m(func(t pageTiming) float64 { return t.Script }), m(func(t pageTiming) float64 { return t.Style }),
			m(func(t pageTiming) float64 { return t.Layout }), len(s))
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if len(br.bad) > 0 {
		b.Errorf("uncaught errors in the console's JavaScript:\n%s", strings.Join(br.bad, "\n"))
	}
}

// windowed is true once a long table shows its first window of rows (the
// console draws the first rows and a count, not every row): the pager
// under it counts total rows, and the table holds as many as it says it
// shows.
func windowed(rows, pager string, total int) string {
	return fmt.Sprintf(`(() => {
		const p = document.querySelector(%s);
		const shown = p ? Number(p.dataset.shown) : 0;
		return shown > 0 && p.dataset.total === '%d' && document.querySelectorAll(%s).length === shown;
	})()`, js(pager), total, js(rows))
}

// benchAppBodies are the apps to create: benchRunning under
// /bench/running with one instance, the rest suspended in ten groups.
func benchAppBodies() []map[string]any {
	out := make([]map[string]any, 0, benchApps)
	for i := range benchApps {
		a := map[string]any{"cmd": "sleep 100000", "cpus": 0.01, "mem": 16, "instances": 0,
			"labels": map[string]string{"team": fmt.Sprintf("team-%02d", i%10)}}
		if i < benchRunning {
			a["id"] = fmt.Sprintf("/bench/running/app-%04d", i)
			a["instances"] = 1
		} else {
			a["id"] = fmt.Sprintf("/bench/team-%02d/app-%04d", i%10, i)
		}
		out = append(out, a)
	}
	return out
}

// benchJobBodies are the jobs to create, layer by layer (benchLayers). Roots
// run yearly or from an ISO 8601 interval that starts years ahead, so
// nothing runs while the benchmark does.
func benchJobBodies() [][]map[string]any {
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"}
	var layers [][]map[string]any
	var prev, roots []string
	n := 0
	for li, size := range benchLayers {
		var layer []map[string]any
		var names []string
		for i := range size {
			name := fmt.Sprintf("bench-%d-%04d", li, n)
			n++
			j := map[string]any{"name": name, "command": "echo " + name, "cpus": 0.01, "mem": 16,
				"description": fmt.Sprintf("layer %d, job %d", li, i), "parents": []string{}}
			switch {
			case li == 0 && i%2 == 0:
				j["schedule"], j["timezone"] = "0 0 1 1 *", zones[i%len(zones)]
			case li == 0:
				j["schedule"] = "R/2030-01-01T00:00:00Z/P1D"
			default:
				ps := []string{prev[i%len(prev)]}
				if i%3 == 0 {
					ps = append(ps, prev[(i*7+1)%len(prev)])
				}
				if li > 1 && i%5 == 0 {
					ps = append(ps, roots[(i*13)%len(roots)]) // an edge that skips columns
				}
				slices.Sort(ps)
				j["parents"] = slices.Compact(ps)
			}
			layer = append(layer, j)
			names = append(names, name)
		}
		if li == 0 {
			roots = names
		}
		layers = append(layers, layer)
		prev = names
	}
	return layers
}

// postAll POSTs each body to url as JSON, eight at a time, and wants 201
// for each.
func postAll(ctx context.Context, url string, bodies []map[string]any) error {
	const workers = 8
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan map[string]any)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for body := range next {
				if err := postJSON(ctx, url, body); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, body := range bodies {
		select {
		case next <- body:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func postJSON(ctx context.Context, url string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s %s = %d %s; want 201", url, data, resp.StatusCode, out)
	}
	return nil
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// median is the median of f over samples.
func median(samples []pageTiming, f func(pageTiming) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// benchBrowser is one headless Chromium tab for a benchmark.
type benchBrowser struct {
	b   *testing.B
	ctx context.Context

	mu  sync.Mutex
	bad []string // uncaught exceptions
}

// benchBrowserPath is browserPath for a benchmark: benchmarks do not run
// in CI, so a missing Chromium always skips.
func benchBrowserPath(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("CORRAL_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			b.Fatalf("CORRAL_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	b.Skip("no Chromium found (set CORRAL_CHROMIUM, or install Debian's chromium package)")
	return ""
}

func startBenchBrowser(b *testing.B, exe string) *benchBrowser {
	b.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // benchmarks run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(b.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b.Cleanup(func() { cancel(); cancelAlloc() })
	br := &benchBrowser{b: b, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil && ev.ExceptionDetails.Exception.Description != "" {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			br.mu.Lock()
			br.bad = append(br.bad, msg)
			br.mu.Unlock()
		}
	})
	if err != nil {
		b.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{})
		return err
	}))
	if err != nil {
		b.Fatalf("enabling the renderer's metrics: %v", err)
	}
	return br
}

// measure navigates to p and returns how long it took to render, then
// lets the page finish what it does after rendering (settleJS).
func (br *benchBrowser) measure(p benchPage) pageTiming {
	br.b.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, time.Minute)
	defer cancel()
	before, err := chromedp.Run(ctx, mainThreadTimes)
	if err != nil {
		br.b.Fatalf("reading the renderer's metrics: %v", err)
	}
	t, err := chromedp.Run(ctx, chromedp.Evaluate[pageTiming](fmt.Sprintf(measureJS, js(p.hash), p.ready), chromedp.EvalAwaitPromise))
	if err != nil {
		text, _ := chromedp.Run(br.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		if len(text) > 2000 {
			text = text[:2000] + "…"
		}
		br.b.Fatalf("measuring the %s page: %v\n--- page ---\n%s", p.name, err, text)
	}
	after, err := chromedp.Run(ctx, mainThreadTimes)
	if err != nil {
		br.b.Fatalf("reading the renderer's metrics: %v", err)
	}
	t.Script = after["ScriptDuration"] - before["ScriptDuration"]
	t.Style = after["RecalcStyleDuration"] - before["RecalcStyleDuration"]
	t.Layout = after["LayoutDuration"] - before["LayoutDuration"]
	quiet, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settleJS, chromedp.EvalAwaitPromise))
	if err != nil {
		br.b.Fatalf("waiting for the %s page to settle: %v", p.name, err)
	}
	if !quiet {
		br.b.Logf("the %s page was still busy 10s after it rendered", p.name)
	}
	return t
}

// mainThreadTimes reads the renderer's cumulative main-thread times
// (ScriptDuration, RecalcStyleDuration, LayoutDuration, …) in milliseconds.
func mainThreadTimes(ctx context.Context, t *chromedp.Target) (map[string]float64, error) {
	r, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(r.Metrics))
	for _, m := range r.Metrics {
		if strings.HasSuffix(m.Name, "Duration") {
			out[m.Name] = m.Value * 1000 // seconds
		}
	}
	return out, nil
}
