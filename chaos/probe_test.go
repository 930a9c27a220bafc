//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"corral/kernel/detect"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// probeName is the probe framework's name in the kernel.
const probeName = "chaos-probe"

// Probe task shape: a second of sleep, small enough to fit anywhere.
const (
	probeCmd  = "sleep 1"
	probeCPUs = 0.02
	probeMem  = 8
)

// probe is an in-process framework on kernel/sched that keeps a few short
// tasks in flight at all times and records every status update it
// receives, so that the suite can tell whether each task it launched got
// exactly one terminal update.
//
// It subscribes through the masters' ZooKeeper election like corral's own
// frameworks, is partition-aware, and reconciles explicitly: at every
// (re-)subscription and for tasks it has not heard of for a while. One
// goroutine (run) owns launching and reconciling; the SDK's goroutine
// calls handle. Both share the task table under mu.
type probe struct {
	client *sched.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	inFlight  int  // tasks kept running at once while launching
	perAgent  int  // of which at most this many on one agent
	launching bool // false once stopLaunching was called
	seq       int
	tasks     map[string]*probeTask
	pending   []*probeTask // waiting for an offer
	subs      int          // SUBSCRIBED events received
}

// probeTask is one task the probe created, and what it heard of it.
type probeTask struct {
	id        string
	created   time.Time
	launched  time.Time // when an ACCEPT carried it; zero while pending
	launchErr error     // the ACCEPT call failed: it may never have reached the master
	agentID   string    // the offer's agent
	updates   []mesos.TaskStatus
	heard     time.Time // when the last update came
}

// startProbe subscribes the probe through masterFlag (a zk:// URL or a
// master list) and starts launching: inFlight tasks at a time, perAgent
// at most on one agent. It stops when stop is called.
func startProbe(masterFlag string, inFlight, perAgent int) (*probe, error) {
	p := &probe{inFlight: inFlight, perAgent: perAgent, launching: true, tasks: map[string]*probeTask{}}
	ctx, cancel := context.WithCancel(context.Background())
	// The cluster speaks TLS; the probe calls as the operator.
	src, err := detect.New(ctx, masterFlag, detect.Options{Scheme: "https"})
	if err != nil {
		cancel()
		return nil, err
	}
	ft := mesos.Float(3600)
	cl, err := sched.New(sched.Config{
		Detector: src,
		Framework: mesos.FrameworkInfo{User: "nobody", Name: probeName, FailoverTimeout: &ft,
			Capabilities: []mesos.Capability{{Type: mesos.CapPartitionAware}}},
		AutoAcknowledge: true,
		BackoffMax:      time.Second,
		HTTPClient:      &http.Client{Transport: httpClient.Transport},
	}, sched.HandlerFunc(p.handle), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		return nil, err
	}
	p.client, p.cancel = cl, cancel
	p.wg.Go(func() { _ = cl.Run(ctx) })
	p.wg.Go(func() { p.run(ctx) })
	return p, nil
}

// stop ends the probe's subscription and goroutines. Its tasks stay
// recorded.
func (p *probe) stop() {
	p.cancel()
	p.wg.Wait()
}

// stopLaunching makes the probe launch nothing more; tasks already created
// (pending ones included) are still launched and followed.
func (p *probe) stopLaunching() {
	p.mu.Lock()
	p.launching = false
	p.mu.Unlock()
}

// run tops up the tasks in flight and reconciles the silent ones.
func (p *probe) run(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastReconcile := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		p.mu.Lock()
		active := 0
		for _, t := range p.tasks {
			if !t.settled() {
				active++
			}
		}
		added := 0
		for p.launching && active+added < p.inFlight {
			p.seq++
			t := &probeTask{id: fmt.Sprintf("probe-%d", p.seq), created: now}
			p.tasks[t.id] = t
			p.pending = append(p.pending, t)
			added++
		}
		var silent []mesos.ReconcileTask
		if now.Sub(lastReconcile) > 3*time.Second {
			lastReconcile = now
			silent = p.unsettledLocked(now, 3*time.Second)
		}
		p.mu.Unlock()
		if added > 0 {
			_ = p.client.Revive(ctx)
		}
		if len(silent) > 0 {
			_ = p.client.Reconcile(ctx, silent)
		}
	}
}

// unsettledLocked lists the launched tasks without a final state that
// have been silent for quiet, for explicit reconciliation.
func (p *probe) unsettledLocked(now time.Time, quiet time.Duration) []mesos.ReconcileTask {
	var out []mesos.ReconcileTask
	for _, t := range p.tasks {
		if t.launched.IsZero() || t.settled() {
			continue
		}
		last := t.launched
		if t.heard.After(last) {
			last = t.heard
		}
		if now.Sub(last) < quiet {
			continue
		}
		rt := mesos.ReconcileTask{TaskID: mesos.ID{Value: t.id}}
		if t.agentID != "" {
			rt.AgentID = &mesos.ID{Value: t.agentID}
		}
		out = append(out, rt)
	}
	return out
}

