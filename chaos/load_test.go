//go:build chaos

package chaos

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"corral/internal/apiclient"
)

// The load every scenario runs while its fault happens.
const (
	sleepAppID   = "/chaos/sleep"
	sleepAppSize = 5
	webAppID     = "/chaos/web"
	webAppSize   = 3
	// probeInFlight tasks of the probe run at a time, at most
	// probePerAgent on one agent: every agent has some.
	probeInFlight = 6
	probePerAgent = 2
	// writeEvery is the pace of the writer's creations.
	writeEvery = 700 * time.Millisecond
)

// cronJobs are the jobs due every second, with their concurrency policy.
var cronJobs = []struct{ name, policy string }{
	{"tick-a", "ALLOW"},
	{"tick-b", "ALLOW"},
	{"tick-forbid", "FORBID"},
}

// load is the work a scenario keeps the cluster busy with, and the record
// of what the APIs acknowledged: the apps (with the instances last
// acknowledged) and jobs that must exist after any fault.
//
// The writer goroutine creates a small app and a job every writeEvery,
// alternating between the instances of each framework, so that writes go
// to leaders and through standbys while components fail. Only writes
// answered 2xx are recorded; a write that failed may or may not exist.
type load struct {
	c     *cluster
	probe *probe

	mu        sync.Mutex
	apps      map[string]int  // acknowledged app → instances
	checked   map[string]bool // apps with a health check
	jobs      []string        // acknowledged jobs
	writes    int             // writes attempted by the writer
	acked     int             // of which acknowledged
	refused   int             // of which answered 503 (no leader to serve them)
	writerErr []string        // first few failed writes, for the log

	stopWriter chan struct{}
	writerDone chan struct{}
}

// startLoad creates the apps and jobs, starts the probe, and waits until
// all of it runs: apps deployed (and healthy), every job has run, the
// probe has finished a task.
func startLoad(t *testing.T, c *cluster) *load {
	t.Helper()
	l := &load{c: c, apps: map[string]int{}, checked: map[string]bool{}}
	m := c.marathon()
	for _, a := range []struct {
		def     map[string]any
		checked bool
	}{{sleepApp(sleepAppID, sleepAppSize), false}, {webApp(webAppID, webAppSize), true}} {
		if err := m.createApp(a.def); err != nil {
			t.Fatalf("creating app: %v", err)
		}
		l.apps[a.def["id"].(string)] = a.def["instances"].(int)
		l.checked[a.def["id"].(string)] = a.checked
	}
	j := c.jobsAPI()
	for _, cj := range cronJobs {
		if err := j.create(cronJob(cj.name, cj.policy)); err != nil {
			t.Fatalf("creating job: %v", err)
		}
		l.jobs = append(l.jobs, cj.name)
	}
	p, err := startProbe(c.masterFlag, probeInFlight, probePerAgent)
	if err != nil {
		t.Fatal(err)
	}
	l.probe = p
	t.Cleanup(p.stop) // before the masters go: registered after them

	start := time.Now()
	c.waitFor(120*time.Second, "the load to run (apps deployed and healthy, jobs run, probe tasks finish)", func() bool {
		return len(appProblems(c, l)) == 0 && len(jobsAliveProblems(c, start)) == 0 && p.finishedSince(start)
	})
	return l
}

// addApp creates an app without a health check; the API must
// acknowledge it.
func (l *load) addApp(t *testing.T, def map[string]any) {
	t.Helper()
	id := def["id"].(string)
	if err := l.c.marathon().createApp(def); err != nil {
		t.Fatalf("creating app %s: %v", id, err)
	}
	l.mu.Lock()
	l.apps[id], l.checked[id] = def["instances"].(int), false
	l.mu.Unlock()
}

// acknowledged records that the API acknowledged instances for app id.
func (l *load) acknowledged(id string, instances int) {
	l.mu.Lock()
	l.apps[id] = instances
	l.mu.Unlock()
}

// scale sets an app's instances; the API must acknowledge it.
func (l *load) scale(t *testing.T, id string, instances int) {
	t.Helper()
	if err := l.c.marathon().scale(id, instances); err != nil {
		t.Fatalf("scaling %s to %d: %v", id, instances, err)
	}
	l.acknowledged(id, instances)
}

// startWriter starts the writer goroutine; stopWriterAndWait ends it.
func (l *load) startWriter() {
	l.stopWriter, l.writerDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.writerDone)
		tick := time.NewTicker(writeEvery)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-l.stopWriter:
				return
			case <-tick.C:
			}
			app := fmt.Sprintf("/chaos/w/a%d", n)
			appErr := marathon{l.c.services[n%len(l.c.services)].url}.createApp(sleepApp(app, 1))
			job := fmt.Sprintf("w%d", n)
			jobErr := jobsAPI{l.c.jobs[n%len(l.c.jobs)].url}.create(laterJob(job))
			l.mu.Lock()
			l.writes += 2
			for _, err := range []error{appErr, jobErr} {
				if apiclient.IsStatus(err, 503) {
					l.refused++
				}
			}
			if appErr == nil {
				l.acked++
				l.apps[app], l.checked[app] = 1, false
			} else if len(l.writerErr) < 5 {
				l.writerErr = append(l.writerErr, appErr.Error())
			}
			if jobErr == nil {
				l.acked++
				l.jobs = append(l.jobs, job)
			} else if len(l.writerErr) < 5 {
				l.writerErr = append(l.writerErr, jobErr.Error())
			}
			l.mu.Unlock()
		}
	}()
}

// stopWriterAndWait stops the writer and waits for its last write.
func (l *load) stopWriterAndWait() {
	if l.stopWriter == nil {
		return
	}
	close(l.stopWriter)
	<-l.writerDone
	l.stopWriter = nil
}

// desired returns copies of the acknowledged apps and jobs.
func (l *load) desired() (apps map[string]int, checked map[string]bool, jobs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	apps, checked = map[string]int{}, map[string]bool{}
	for k, v := range l.apps {
		apps[k] = v
	}
	for k, v := range l.checked {
		checked[k] = v
	}
	return apps, checked, append([]string(nil), l.jobs...)
}

// writeStats says how many writes the writer made and how many were
// acknowledged, with the first failures.
func (l *load) writeStats() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("%d of %d writes acknowledged, %d answered 503", l.acked, l.writes, l.refused)
	if len(l.writerErr) > 0 {
		s += fmt.Sprintf("; first failures: %q", l.writerErr)
	}
	return s
}
