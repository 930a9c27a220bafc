package services

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"corral/kernel/mesos"
)

// snapshotMetrics counts what /metrics reports. Runs on the loop.
func (c *core) snapshotMetrics() map[string]float64 {
	m := map[string]float64{
		"apps":                0,
		"deployments":         float64(len(c.deployments)),
		"instances":           float64(len(c.instances)),
		"instances_healthy":   0,
		"instances_unhealthy": 0,
		"apps_waiting":        0,
		"apps_delayed":        0,
		"connected":           0,
		"uptime_seconds":      time.Since(c.s.started).Seconds(),
	}
	if c.subscribed {
		m["connected"] = 1
	}
	now := time.Now()
	for _, as := range c.apps {
		if !as.deleting {
			m["apps"]++
		}
		if as.decision.Launch > 0 {
			m["apps_waiting"]++
			if now.Before(as.backoff.ReadyAt(specOf(as.app, as.deleting))) {
				m["apps_delayed"]++
			}
		}
	}
	for _, in := range c.instances {
		m["instances_state_"+string(in.State)]++
		if in.Healthy != nil {
			if *in.Healthy {
				m["instances_healthy"]++
			} else {
				m["instances_unhealthy"]++
			}
		}
	}
	for _, st := range []mesos.TaskState{mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling, mesos.TaskUnreachable} {
		if _, ok := m["instances_state_"+string(st)]; !ok {
			m["instances_state_"+string(st)] = 0
		}
	}
	return m
}

func (s *Service) metrics(r *http.Request) (map[string]float64, error) {
	var m map[string]float64
	err := s.do(r.Context(), func(c *core) { m = c.snapshotMetrics() })
	if err != nil {
		return nil, err
	}
	for k, v := range s.callbacks.counts() {
		m[k] = v
	}
	return m, nil
}

// metricsJSON serves Marathon's Dropwizard-style JSON.
func (s *Service) metricsJSON(w http.ResponseWriter, r *http.Request) {
	m, err := s.metrics(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	gauges := map[string]any{}
	for k, v := range m {
		gauges["services."+k] = map[string]float64{"value": v}
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": "4.0.0", "gauges": gauges, "counters": map[string]any{}, "histograms": map[string]any{}, "meters": map[string]any{}, "timers": map[string]any{}})
}

// metricsProm serves the same figures in the Prometheus text format.
func (s *Service) metricsProm(w http.ResponseWriter, r *http.Request) {
	m, err := s.metrics(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_, _ = io.WriteString(w, fmt.Sprintf("# TYPE corral_services_%s gauge\ncorral_services_%s %g\n", k, k, m[k]))
	}
}