func (p *probe) handle(ctx context.Context, c *sched.Client, ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventSubscribed:
		p.mu.Lock()
		p.subs++
		tasks := p.unsettledLocked(time.Now(), 0)
		p.mu.Unlock()
		_ = c.Reconcile(ctx, nil)
		if len(tasks) > 0 {
			_ = c.Reconcile(ctx, tasks)
		}
	case mesos.EventOffers:
		for _, o := range ev.Offers.Offers {
			p.offer(ctx, c, o)
		}
	case mesos.EventUpdate:
		st := ev.Update.Status
		p.mu.Lock()
		if t := p.tasks[st.TaskID.Value]; t != nil {
			t.updates = append(t.updates, st)
			t.heard = time.Now()
		}
		p.mu.Unlock()
	}
}

// offer launches as many pending tasks as fit in o, or declines it.
func (p *probe) offer(ctx context.Context, c *sched.Client, o mesos.Offer) {
	cpus, mem := 0.0, 0.0
	for _, r := range o.Resources {
		if r.Scalar == nil {
			continue
		}
		switch r.Name {
		case "cpus":
			cpus += float64(r.Scalar.Value)
		case "mem":
			mem += float64(r.Scalar.Value)
		}
	}
	p.mu.Lock()
	// Spread the tasks: at most perAgent in flight on one agent, so that
	// a fault on any agent hits some.
	here := 0
	for _, t := range p.tasks {
		if t.agentID == o.AgentID.Value && !t.settled() {
			here++
		}
	}
	var launch []*probeTask
	for len(p.pending) > 0 && here+len(launch) < p.perAgent && cpus >= probeCPUs && mem >= probeMem {
		launch = append(launch, p.pending[0])
		p.pending = p.pending[1:]
		cpus -= probeCPUs
		mem -= probeMem
	}
	now := time.Now()
	infos := make([]mesos.TaskInfo, 0, len(launch))
	for _, t := range launch {
		t.launched, t.agentID = now, o.AgentID.Value
		infos = append(infos, mesos.TaskInfo{
			Name: t.id, TaskID: mesos.ID{Value: t.id}, AgentID: o.AgentID,
			Resources: []mesos.Resource{
				{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: mesos.Float(probeCPUs)}},
				{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: mesos.Float(probeMem)}},
			},
			Command: &mesos.CommandInfo{Value: probeCmd},
		})
	}
	p.mu.Unlock()
	if len(launch) == 0 {
		refuse := mesos.Float(1)
		_ = c.Decline(ctx, []mesos.ID{o.ID}, &mesos.Filters{RefuseSeconds: &refuse})
		return
	}
	refuse := mesos.Float(0)
	if err := c.Launch(ctx, []mesos.ID{o.ID}, infos, &mesos.Filters{RefuseSeconds: &refuse}); err != nil {
		p.mu.Lock()
		for _, t := range launch {
			t.launchErr = err
		}
		p.mu.Unlock()
	}
}

// settled reports whether the task has a terminal state (from any
// update). Callers hold the probe's mu.
func (t *probeTask) settled() bool {
	for _, u := range t.updates {
		if u.State.Terminal() {
			return true
		}
	}
	return false
}

// finishedSince reports whether some task launched after since has
// finished: the probe works again.
func (p *probe) finishedSince(since time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tasks {
		if t.launched.After(since) {
			for _, u := range t.updates {
				if u.State == mesos.TaskFinished {
					return true
				}
			}
		}
	}
	return false
}

// runningOn reports whether a probe task runs on the agent now.
func (p *probe) runningOn(agentID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tasks {
		if n := len(t.updates); t.agentID == agentID && n > 0 && t.updates[n-1].State == mesos.TaskRunning {
			return true
		}
	}
	return false
}

// snapshot returns copies of every task, by creation order.
func (p *probe) snapshot() []probeTask {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]probeTask, 0, len(p.tasks))
	for _, t := range p.tasks {
		c := *t
		c.updates = append([]mesos.TaskStatus(nil), t.updates...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

// subscriptions is how many SUBSCRIBED events the probe got.
func (p *probe) subscriptions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subs
}

// history renders a task's updates for messages: STATE(source,reason)
// with a * on reliable (uuid-carrying) ones.
func (t probeTask) history() string {
	var b strings.Builder
	for i, u := range t.updates {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(strings.TrimPrefix(string(u.State), "TASK_"))
		if u.UUID != "" {
			b.WriteString("*")
		}
		if u.Reason != "" || u.Source != "" {
			fmt.Fprintf(&b, "(%s,%s)", strings.TrimPrefix(u.Source, "SOURCE_"), strings.TrimPrefix(u.Reason, "REASON_"))
		}
	}
	return b.String()
}
