package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/internal/testpg"
	"corral/kernel/master"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

var corralBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "corral-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corralBin = filepath.Join(dir, "corral")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	args := []string{"build", "-o", corralBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/corral")...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building corral:", err)
		os.Exit(1)
	}
	code := 0
	func() {
		defer os.RemoveAll(dir)
		testpg.Main(m) // exits
	}()
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running corral process.
type proc struct {
	t    testing.TB
	name string
	args []string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, log: &bytes.Buffer{}}
	p.start()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", p.name, p.output())
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(corralBin, p.args...)
	cmd.Stdout = lockedWriter{&p.mu, p.log}
	cmd.Stderr = lockedWriter{&p.mu, p.log}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// kill signals the process and waits for it to exit.
func (p *proc) kill(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cluster is a master and its agents as real processes.
type cluster struct {
	t      testing.TB
	db     string
	master *proc
	url    string
	agents []*agentProc
}

type agentProc struct {
	*proc
	url     string
	workDir string
}

// fast failure detection for tests: 200ms × 3.
const pingInterval = 200 * time.Millisecond

func startCluster(t testing.TB, agents int) *cluster {
	return startClusterTB(t, agents, "")
}

// startClusterTB starts a master and agents; resources empty gives each
// agent a small slice with its own port range.
func startClusterTB(t testing.TB, agents int, resources string) *cluster {
	t.Helper()
	c := &cluster{t: t, db: testpg.URL(t)}
	addr := freeAddr(t)
	c.url = "http://" + addr
	c.master = startProc(t, "master", "master", "--listen", addr, "--advertise", c.url, "--db", c.db,
		"--agent_ping_interval", pingInterval.String(), "--allocation_interval", "100ms", "--agent_reregister_timeout", "30s")
	waitHTTP(t, c.url+"/health")
	for i := 0; i < agents; i++ {
		res := resources
		if res == "" {
			res = fmt.Sprintf("cpus:2;mem:1024;disk:1000;ports:[%d-%d]", 31000+i*100, 31099+i*100)
		}
		c.addAgent(res, fmt.Sprintf("rack:r%d", i))
	}
	c.waitAgents(agents)
	return c
}

func (c *cluster) addAgent(resources, attributes string) *agentProc {
	t := c.t
	addr := freeAddr(t)
	wd := t.TempDir()
	a := &agentProc{url: "http://" + addr, workDir: wd}
	a.proc = startProc(t, fmt.Sprintf("agent-%d", len(c.agents)), "agent", "--master", c.url, "--listen", addr, "--advertise", a.url,
		"--work_dir", wd, "--resources", resources, "--attributes", attributes, "--hostname", fmt.Sprintf("agent%d.test", len(c.agents)))
	c.agents = append(c.agents, a)
	t.Cleanup(func() { killSandboxProcs(wd) })
	return a
}

// killSandboxProcs kills task processes left behind by an agent whose
// work dir is wd, so tests never leak processes.
func killSandboxProcs(wd string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid := 0
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid <= 1 {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, wd) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func waitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy", url)
}

func (c *cluster) state() master.State {
	c.t.Helper()
	resp, err := http.Get(c.url + "/state")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st master.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

func (c *cluster) waitAgents(n int) {
	c.t.Helper()
	eventually(c.t, 60*time.Second, func() bool { return c.state().ActivatedAgents == n }, "%d agents registered", n)
}

func eventually(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: "+format, args...)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

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
	subs     int
	// launchedAt is when the last ACCEPT carrying tasks was sent.
	launchedAt time.Time
	changed    chan struct{}
}

func startFramework(t testing.TB, masterURL string, info mesos.FrameworkInfo) *framework {
	t.Helper()
	f := &framework{t: t, updates: map[string][]mesos.TaskStatus{}, changed: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cl, err := sched.New(sched.Config{
		Masters:         []string{masterURL},
		Framework:       info,
		AutoAcknowledge: true,
		BackoffMax:      time.Second,
	}, sched.HandlerFunc(f.handle), log)
	if err != nil {
		t.Fatal(err)
	}
	f.client = cl
	ctx, cancel := context.WithCancel(context.Background())
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
			for _, ti := range f.pending {
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
		if ev.Failure.AgentID != nil {
			f.failures = append(f.failures, ev.Failure.AgentID.Value)
		}
		f.mu.Unlock()
		f.notify()
	}
}

func ptrF(v float64) *mesos.Float { x := mesos.Float(v); return &x }

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
