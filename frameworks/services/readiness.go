package services

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"corral/frameworks/services/app"
	"corral/kernel/mesos"
)

// Readiness checks (Marathon's readinessChecks) run in the framework like
// its HTTP health checks, on the same probers (see health.go): an
// instance of the app's current configuration is checked once it runs
// and, if the app has health checks, is healthy; it is ready at the first
// answer whose status is one of httpStatusCodesForReady, and then no
// longer checked. Until then the planner does not count it as ready
// (plan.Spec.ReadinessChecked): old instances stay, and the deployment
// makes no progress.

// readiness is the outcome of an instance's readiness check so far; it is
// stored with the instance.
type readiness struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	// LastResponse is the last answer, kept when the check asks for it
	// (preserveLastResponse).
	LastResponse *httpResponse `json:"lastResponse,omitempty"`
	// Cause says why the last check did not pass: the status it got, or
	// why it got none.
	Cause string    `json:"cause,omitempty"`
	At    time.Time `json:"at"`
}

// httpResponse is Marathon's HttpResponse of a readiness check result.
type httpResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// maxReadinessBody bounds the body kept of a readiness check's answer.
const maxReadinessBody = 16 << 10

// wantsReadinessCheck reports whether in is to be readiness-checked now
// under its app as: of the app's current configuration, running, not
// being killed, healthy when the app has health checks, and not ready yet.
func wantsReadinessCheck(in *instance, as *appState) bool {
	if len(as.app.ReadinessChecks) == 0 || in.ConfigVersion != configVersion(as.app) {
		return false
	}
	if in.State != mesos.TaskRunning || in.Killing || (in.Readiness != nil && in.Readiness.Ready) {
		return false
	}
	return len(as.app.HealthChecks) == 0 || (in.Healthy != nil && *in.Healthy)
}

// readied folds a readiness probe's result into its instance.
func (c *core) readied(r probeResult) {
	in := c.instances[r.key.taskID]
	if in == nil {
		return
	}
	as := c.apps[in.AppID]
	if as == nil || !wantsReadinessCheck(in, as) {
		return
	}
	rc := as.app.ReadinessChecks[0]
	next := &readiness{Name: rc.Name, At: r.at, Cause: r.cause}
	if r.status > 0 {
		next.Ready = slices.Contains(rc.HTTPStatusCodesForReady, r.status)
		if !next.Ready {
			next.Cause = fmt.Sprintf("answered %d, not one of %v", r.status, rc.HTTPStatusCodesForReady)
		}
		if rc.PreserveLastResponse {
			next.LastResponse = &httpResponse{Status: r.status, ContentType: r.contentType, Body: r.body}
		}
	}
	// What is stored is whether it is ready; the answers before are
	// shown while they are fresh, and a restart checks again.
	if in.Readiness == nil || in.Readiness.Ready != next.Ready {
		c.dirty[in.TaskID] = true
	}
	in.Readiness = next
	if next.Ready {
		c.s.log.Info("instance ready", "app", in.AppID, "task", in.TaskID, "check", rc.Name)
	}
}

// readinessResults are an app's readinessCheckResults: one per instance of
// its current configuration that was checked, in Marathon's shape.
func (c *core) readinessResults(as *appState) []map[string]any {
	out := []map[string]any{}
	cv := configVersion(as.app)
	for _, tid := range sortedKeys(c.byApp[as.app.ID]) {
		in := c.byApp[as.app.ID][tid]
		if in.Readiness == nil || in.ConfigVersion != cv {
			continue
		}
		r := map[string]any{"name": in.Readiness.Name, "taskId": in.TaskID, "ready": in.Readiness.Ready}
		if in.Readiness.LastResponse != nil {
			r["lastResponse"] = in.Readiness.LastResponse
		}
		out = append(out, r)
	}
	return out
}

// readinessLoop runs one readiness check every interval until ctx is
// done, sending each outcome to out.
func readinessLoop(ctx context.Context, k probeKey, rc app.ReadinessCheck, host string, port uint64, out chan<- probeResult) {
	interval := time.Duration(rc.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = time.Second
	}
	timeout := min(time.Duration(rc.TimeoutSeconds)*time.Second, interval)
	if timeout <= 0 {
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
		r := readinessProbe(ctx, client, rc, host, port)
		r.key, r.at = k, time.Now()
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		t.Reset(interval)
	}
}

// readinessProbe GETs the check's path once: the answer's status, content
// type and (the start of) its body, or the cause of getting none.
func readinessProbe(ctx context.Context, client *http.Client, rc app.ReadinessCheck, host string, port uint64) probeResult {
	if port == 0 {
		return probeResult{cause: fmt.Sprintf("no port named %q to check", rc.PortName)}
	}
	scheme := "http"
	if rc.Protocol == app.ProtocolHTTPS {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.FormatUint(port, 10)) + rc.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return probeResult{cause: err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return probeResult{cause: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReadinessBody))
	return probeResult{ok: true, status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(body)}
}
