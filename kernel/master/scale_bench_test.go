package master

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"corral/kernel/internal/agentproto"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// The master at scale: one in-process master whose core holds a cluster
// of agents, each running tasksPerAgent tasks spread over scaleFrameworks
// frameworks. Agents and frameworks are registered and subscribed through
// the core's own calls on the master's loop, exactly as the agent and
// scheduler APIs do it, with their streams' queues read in this process
// instead of by HTTP clients; what the benchmarks time goes through the
// master's real HTTP handler (GET /state, the operator API, agents'
// UPDATE calls, schedulers' ACKNOWLEDGE calls) or its real loop (the
// allocation cycle). The heap the cluster adds to the master is measured
// too, since nothing else in the process holds any of it.
//
// Sizes: 1,000, 2,000 and 5,000 agents run by default; 10,000 (100,000
// tasks) only with CORRAL_BENCH_SCALE_MAX=10000 or more, since it needs a
// few GiB and minutes:
//
//	CORRAL_BENCH_SCALE_MAX=10000 go test -run '^$' -bench BenchmarkScale -benchtime 5x ./kernel/master/
const (
	scaleFrameworks = 20
	tasksPerAgent   = 10
	envScaleMax     = "CORRAL_BENCH_SCALE_MAX"
	// stormUpdates is how many status updates one storm round sends.
	stormUpdates = 10000
)

var scaleSizes = []int{1000, 2000, 5000, 10000}

func scaleMax(b *testing.B) int {
	s := os.Getenv(envScaleMax)
	if s == "" {
		return 5000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", envScaleMax, s)
	}
	return n
}

// BenchmarkScale measures, per cluster size: GET /state (and how long
// its read holds the master's loop) and the operator
// API's GET_STATE (ms per answer, whole body read by an HTTP client), one
// allocation cycle of the master's loop over every agent with every
// framework declining everything (the allocator's decisions, building the
// offers, encoding and queueing them), a storm of status updates (agents'
// UPDATE calls, each forwarded, acknowledged by its framework and the
// acknowledgement queued back to the agent), and the heap the cluster
// costs the master.
func BenchmarkScale(b *testing.B) {
	maxAgents := scaleMax(b)
	for _, n := range scaleSizes {
		if n > maxAgents {
			continue
		}
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			sc := newScaleCluster(b, n, n*tasksPerAgent)
			b.Run("memory", sc.memory)
			b.Run("state", func(b *testing.B) { sc.benchGet(b, "/state") })
			b.Run("state_loop", sc.benchStateLoop)
			b.Run("master_state", func(b *testing.B) { sc.benchGet(b, "/master/state") })
			b.Run("get_state", func(b *testing.B) { sc.benchGetState(b) })
			b.Run("cycle", func(b *testing.B) { sc.benchCycle(b) })
			b.Run("storm", func(b *testing.B) { sc.benchStorm(b) })
		})
	}
}

// scaleCluster is a master with a simulated cluster in its core.
type scaleCluster struct {
	m      *Master
	srv    *httptest.Server
	client *http.Client
	agents []*scaleAgent
	fws    []*scaleFramework
	// acks counts ACKNOWLEDGE events queued to agents.
	acks atomic.Int64
	// peak is the longest framework queue seen (records).
	peak atomic.Int64
	// memory reports what the cluster costs the master (heap, RSS).
	memory func(b *testing.B)
}

type scaleAgent struct {
	id, conn string
	q        *queue
	tasks    []agentproto.Task
}

type scaleFramework struct {
	id, stream string
	q          *queue
	mu         sync.Mutex
	offers     []string // outstanding offer ids, from OFFERS events
	offersSeen atomic.Int64
	acks       chan mesos.Call
}

