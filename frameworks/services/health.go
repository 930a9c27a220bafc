package services

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
)

// probeKey names one framework-run check of one task: a health check,
// or with readiness its readiness check.
type probeKey struct {
	taskID    string
	index     int // in the app's healthChecks (or readinessChecks)
	readiness bool
}

// probeResult is one probe's outcome, sent to the loop. A readiness
// probe that got an answer has its status, content type and body.
type probeResult struct {
	key   probeKey
	ok    bool
	cause string
	at    time.Time

	status            int
	contentType, body string
}

// frameworkCheck reports whether the framework runs this check itself.
func frameworkCheck(hc app.HealthCheck) bool {
	switch strings.ToUpper(hc.Protocol) {
	case "HTTP", "HTTPS", "TCP":
		return true
	}
	return false
}

func planCheck(hc app.HealthCheck) plan.HealthCheck {
	return plan.HealthCheck{
		GracePeriod:            time.Duration(hc.GracePeriodSeconds) * time.Second,
		Interval:               time.Duration(hc.IntervalSeconds) * time.Second,
		Timeout:                time.Duration(hc.TimeoutSeconds) * time.Second,
		MaxConsecutiveFailures: hc.MaxConsecutiveFailures,
	}
}

// syncProbers starts a prober for every framework-run check of every
// running instance and stops the ones no longer needed.
func (c *core) syncProbers() {
	want := map[probeKey]bool{}
	for _, in := range c.instances {
		if in.State != mesos.TaskRunning || in.Killing {
			continue
		}
		as := c.apps[in.AppID]
		if as == nil || in.ConfigVersion == "" {
			continue
		}
		// Instances of an older config (mid-upgrade) are probed with the
		// current definition's checks.
		for i, hc := range as.app.HealthChecks {
			if !frameworkCheck(hc) {
				continue
			}
			k := probeKey{taskID: in.TaskID, index: i}
			want[k] = true
			if _, ok := c.probers[k]; ok {
				continue
			}
			port := checkPort(hc, in.Ports)
			ctx, cancel := context.WithCancel(context.Background())
			c.probers[k] = cancel
			go probeLoop(ctx, k, hc, c.probeHost(in), port, c.s.probes)
		}
		if wantsReadinessCheck(in, as) {
			k := probeKey{taskID: in.TaskID, readiness: true}
			want[k] = true
			if _, ok := c.probers[k]; !ok {
				rc := as.app.ReadinessChecks[0]
				var port uint64
				if i, ok := as.app.PortIndex(rc.PortName); ok && i < len(in.Ports) {
					port = in.Ports[i]
				}
				ctx, cancel := context.WithCancel(context.Background())
				c.probers[k] = cancel
				go readinessLoop(ctx, k, rc, c.probeHost(in), port, c.s.probes)
			}
		}
	}
	for k, cancel := range c.probers {
		if !want[k] {
			cancel()
			delete(c.probers, k)
		}
	}
}

// probeHost is the address framework-run checks of in probe.
func (c *core) probeHost(in *instance) string {
	if in.ProbeHost != "" {
		return in.ProbeHost
	}
	return in.Host
}

func (c *core) stopProbersOf(taskID string) {
	for k, cancel := range c.probers {
		if k.taskID == taskID {
			cancel()
			delete(c.probers, k)
		}
	}
}

func (c *core) stopProbers() {
	for k, cancel := range c.probers {
		cancel()
		delete(c.probers, k)
	}
}

