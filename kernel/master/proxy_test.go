package master

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestWebuiHostsAllows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		list    []string
		allowed []string
		refused []string
	}{
		{
			name:    "default",
			allowed: []string{"localhost", "LocalHost", "localhost.", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "master.example", "MASTER.example.", "192.0.2.10"},
			refused: []string{"0.0.0.0", "::", "10.0.0.1", "169.254.169.254", "evil.example", "localhost.evil.example", "2130706433", "", "master.example.evil"},
		},
		{
			name:    "listed",
			list:    []string{"svc.internal", "10.0.0.5", "[fd00::1]", "Jobs.Internal."},
			allowed: []string{"svc.internal", "SVC.internal", "jobs.internal", "10.0.0.5", "::ffff:10.0.0.5", "fd00::1"},
			refused: []string{"127.0.0.1", "localhost", "master.example", "192.0.2.10", "10.0.0.6", "internal", ""},
		},
		{
			name:    "any",
			list:    []string{"*"},
			allowed: []string{"127.0.0.1", "0.0.0.0", "evil.example", "10.0.0.1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newWebuiHosts(tc.list, "master.example", "192.0.2.10")
			for _, host := range tc.allowed {
				if !h.allows(host) {
					t.Errorf("webuiHosts(%q).allows(%q) = false; want true", tc.list, host)
				}
			}
			for _, host := range tc.refused {
				if h.allows(host) {
					t.Errorf("webuiHosts(%q).allows(%q) = true; want false", tc.list, host)
				}
			}
		})
	}
}

// countingWebui is a framework API that counts the requests it gets and
// answers each with a small HTML page whose script, if it runs, renames
// the page.
func countingWebui(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>static</title></head><body><script>document.title = "scripted"</script></body></html>`))
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

func TestConsoleProxiesOnlyToAllowedHosts(t *testing.T) {
	web, hits := countingWebui(t)
	_, port, _ := net.SplitHostPort(web.Listener.Addr().String())
	at := func(host string) string { return "http://" + net.JoinHostPort(host, port) }
	for _, tc := range []struct {
		name  string
		hosts []string
		webui map[string]bool // webui_url: proxied?
	}{
		// 0.0.0.0 reaches this machine's own ports, as loopback does, but
		// is not a loopback address: the default refuses it.
		{"default", nil, map[string]bool{at("127.0.0.1"): true, at("localhost"): true, at("0.0.0.0"): false}},
		{"listed", []string{"localhost"}, map[string]bool{at("localhost"): true, at("127.0.0.1"): false}},
		{"any", []string{"*"}, map[string]bool{at("0.0.0.0"): true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := startMaster(t, func(c *Config) { c.FrameworkWebUIHosts = tc.hosts })
			i := 0
			for webui, proxied := range tc.webui {
				i++
				name := "fw" + string(rune('0'+i))
				subscribe(t, tm.url, `{"user":"u","name":"`+name+`","webui_url":"`+webui+`","failover_timeout":3600}`)
				before := hits.Load()
				resp, body := get(t, tm.url+"/framework/"+name+"/page", nil)
				if proxied {
					if resp.StatusCode != 200 || hits.Load() != before+1 {
						t.Errorf("GET /framework/%s with webui_url %s = %d %q; want the framework's page", name, webui, resp.StatusCode, body)
					}
					continue
				}
				host := strings.TrimPrefix(strings.TrimSuffix(webui, ":"+port), "http://")
				wantMessage(t, "GET /framework/"+name+" with webui_url "+webui, resp, body, http.StatusForbidden, host, "--framework_webui_hosts")
				if hits.Load() != before {
					t.Errorf("GET /framework/%s with webui_url %s reached the framework; want no request sent", name, webui)
				}
			}
		})
	}
}

// The proxy passes a framework's redirect back to the browser: a Location
// into the framework stays behind /framework/<name> (TestConsoleProxiesToFrameworks),
// one to anywhere else is left as it is, and the master itself never
// follows it.
func TestConsoleProxyDoesNotFollowRedirects(t *testing.T) {
	elsewhere, elsewhereHits := countingWebui(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/secret", http.StatusFound)
	}))
	t.Cleanup(web.Close)
	tm := startMaster(t, nil)
	subscribe(t, tm.url, `{"user":"u","name":"hop","webui_url":"`+web.URL+`","failover_timeout":3600}`)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(tm.url + "/framework/hop/away")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != elsewhere.URL+"/secret" {
		t.Errorf("GET /framework/hop/away = %d, Location %q; want 302 to %s/secret", resp.StatusCode, resp.Header.Get("Location"), elsewhere.URL)
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests; want none (the master must not follow redirects)", n)
	}
}

// proxiedPolicyParts are what every proxied response's policy must say.
var proxiedPolicyParts = []string{"sandbox", "default-src 'none'"}

// Every proxied response carries a sandboxing Content-Security-Policy and
// nosniff, whatever the framework sent, so that a page a framework serves
// cannot run script on the console's origin.
func TestConsoleProxySandboxesResponses(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "script-src *")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<script>alert(1)</script>`))
	}))
	t.Cleanup(web.Close)
	tm := startMaster(t, nil)
	subscribe(t, tm.url, `{"user":"u","name":"page","webui_url":"`+web.URL+`","failover_timeout":3600}`)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, _ := send(t, method, tm.url+"/framework/page/x", jsonCT, "{}")
		policies := resp.Header.Values("Content-Security-Policy")
		ours := slices.ContainsFunc(policies, func(p string) bool {
			for _, part := range proxiedPolicyParts {
				if !strings.Contains(p, part) {
					return false
				}
			}
			return !strings.Contains(p, "allow-scripts") && !strings.Contains(p, "allow-same-origin")
		})
		if !ours {
			t.Errorf("%s /framework/page/x: Content-Security-Policy %q; want one with %q and no allow-scripts or allow-same-origin", method, policies, proxiedPolicyParts)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s /framework/page/x: X-Content-Type-Options %q; want nosniff", method, got)
		}
	}
}

// chromiumPath finds Chromium as the console's end-to-end test does:
// CORRAL_CHROMIUM, or the usual names on PATH. Without one the test skips,
// except in CI (CI=true), where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CORRAL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (set CORRAL_CHROMIUM, or install Debian's chromium package)")
	}
	t.Skip("no Chromium found (set CORRAL_CHROMIUM, or install Debian's chromium package)")
	return ""
}

// A browser opening a page through the proxy runs none of its scripts and
// gives it an opaque origin, not the console's.
func TestBrowserRunsNoScriptOfProxiedPages(t *testing.T) {
	exe := chromiumPath(t)
	web, _ := countingWebui(t)
	tm := startMaster(t, nil)
	subscribe(t, tm.url, `{"user":"u","name":"page","webui_url":"`+web.URL+`","failover_timeout":3600}`)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(tm.url+"/framework/page/index.html")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	origin, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.origin`))
	if err != nil {
		t.Fatal(err)
	}
	if title != "static" {
		t.Errorf("title of a proxied page = %q; want %q (its script must not run)", title, "static")
	}
	if origin != "null" {
		t.Errorf("origin of a proxied page = %q; want an opaque origin (\"null\"), not the console's", origin)
	}
}