func newScaleCluster(b *testing.B, agents, tasks int) *scaleCluster {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := DefaultConfig()
	cfg.DB = "postgres://unused"
	cfg.Listen = "127.0.0.1:0"
	cfg.Advertise = "http://127.0.0.1:5050"
	// Allocation is driven by the benchmark; heartbeats never run out.
	cfg.AllocationInterval = time.Hour
	cfg.AgentPingInterval = time.Hour
	cfg.FrameworkHeartbeatInterval = time.Hour
	cfg.OfferTimeout = 0
	m, err := New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	rss0 := readRSS()

	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		defer close(m.stopped)
		m.loop(ctx)
	}()
	m.recovered.Store(true)
	close(m.ready)

	sc := &scaleCluster{m: m}
	sc.srv = httptest.NewServer(m.routes())
	sc.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		<-loopDone
		sc.srv.Close()
		wg.Wait()
	})

	res, err := resource.Parse("cpus:16;mem:65536;disk:100000;ports:[31000-32000]")
	if err != nil {
		b.Fatal(err)
	}
	taskRes, _ := resource.Parse("cpus:0.1;mem:32")
	attrs, _ := resource.ParseAttributes("rack:r1;zone:z1")
	fwInfos := make([]mesos.FrameworkInfo, scaleFrameworks)
	for i := range fwInfos {
		ft := mesos.Float(3600)
		fwInfos[i] = mesos.FrameworkInfo{ID: &mesos.ID{Value: fmt.Sprintf("fw-%02d", i)}, Name: fmt.Sprintf("bench-%02d", i),
			User: "nobody", FailoverTimeout: &ft, Capabilities: []mesos.Capability{{Type: mesos.CapPartitionAware}}}
	}
	now := time.Now()
	ts := mesos.Float(float64(now.UnixNano()) / 1e9)
	perAgent := (tasks + agents - 1) / agents
	n := 0
	for i := range agents {
		host := fmt.Sprintf("sim%d.agents.test", i)
		a := &scaleAgent{}
		reg := &agentproto.Register{Info: agentproto.AgentInfo{Hostname: host, Endpoint: "http://" + host + ":5051",
			Resources: res.Wire(""), Attributes: attrs, Cgroups: agentproto.CgroupsNone, Version: "bench", WorkDir: "/var/lib/corral"}}
		for j := 0; j < perAgent && n < tasks; j++ {
			fw := &fwInfos[n%scaleFrameworks]
			id := fmt.Sprintf("task-%d-%d", i, j)
			reg.Tasks = append(reg.Tasks, agentproto.Task{FrameworkID: fw.ID.Value, FrameworkInfo: fw,
				TaskInfo: mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, Resources: taskRes.Wire("*"),
					Command: &mesos.CommandInfo{Value: "sleep 3600"},
					Labels:  &mesos.Labels{Labels: []mesos.Label{{Key: "app", Value: fw.Name}}}},
				State:  mesos.TaskRunning,
				Status: &mesos.TaskStatus{TaskID: mesos.ID{Value: id}, State: mesos.TaskRunning, Source: mesos.SourceExecutor, Timestamp: ts}})
			n++
		}
		a.tasks = reg.Tasks
		sc.agents = append(sc.agents, a)
		a.q = newQueue()
		if err := m.do(ctx, func(c *core.Core) {
			id, _, refuse := c.RegisterCheck("", reg)
			if refuse != nil {
				b.Error(refuse)
				return
			}
			a.id, a.conn = id, uuid.NewString()
			m.agentConns[a.conn] = a.q
			m.apply(c.Register(a.id, reg, a.conn, now))
		}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range fwInfos {
		f := &scaleFramework{id: fwInfos[i].ID.Value, stream: uuid.NewString(), q: newQueue(), acks: make(chan mesos.Call, 4096)}
		sc.fws = append(sc.fws, f)
		call := &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: fwInfos[i]}}
		if err := m.do(ctx, func(c *core.Core) {
			m.fwStreams[f.stream] = f.q
			_, refusal, fx := c.Subscribe(call, f.stream, now)
			if refusal != "" {
				b.Error(refusal)
			}
			m.apply(fx)
		}); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { sc.readFramework(ctx, f) })
		for range 8 {
			wg.Go(func() { sc.acknowledge(ctx, f) })
		}
	}
	wg.Go(func() { sc.readAgents(ctx) })

	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	heap := float64(ms1.HeapInuse) - float64(ms0.HeapInuse)
	rss := readRSS()
	sc.memory = func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(heap/(1<<20), "heap_MB")
		b.ReportMetric(heap/1024/float64(agents), "heap_KB/agent")
		b.ReportMetric(heap/1024/float64(tasks), "heap_KB/task")
		b.ReportMetric(float64(rss)/(1<<20), "rss_MB")
		b.ReportMetric(float64(rss-rss0)/1024/float64(agents), "rss_KB/agent")
		b.ReportMetric(float64(rss-rss0)/1024/float64(tasks), "rss_KB/task")
	}
	return sc
}