// probed folds a probe result into the instance's health; a task that
// fails too often is killed (and replaced by the planner).
func (c *core) probed(r probeResult) {
	if r.key.readiness {
		c.readied(r)
		return
	}
	in := c.instances[r.key.taskID]
	if in == nil || in.Killing {
		return
	}
	as := c.apps[in.AppID]
	if as == nil || r.key.index >= len(as.app.HealthChecks) {
		return
	}
	hc := as.app.HealthChecks[r.key.index]
	for len(in.Checks) < len(as.app.HealthChecks) {
		in.Checks = append(in.Checks, nil)
	}
	prev := plan.Health{}
	if in.Checks[r.key.index] != nil {
		prev = *in.Checks[r.key.index]
	}
	next, kill := prev.Observe(planCheck(hc), in.StartedAt, r.at, r.ok, r.cause)
	in.Checks[r.key.index] = &next
	wasHealthy := in.Healthy
	in.Healthy = c.combinedHealth(in, as)
	c.dirty[in.TaskID] = true
	if in.ready(true) {
		in.EverReady = true
	}
	if !r.ok {
		c.s.bus.Publish("failed_health_check_event", map[string]any{"appId": in.AppID, "taskId": in.TaskID, "instanceId": in.TaskID, "healthCheck": hc, "cause": r.cause})
	}
	if (wasHealthy == nil) != (in.Healthy == nil) || (wasHealthy != nil && in.Healthy != nil && *wasHealthy != *in.Healthy) {
		alive := in.Healthy != nil && *in.Healthy
		c.s.bus.Publish("health_status_changed_event", map[string]any{"appId": in.AppID, "taskId": in.TaskID, "instanceId": in.TaskID, "version": in.Version, "alive": alive})
	}
	if kill {
		c.s.bus.Publish("unhealthy_instance_kill_event", map[string]any{"appId": in.AppID, "taskId": in.TaskID, "instanceId": in.TaskID, "version": in.Version, "reason": r.cause, "host": in.Host, "slaveId": in.AgentID})
		why := "killed after " + strconv.Itoa(next.ConsecutiveFailures) + " failed health checks: " + r.cause
		c.kill(in, why)
		c.newInstanceFailed(in, why, r.at)
		// A health kill feeds the backoff like a failure.
		as.backoff = as.backoff.Failed(r.at)
		c.persistDelay(in.AppID)
		as.lastFailure = &taskFailure{AppID: in.AppID, Host: in.Host, Message: "unhealthy: " + r.cause, State: "TASK_KILLED", TaskID: in.TaskID,
			Timestamp: r.at.UTC().Format(timeLayout), Version: in.Version, SlaveID: in.AgentID}
	}
}

// combinedHealth is healthy when every check known so far is alive, nil
// while no check has an opinion yet.
func (c *core) combinedHealth(in *instance, as *appState) *bool {
	known, alive := false, true
	for i, hc := range as.app.HealthChecks {
		if !frameworkCheck(hc) {
			continue
		}
		if i < len(in.Checks) && in.Checks[i] != nil && in.Checks[i].Known {
			known = true
			alive = alive && in.Checks[i].Alive
		} else {
			alive = false
		}
	}
	if c.hasAgentCheck(in.AppID) {
		if in.Healthy == nil {
			return nil
		}
	}
	if !known {
		return nil
	}
	return &alive
}

// probeLoop probes one check every interval until ctx is done.
func probeLoop(ctx context.Context, k probeKey, hc app.HealthCheck, host string, port uint64, out chan<- probeResult) {
	interval := time.Duration(hc.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = time.Second
	}
	timeout := time.Duration(hc.TimeoutSeconds) * time.Second
	if timeout <= 0 || timeout > interval {
		timeout = interval
	}
	client := probeClient(timeout)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, cause := probe(ctx, client, hc, host, port, timeout)
		select {
		case out <- probeResult{key: k, ok: ok, cause: cause, at: time.Now()}:
		case <-ctx.Done():
			return
		}
		t.Reset(interval)
	}
}

// probeClient is the HTTP client of one task's check: no redirects
// followed, no connection kept, and the task's certificate not verified.
func probeClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // checks probe the task, not a trusted peer
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probe runs one HTTP(S) or TCP check.
func probe(ctx context.Context, client *http.Client, hc app.HealthCheck, host string, port uint64, timeout time.Duration) (bool, string) {
	if port == 0 {
		return false, "no port to probe"
	}
	addr := net.JoinHostPort(host, strconv.FormatUint(port, 10))
	switch strings.ToUpper(hc.Protocol) {
	case "TCP":
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	default:
		scheme := "http"
		if strings.ToUpper(hc.Protocol) == "HTTPS" {
			scheme = "https"
		}
		path := hc.Path
		if path == "" {
			path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+path, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		code := resp.StatusCode
		if code >= 200 && code < 400 || (hc.IgnoreHTTP1xx && code < 200) {
			return true, ""
		}
		return false, fmt.Sprintf("HTTP %d from %s", code, req.URL)
	}
}
