package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// BenchmarkFetchLaunch20 measures fetching from outside, through the
// scheduler API: 20 tasks each fetching one 64 MB artifact from a
// loopback HTTP server, from one ACCEPT to all TASK_RUNNING on one
// agent, without the fetcher cache and with it (warm after the first
// round); it reports the artifact bytes fetched per second as well.
func BenchmarkFetchLaunch20(b *testing.B) {
	const n, size = 20, 64 << 20
	blob := make([]byte, size)
	_, _ = rand.Read(blob)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob.bin", time.Time{}, bytes.NewReader(blob))
	}))
	b.Cleanup(srv.Close)
	c := testcluster.Start(b, testcluster.Options{Agents: 1,
		Resources: func(int) string { return "cpus:16;mem:16384;disk:100000;ports:[31000-32000]" }})
	f := startFrameworkWith(b, c.URL, plainInfo("fetchbench"), c.Client("services"))
	for _, cache := range []bool{false, true} {
		name := "nocache"
		if cache {
			name = "cache"
		}
		b.Run(name, func(b *testing.B) {
			var sum float64
			round := 0
			for b.Loop() {
				round++
				b.StopTimer()
				tasks := make([]mesos.TaskInfo, n)
				no, useCache := false, cache
				for i := range tasks {
					tasks[i] = shellTask(fmt.Sprintf("f-%s-%d-%d", name, round, i), "exec sleep 600", 0.01, 16)
					tasks[i].Command.URIs = []mesos.CommandURI{{Value: srv.URL + "/blob.bin", Extract: &no, Cache: &useCache}}
				}
				b.StartTimer()
				f.launch(tasks...)
				for _, tk := range tasks {
					f.waitState(tk.TaskID.Value, 300*time.Second, mesos.TaskRunning)
				}
				b.StopTimer()
				f.mu.Lock()
				sent := f.launchedAt
				f.mu.Unlock()
				sum += time.Since(sent).Seconds()
				for _, tk := range tasks {
					_ = f.client.Kill(b.Context(), tk.TaskID.Value, "")
				}
				for _, tk := range tasks {
					f.waitState(tk.TaskID.Value, 120*time.Second, mesos.TaskKilled, mesos.TaskFailed)
				}
				b.StartTimer()
			}
			r := float64(round)
			b.ReportMetric(sum/r, "s_accept_to_all_running")
			b.ReportMetric(float64(n*size)/(1<<20)/(sum/r), "MB/s_fetched")
		})
	}
}
