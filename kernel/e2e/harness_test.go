package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/detect"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// framework is a test scheduler on kernel/sched: it launches what it is
// told to on matching offers and records every update it receives.
type framework struct {
	t      testing.TB
	client *sched.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	pending  []mesos.TaskInfo // tasks waiting for an offer (agent_id empty = any)
	updates  map[string][]mesos.TaskStatus
	failures []string
	// messages are the executors' messages; execEnds the executors
	// that ended (FAILURE with an executor id), as "agent/executor".
	messages []string
	execEnds []string
	// inverse are the inverse offers received; each is declined for
	// half a second.
	inverse []mesos.InverseOffer
	subs    int
	// launchedAt is when the last ACCEPT carrying tasks was sent.
	launchedAt time.Time
	// fit, when set, launches on an offer only the pending tasks whose
	// cpus and mem fit what it has left; the rest wait for later offers.
	fit     bool
	changed chan struct{}
}

// startFramework subscribes a test framework to the masters that master
// names: a URL list or a zk:// URL (see package detect). opts adjust its
// client's configuration.
func startFramework(t testing.TB, master string, info mesos.FrameworkInfo, opts ...func(*sched.Config)) *framework {
	t.Helper()
	f := &framework{t: t, updates: map[string][]mesos.TaskStatus{}, changed: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	src, err := detect.New(ctx, master, detect.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cfg := sched.Config{
		Detector:        src,
		Framework:       info,
		AutoAcknowledge: true,
		BackoffMax:      time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := sched.New(cfg, sched.HandlerFunc(f.handle), log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	f.client = cl
	f.cancel = cancel
	f.done = make(chan struct{})
	go func() { defer close(f.done); _ = cl.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

func (f *framework) stop() {
	f.cancel()
	<-f.done
}

func (f *framework) notify() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *framework) handle(ctx context.Context, c *sched.Client, ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventSubscribed:
		f.mu.Lock()
		f.subs++
		f.mu.Unlock()
		_ = c.Reconcile(ctx, nil) // implicit: learn the state of every task
	case mesos.EventOffers:
		for _, o := range ev.Offers.Offers {
			f.mu.Lock()
			var launch []mesos.TaskInfo
			var keep []mesos.TaskInfo
			left := scalars(o.Resources)
			for _, ti := range f.pending {
				if f.fit {
					need := scalars(ti.Resources)
					if need["cpus"] > left["cpus"]+1e-9 || need["mem"] > left["mem"]+1e-9 {
						keep = append(keep, ti)
						continue
					}
					left["cpus"] -= need["cpus"]
					left["mem"] -= need["mem"]
				}
				if ti.AgentID.Value == "" || ti.AgentID.Value == o.AgentID.Value {
					ti.AgentID = o.AgentID
					launch = append(launch, ti)
					continue
				}
				keep = append(keep, ti)
			}
			f.pending = keep
			f.mu.Unlock()
			if len(launch) == 0 {
				_ = c.Decline(ctx, []mesos.ID{o.ID}, &mesos.Filters{RefuseSeconds: ptrF(0.05)})
				continue
			}
			f.mu.Lock()
			f.launchedAt = time.Now()
			f.mu.Unlock()
			if err := c.Launch(ctx, []mesos.ID{o.ID}, launch, &mesos.Filters{RefuseSeconds: ptrF(0)}); err != nil {
				f.t.Logf("launch: %v", err)
			}
		}
	case mesos.EventUpdate:
		st := ev.Update.Status
		f.mu.Lock()
		f.updates[st.TaskID.Value] = append(f.updates[st.TaskID.Value], st)
		f.mu.Unlock()
		f.notify()
	case mesos.EventFailure:
		f.mu.Lock()
		switch {
		case ev.Failure.ExecutorID != nil && ev.Failure.AgentID != nil:
			f.execEnds = append(f.execEnds, ev.Failure.AgentID.Value+"/"+ev.Failure.ExecutorID.Value)
		case ev.Failure.AgentID != nil:
			f.failures = append(f.failures, ev.Failure.AgentID.Value)
		}
		f.mu.Unlock()
		f.notify()
	case mesos.EventInverseOffers:
		var ids []mesos.ID
		f.mu.Lock()
		for _, io := range ev.InverseOffers.InverseOffers {
			f.inverse = append(f.inverse, io)
			ids = append(ids, io.ID)
		}
		f.mu.Unlock()
		if err := c.DeclineInverseOffers(ctx, ids, &mesos.Filters{RefuseSeconds: ptrF(0.5)}); err != nil {
			f.t.Logf("decline inverse offers: %v", err)
		}
		f.notify()
	case mesos.EventMessage:
		data, _ := base64.StdEncoding.DecodeString(ev.Message.Data)
		f.mu.Lock()
		f.messages = append(f.messages, ev.Message.ExecutorID.Value+": "+string(data))
		f.mu.Unlock()
		f.notify()
	}
}

func ptrF(v float64) *mesos.Float { x := mesos.Float(v); return &x }

// scalars sums the scalar resources by name.
func scalars(rs []mesos.Resource) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.Scalar != nil {
			out[r.Name] += float64(r.Scalar.Value)
		}
	}
	return out
}

// running counts the tasks whose latest update is TASK_RUNNING.
func (f *framework) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ups := range f.updates {
		if len(ups) > 0 && ups[len(ups)-1].State == mesos.TaskRunning {
			n++
		}
	}
	return n
}

// launch queues tasks; they go out on the next offers that can hold them
// (a task with an agent id waits for that agent's offer).
func (f *framework) launch(tasks ...mesos.TaskInfo) {
	f.mu.Lock()
	f.pending = append(f.pending, tasks...)
	f.mu.Unlock()
	_ = f.client.Revive(context.Background())
}

// waitState waits until the task's latest update is in one of states and
// returns it.
func (f *framework) waitState(id string, d time.Duration, states ...mesos.TaskState) mesos.TaskStatus {
	f.t.Helper()
	deadline := time.After(d)
	for {
		f.mu.Lock()
		ups := f.updates[id]
		f.mu.Unlock()
		if len(ups) > 0 {
			last := ups[len(ups)-1]
			for _, s := range states {
				if last.State == s {
					return last
				}
			}
		}
		select {
		case <-f.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			f.t.Fatalf("task %s: updates %v; want one of %v", id, statesOf(ups), states)
		}
	}
}

func (f *framework) history(id string) []mesos.TaskStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mesos.TaskStatus(nil), f.updates[id]...)
}

func statesOf(ups []mesos.TaskStatus) []string {
	var s []string
	for _, u := range ups {
		s = append(s, string(u.State)+"("+u.Reason+":"+u.Message+")")
	}
	return s
}

// countTerminal counts the reliable (uuid-carrying) terminal updates of a
// task with distinct uuids, and all of them.
func countTerminal(ups []mesos.TaskStatus) (distinct, total int) {
	seen := map[string]bool{}
	for _, u := range ups {
		if u.UUID != "" && u.State.Terminal() {
			total++
			if !seen[u.UUID] {
				seen[u.UUID] = true
				distinct++
			}
		}
	}
	return distinct, total
}

func shellTask(id string, cmd string, cpus, mem float64) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:   id,
		TaskID: mesos.ID{Value: id},
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: mesos.Float(cpus)}},
			{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: mesos.Float(mem)}},
		},
		Command: &mesos.CommandInfo{Value: cmd},
	}
}
