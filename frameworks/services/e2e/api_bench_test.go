package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

// storedApps is how many apps the API benchmarks' framework holds.
const storedApps = 1000

// BenchmarkAPI1000 measures the services API as a user sees it, from
// outside through HTTP, with 1,000 apps stored (0 instances each, so
// nothing launches): GET /v2/apps (the full list) and POST /v2/apps (a
// new 0-instance app), on a plain cluster and on a secured one (TLS,
// credentials, the development ACLs; called as the operator). Requests go
// one after another on one client with keep-alive, as from a CLI session
// or a browser tab; the connection is opened before the timer. Each
// sub-benchmark reports the 50th and 99th percentile of its requests'
// latencies (request sent to answer read) as ms_p50 and ms_p99, and the
// CPU time the framework used per request (ms_cpu_server/op: steadier
// than latencies on a shared machine, at 10 ms resolution over the whole
// run). GET runs
// first (every -count run of it before POST's), so that the list it reads
// holds exactly the stored apps; the apps POST creates stay.
func BenchmarkAPI1000(b *testing.B) {
	for _, m := range securityModes {
		b.Run(m.name, func(b *testing.B) {
			c := testcluster.Start(b, testcluster.Options{Secure: m.secure})
			f := c.StartFramework("services")
			if m.secure {
				requireGuarded(b, c, f.URL)
			}
			seedApps(b, c.HTTP, f.URL, storedApps)
			hc := c.HTTP
			if apps, err := apiclient.NewServices(f.URL, hc).Apps(b.Context()); err != nil || len(apps) != storedApps {
				b.Fatalf("GET /v2/apps after storing %d apps = %d apps, %v", storedApps, len(apps), err)
			}
			b.Run("GET_v2_apps", func(b *testing.B) {
				get := func() error { return call(b.Context(), hc, "GET", f.URL+"/v2/apps", nil, 200) }
				if err := get(); err != nil { // the connection, before the timer
					b.Fatal(err)
				}
				measureLatency(b, get, f.Proc)
			})
			i := 0 // across runs: -count runs POST_v2_apps again on this framework
			b.Run("POST_v2_apps", func(b *testing.B) {
				post := func() error {
					i++
					return call(b.Context(), hc, "POST", f.URL+"/v2/apps", newApp(fmt.Sprintf("/new/app%d", i)), 201)
				}
				if err := post(); err != nil {
					b.Fatal(err)
				}
				measureLatency(b, post, f.Proc)
			})
		})
	}
}

// requireGuarded fails the benchmark unless the secured framework at url
// speaks TLS and refuses a caller without credentials: the secured
// figures must not come from an open server.
func requireGuarded(b *testing.B, c *testcluster.Cluster, url string) {
	b.Helper()
	resp, err := c.Client("").Get(url + "/v2/apps")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != http.StatusUnauthorized {
		b.Fatalf("GET /v2/apps without credentials = %s over TLS %v; want 401 over TLS", resp.Status, resp.TLS != nil)
	}
	resp, err = c.HTTP.Get(url + "/v2/apps")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	b.Logf("secured API: %s as ops = %s", resp.Proto, resp.Status)
}

// newApp is the definition of an app with no instances.
func newApp(id string) []byte {
	def, _ := json.Marshal(map[string]any{"id": id, "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 0})
	return def
}

// seedApps creates n 0-instance apps (/g<i%10>/app<i>) through the API,
// from 8 callers at once.
func seedApps(b *testing.B, hc *http.Client, base string, n int) {
	b.Helper()
	const callers = 8
	ids := make(chan int)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for i := range ids {
				if err := call(b.Context(), hc, "POST", base+"/v2/apps", newApp(fmt.Sprintf("/g%d/app%d", i%10, i)), 201); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	func() {
		defer close(ids)
		for i := range n {
			select {
			case ids <- i:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("storing %d apps: %v", n, err)
	}
}

// call sends method url with body (JSON, or none when nil), reads the
// whole answer and checks its status.
func call(ctx context.Context, hc *http.Client, method, url string, body []byte, want int) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %s %.300s; want %d", method, url, resp.Status, out, want)
	}
	return nil
}

// measureLatency runs do once per b.Loop iteration, timing each, and
// reports the 50th and 99th percentile in ms and server's CPU time per
// call.
func measureLatency(b *testing.B, do func() error, server *testcluster.Proc) {
	var lat []time.Duration
	cpu := server.CPUTime()
	for b.Loop() {
		start := time.Now()
		if err := do(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	cpu = server.CPUTime() - cpu
	slices.Sort(lat)
	b.ReportMetric(ms(cpu)/float64(len(lat)), "ms_cpu_server/op")
	b.ReportMetric(ms(percentile(lat, 0.50)), "ms_p50")
	b.ReportMetric(ms(percentile(lat, 0.99)), "ms_p99")
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
