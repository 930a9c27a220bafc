// Package testcluster runs real corral processes for end-to-end tests: it
// builds the corral binary from this tree once per test binary (with the
// race detector when the tests have it), and starts masters, agents and
// frameworks as processes on loopback, with a throwaway Postgres from
// testpg. Every process is killed when its test ends, and so is every task
// process left in an agent's work dir.
//
// A package using it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
package testcluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/internal/testpg"
	"corral/kernel/agent"
	"corral/kernel/master"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Main runs the tests, then removes the built binary and stops the
// throwaway Postgres. It does not return.
func Main(m *testing.M) {
	defer func() {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}()
	testpg.Main(m)
}

// Binary returns the path of a corral binary built from this tree, with
// corral-logger beside it.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "corral-test-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "corral")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/corral")...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building corral: %v\n%s", err, out)
			return
		}
		// The agents' task logger lies beside it, as `make build` puts it.
		cmd = exec.Command("go", "build", "-o", filepath.Join(binDir, "corral-logger"), "./cmd/corral-logger")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building corral-logger: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// FreeAddr returns a free loopback address.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is a running corral process.
type Proc struct {
	tb   testing.TB
	Name string
	args []string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

type lockedWriter struct{ p *Proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

// StartProc starts `corral args...`; it is killed when the test ends, and
// its output is logged if the test failed.
func StartProc(tb testing.TB, name string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{tb: tb, Name: name, args: args}
	p.Start()
	tb.Cleanup(func() {
		p.Kill(syscall.SIGKILL)
		if tb.Failed() {
			tb.Logf("--- log of %s ---\n%s", p.Name, p.Output())
		}
	})
	return p
}

// Start (re)starts the process with its original arguments.
func (p *Proc) Start() {
	p.tb.Helper()
	cmd := exec.Command(Binary(p.tb), p.args...)
	cmd.Stdout = lockedWriter{p}
	cmd.Stderr = lockedWriter{p}
	if err := cmd.Start(); err != nil {
		p.tb.Fatal(err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
}

// Exited reports whether the process (as last started) has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PID is the process id of the running process.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Kill signals the process and waits until it has exited.
func (p *Proc) Kill(sig syscall.Signal) {
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

// Cluster is masters and agents as real processes.
type Cluster struct {
	tb  testing.TB
	DB  string
	URL string // the first master's URL
	// Master is the first master; Masters all of them, with MasterURLs.
	Master     *Proc
	Masters    []*Proc
	MasterURLs []string
	// MasterFlag is what agents and frameworks are given as --master: the
	// ZooKeeper URL when the masters elect through it, else URL.
	MasterFlag string
	Agents     []*Agent
	switchUser bool
	// agentArgs are Options.AgentArgs.
	agentArgs []string
	// HTTP is a client of the cluster's APIs with keep-alive: on a
	// secured cluster (Options.Secure) it trusts the cluster's CA and
	// presents the operator's credential (principal ops, whom the ACLs
	// allow everything); on a plain one it is a plain client. Its
	// connection pool is its own.
	HTTP *http.Client
	// Security is what a secured cluster runs under; nil on a plain one.
	Security *Security
}

// Agent is an agent process.
type Agent struct {
	*Proc
	URL     string
	WorkDir string
}

// PingInterval is the agents' heartbeat period in test clusters (× 3 to be
// marked unreachable).
const PingInterval = 200 * time.Millisecond

// Options shape a test cluster.
type Options struct {
	// Agents is how many agents to start.
	Agents int
	// Resources gives agent i its resources; nil gives each a small slice
	// (cpus:2;mem:1024) with its own port range.
	Resources func(i int) string
	// Hostname gives agent i its hostname; nil gives agent<i>.test.
	Hostname func(i int) string
	// MasterArgs are extra master flags; they override the defaults
	// (a flag given twice takes the last value).
	MasterArgs []string
	// AgentArgs are extra flags of every agent, after the defaults.
	AgentArgs []string
	// Masters is how many masters to start (default 1). With more than one
	// they need ZK.
	Masters int
	// ZK, if set, is the zk:// URL of the masters' election: masters get
	// --zk, agents and frameworks --master with it.
	ZK string
	// SwitchUser makes the agents run tasks as their users (the agent's
	// default); without it they run every task as the test's own user, so
	// that tasks can write the tests' marker files wherever they are.
	SwitchUser bool
	// Secure starts every process as `corral dev --secure` runs them:
	// HTTPS with a certificate from a throwaway CA (for 127.0.0.1),
	// credentials demanded of every caller, the development ACLs
	// (devsecure.ACLs), a secrets key on the masters, and each component
	// presenting its own credential to the master (agents as agent,
	// frameworks as their kind). The cluster's URLs are then https, and
	// Cluster.HTTP is the operator's client. Off, processes run with none
	// of that, as before the option existed.
	Secure bool
	// ClientAuth, with Secure, makes every process also demand a client
	// certificate signed by the cluster's CA (--tls_client_auth, mutual
	// TLS): the processes present their own certificate (Security.TLS.Cert)
	// when they call each other, and Cluster.HTTP and Client present the
	// CA's client certificate (Security.TLS.ClientCert).
	ClientAuth bool
}

// Start starts a master (on a fresh database) and agents, and waits until
// they are registered.
func Start(tb testing.TB, o Options) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, DB: testpg.URL(tb), switchUser: o.SwitchUser, agentArgs: o.AgentArgs}
	if o.ClientAuth && !o.Secure {
		tb.Fatal("testcluster: Options.ClientAuth needs Options.Secure")
	}
	if o.Secure {
		c.Security = newSecurity(tb, o.ClientAuth)
	}
	c.HTTP = c.Client("ops")
	n := max(o.Masters, 1)
	if n > 1 && o.ZK == "" {
		tb.Fatal("testcluster: several masters need Options.ZK")
	}
	for i := 0; i < n; i++ {
		addr := FreeAddr(tb)
		u := c.scheme() + "://" + addr
		args := []string{"master", "--listen", addr, "--advertise", u, "--db", c.DB,
			"--agent_ping_interval", PingInterval.String(), "--allocation_interval", "100ms", "--agent_reregister_timeout", "30s"}
		if o.ZK != "" {
			args = append(args, "--zk", o.ZK, "--zk_session_timeout", ZKSessionTimeout.String())
		}
		if c.Security != nil {
			args = append(append(args, c.securityArgs("")...), "--secrets_key", c.Security.Files.SecretsKey)
		}
		args = append(args, o.MasterArgs...) // last, so they override the defaults above
		c.Masters = append(c.Masters, StartProc(tb, fmt.Sprintf("master-%d", i), args...))
		c.MasterURLs = append(c.MasterURLs, u)
	}
	c.Master, c.URL = c.Masters[0], c.MasterURLs[0]
	c.MasterFlag = c.URL
	if o.ZK != "" {
		c.MasterFlag = o.ZK
	}
	for _, u := range c.MasterURLs {
		c.waitHTTP(u + "/health")
	}
	c.LeaderURL()
	for i := 0; i < o.Agents; i++ {
		res := fmt.Sprintf("cpus:2;mem:1024;disk:1000;ports:[%d-%d]", 31000+i*100, 31099+i*100)
		if o.Resources != nil {
			res = o.Resources(i)
		}
		host := fmt.Sprintf("agent%d.test", i)
		if o.Hostname != nil {
			host = o.Hostname(i)
		}
		c.AddAgent(res, fmt.Sprintf("rack:r%d", i), host)
	}
	c.WaitAgents(o.Agents)
	return c
}

// AddAgent starts one more agent.
func (c *Cluster) AddAgent(resources, attributes, hostname string) *Agent {
	tb := c.tb
	addr := FreeAddr(tb)
	wd := SearchableDir(tb)
	a := &Agent{URL: c.scheme() + "://" + addr, WorkDir: wd}
	args := append([]string{"agent", "--master", c.MasterFlag, "--listen", addr, "--advertise", a.URL,
		"--work_dir", wd, "--resources", resources, "--attributes", attributes, "--hostname", hostname,
		"--switch_user=" + strconv.FormatBool(c.switchUser)}, c.securityArgs("agent")...)
	args = append(args, c.agentArgs...)
	a.Proc = StartProc(tb, fmt.Sprintf("agent-%d", len(c.Agents)), args...)
	c.Agents = append(c.Agents, a)
	tb.Cleanup(func() { KillSandboxProcs(wd) })
	return a
}

// AgentByID returns the agent process with the given agent id.
func (c *Cluster) AgentByID(id string) *Agent {
	for _, s := range c.State().Agents {
		if s.ID != id {
			continue
		}
		for _, a := range c.Agents {
			if a.URL == s.Endpoint {
				return a
			}
		}
	}
	return nil
}

// KillSandboxProcs kills task processes whose working directory is under
// wd, so tests never leak processes, then removes the cgroups the agent
// with that work dir made (an agent killed with SIGKILL leaves them).
func KillSandboxProcs(wd string) {
	defer removeCgroups(wd)
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

// WaitHTTP waits until url answers 200.
func WaitHTTP(tb testing.TB, url string) {
	tb.Helper()
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
	tb.Fatalf("%s did not answer 200 in time", url)
}

// ZKSessionTimeout is the masters' ZooKeeper session timeout in test
// clusters that elect through ZooKeeper.
const ZKSessionTimeout = 4 * time.Second

// LeaderURL returns the URL of the master that leads and has recovered its
// registry, waiting for one.
func (c *Cluster) LeaderURL() string {
	c.tb.Helper()
	var leader string
	Eventually(c.tb, 60*time.Second, func() bool {
		for _, u := range c.MasterURLs {
			resp, err := c.get(u + "/health")
			if err != nil {
				continue
			}
			var h master.Health
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if err == nil && h.Leader && h.Recovered {
				leader = u
				return true
			}
		}
		return false
	}, "a leading master")
	return leader
}

// State returns the leading master's /state.
func (c *Cluster) State() master.State {
	c.tb.Helper()
	base := c.URL
	if len(c.MasterURLs) > 1 {
		base = c.LeaderURL()
	}
	resp, err := c.get(base + "/state")
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st master.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		c.tb.Fatal(err)
	}
	return st
}

// WaitAgents waits until n agents are active.
func (c *Cluster) WaitAgents(n int) {
	c.tb.Helper()
	Eventually(c.tb, 60*time.Second, func() bool { return c.State().ActivatedAgents == n }, "%d agents registered", n)
}

// Eventually polls cond until it holds, failing the test after d.
func Eventually(tb testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for: "+format, args...)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Framework is a framework process (services or jobs) with its HTTP API.
type Framework struct {
	*Proc
	URL string
}

// StartFramework starts `corral <kind> --master <master> --db <db>
// --http <addr> args...` and waits until its API answers /ping. On a
// secured cluster the framework (kind services or jobs) also gets the
// security flags and presents the credential of principal kind; args come
// after them and so override them.
func (c *Cluster) StartFramework(kind string, args ...string) *Framework {
	tb := c.tb
	tb.Helper()
	addr := FreeAddr(tb)
	f := &Framework{URL: c.scheme() + "://" + addr}
	all := []string{kind, "--master", c.MasterFlag, "--db", c.DB, "--http", addr, "--advertise", f.URL}
	if c.Security != nil {
		principal, err := frameworkPrincipal(kind)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, c.securityArgs(principal)...)
	}
	f.Proc = StartProc(tb, kind, append(all, args...)...)
	c.waitHTTP(f.URL + "/ping")
	return f
}

// removeCgroups removes an agent's (now empty) cgroups in every hierarchy.
func removeCgroups(wd string) {
	abs, err := filepath.Abs(wd)
	if err != nil {
		return
	}
	parent := agent.CgroupParent("corral", abs)
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for attempt := 0; attempt < 20; attempt++ {
		left := false
		for _, r := range roots {
			dir := filepath.Join(r, parent)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			subs, _ := os.ReadDir(dir)
			for _, s := range subs {
				if s.IsDir() {
					_ = syscall.Rmdir(filepath.Join(dir, s.Name()))
				}
			}
			if syscall.Rmdir(dir) != nil {
				left = true
			}
		}
		if !left {
			return
		}
		time.Sleep(50 * time.Millisecond) // killed tasks take a moment to leave
	}
}

// SearchableDir returns a new temporary directory that every user may
// enter (as may its parents up to the system's temporary directory):
// tasks an agent runs as other users reach their sandboxes under it.
func SearchableDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