// readRSS is this process's resident set (bytes), from /proc; 0 where
// there is none.
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// readFramework is a framework's stream reader: it keeps the ids of the
// offers it gets and hands every update with a uuid to the acknowledgers.
func (sc *scaleCluster) readFramework(ctx context.Context, f *scaleFramework) {
	for {
		items, closed := f.q.take()
		if n := int64(len(items)); n > sc.peak.Load() {
			sc.peak.Store(n)
		}
		for _, raw := range items {
			var ev mesos.Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				continue
			}
			switch ev.Type {
			case mesos.EventOffers:
				f.mu.Lock()
				for _, o := range ev.Offers.Offers {
					f.offers = append(f.offers, o.ID.Value)
				}
				f.mu.Unlock()
				f.offersSeen.Add(int64(len(ev.Offers.Offers)))
			case mesos.EventUpdate:
				st := ev.Update.Status
				if st.UUID == "" {
					continue
				}
				select {
				case f.acks <- mesos.Call{FrameworkID: &mesos.ID{Value: f.id}, Type: mesos.CallAcknowledge,
					Acknowledge: &mesos.Acknowledge{AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}}:
				case <-ctx.Done():
					return
				}
			}
		}
		if closed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-f.q.notify:
		}
	}
}

// acknowledge sends the framework's ACKNOWLEDGE calls over HTTP, as a
// scheduler does.
func (sc *scaleCluster) acknowledge(ctx context.Context, f *scaleFramework) {
	for {
		select {
		case <-ctx.Done():
			return
		case call := <-f.acks:
			body, _ := json.Marshal(call)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sc.srv.URL+"/api/v1/scheduler", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Mesos-Stream-Id", f.stream)
			resp, err := sc.client.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// readAgents empties every agent's queue, counting acknowledgements.
func (sc *scaleCluster) readAgents(ctx context.Context) {
	marker := []byte(`"type":"` + string(agentproto.EventAcknowledge) + `"`)
	for {
		for _, a := range sc.agents {
			items, _ := a.q.take()
			for _, raw := range items {
				if bytes.Contains(raw, marker) {
					sc.acks.Add(1)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// benchGet times GET path, body read in full.
func (sc *scaleCluster) benchGet(b *testing.B, path string) {
	var size int64
	cpu0 := cpuTime()
	for b.Loop() {
		resp, err := sc.client.Get(sc.srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		size, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu_ms/op")
	b.ReportMetric(float64(size)/(1<<20), "body_MB")
}

// benchStateLoop times what GET /state holds the master's loop for: the
// read its handler does there (loop_ms), and for comparison the whole
// snapshot built there (snapshot_ms).
func (sc *scaleCluster) benchStateLoop(b *testing.B) {
	var loop, whole time.Duration
	for b.Loop() {
		if err := sc.m.do(b.Context(), func(c *core.Core) {
			start := time.Now()
			var read stateRead
			read.take(c)
			loop += time.Since(start)
			start = time.Now()
			_, _ = c.Snapshot(start), c.TaskDiscovery()
			whole += time.Since(start)
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(loop.Microseconds())/1000/float64(b.N), "loop_ms")
	b.ReportMetric(float64(whole.Microseconds())/1000/float64(b.N), "snapshot_ms")
}

// cpuTime is the CPU time this process has used (user and system), all
// goroutines together: on a shared machine a steadier figure than the
// wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGetState times the operator API's GET_STATE in JSON.
func (sc *scaleCluster) benchGetState(b *testing.B) {
	var size int64
	cpu0 := cpuTime()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, sc.srv.URL+"/api/v1", strings.NewReader(`{"type":"GET_STATE"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := sc.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET_STATE: %s", resp.Status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu_ms/op")
	b.ReportMetric(float64(size)/(1<<20), "body_MB")
}

// benchCycle times the loop's allocation cycle over every agent, with
// the frameworks holding no offers: before each cycle they decline every
// offer they got, with no filter, in the same turn of the loop (so that
// the loop's own allocation of the agents the declines freed does not
// run first); the declines are not timed.
func (sc *scaleCluster) benchCycle(b *testing.B) {
	ctx := b.Context()
	var offers int
	var total time.Duration
	runs := 0
	zero := mesos.Float(0)
	for b.Loop() {
		b.StopTimer()
		sc.settle()
		var declines []*mesos.Call
		var streams []string
		for _, f := range sc.fws {
			f.mu.Lock()
			ids := f.offers
			f.offers = nil
			f.mu.Unlock()
			if len(ids) == 0 {
				continue
			}
			call := &mesos.Call{FrameworkID: &mesos.ID{Value: f.id}, Type: mesos.CallDecline,
				Decline: &mesos.Decline{Filters: &mesos.Filters{RefuseSeconds: &zero}}}
			for _, id := range ids {
				call.Decline.OfferIDs = append(call.Decline.OfferIDs, mesos.ID{Value: id})
			}
			declines, streams = append(declines, call), append(streams, f.stream)
		}
		var took time.Duration
		b.StartTimer()
		if err := sc.m.do(ctx, func(c *core.Core) {
			for i, call := range declines {
				fx, refusal := c.Call(call, streams[i], time.Now())
				if refusal != nil {
					b.Errorf("DECLINE: %v", refusal)
				}
				sc.m.apply(fx)
			}
			start := time.Now()
			fx := c.Allocate(start)
			offers = 0
			for _, s := range fx.Frameworks {
				if s.Event != nil && s.Event.Offers != nil {
					offers += len(s.Event.Offers.Offers)
				}
			}
			sc.m.apply(fx)
			took = time.Since(start)
		}); err != nil {
			b.Fatal(err)
		}
		total += took
		runs++
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(runs), "cycle_ms")
	b.ReportMetric(float64(offers), "offers/cycle")
}

// settle waits until the frameworks have read every offer sent: no new
// one for 50ms.
func (sc *scaleCluster) settle() {
	count := func() (n int64) {
		for _, f := range sc.fws {
			n += f.offersSeen.Load()
		}
		return n
	}
	last := count()
	for {
		time.Sleep(50 * time.Millisecond)
		n := count()
		if n == last {
			return
		}
		last = n
	}
}

// benchStorm sends stormUpdates status updates per round as agents do
// (one UPDATE call per agent, with one update of each of its tasks; 64
// calls in flight), and waits for every acknowledgement to reach the
// agents' queues. Reported: updates absorbed per second, the longest
// framework queue seen, and the heap in use when the storm ends.
func (sc *scaleCluster) benchStorm(b *testing.B) {
	ctx := b.Context()
	var sent int64
	var peakHeap uint64
	for b.Loop() {
		want := sc.acks.Load()
		calls := make(chan *scaleAgent)
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for a := range calls {
					sc.sendUpdates(b, a)
				}
			})
		}
		n := 0
		for _, a := range sc.agents {
			if n >= stormUpdates {
				break
			}
			calls <- a
			n += len(a.tasks)
		}
		close(calls)
		wg.Wait()
		want += int64(n)
		sent += int64(n)
		deadline := time.Now().Add(time.Minute)
		for sc.acks.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d acknowledgements reached the agents in a minute", sc.acks.Load()-(want-int64(n)), n)
			}
			time.Sleep(time.Millisecond)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		_ = ctx
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(sc.peak.Load()), "peak_queue")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak_heap_MB")
}

// sendUpdates sends one UPDATE call for agent a: a TASK_RUNNING update of
// each of its tasks, with a new uuid.
func (sc *scaleCluster) sendUpdates(b *testing.B, a *scaleAgent) {
	ups := make([]agentproto.StatusUpdate, 0, len(a.tasks))
	ts := mesos.Float(float64(time.Now().UnixNano()) / 1e9)
	for _, t := range a.tasks {
		u := uuid.New()
		ups = append(ups, agentproto.StatusUpdate{FrameworkID: t.FrameworkID, LatestState: mesos.TaskRunning,
			Status: mesos.TaskStatus{TaskID: t.TaskInfo.TaskID, State: mesos.TaskRunning, Source: mesos.SourceExecutor,
				AgentID: &mesos.ID{Value: a.id}, Timestamp: ts, UUID: base64.StdEncoding.EncodeToString(u[:])}})
	}
	body, _ := json.Marshal(agentproto.Call{Type: agentproto.CallUpdate, AgentID: a.id, ConnectionID: a.conn,
		Update: &agentproto.Updates{Updates: ups}})
	req, _ := http.NewRequest(http.MethodPost, sc.srv.URL+agentproto.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := sc.client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Errorf("UPDATE: %s", resp.Status)
	}
}
