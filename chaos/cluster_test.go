//go:build chaos

package chaos

import (
	"context"
	"corral/internal/devca"
	"corral/internal/devsecure"
	"corral/internal/edge"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
	"corral/internal/testpg"
	"corral/internal/testzk"
	"corral/kernel/master"
)

// The shape of every chaos cluster.
const (
	numMasters  = 2
	numAgents   = 3
	numServices = 2
	numJobs     = 2
	// Session timeouts, as the frameworks' and masters' tests use them.
	masterZKSession    = 4 * time.Second
	frameworkZKSession = 3 * time.Second
	// agentPing is the agents' heartbeat period; three misses make an
	// agent unreachable.
	agentPing = 200 * time.Millisecond
)

// clusterOptions vary a chaos cluster.
type clusterOptions struct {
	// zkServers is the size of the ZooKeeper ensemble (1 or 3).
	zkServers int
	// netnsAgents puts every agent in a network namespace of its own, so
	// that any of them can be partitioned; the masters then listen on
	// the host's end of the first namespace's veth pair, which every
	// namespace reaches.
	netnsAgents bool
}

// cluster is one scenario's cluster of real processes. Every process,
// task and namespace is gone when the test ends; the logs are kept (and
// their ends printed) when it failed. Its methods that take no *testing.T
// may be called from any goroutine.
type cluster struct {
	t   *testing.T
	dir string // logs and the agents' work dirs
	bin string
	zk  *testzk.Cluster
	db  string
	tls edge.TLSFiles // the cluster's certificate and CA

	masters    []*proc
	masterURLs []string
	// masterFlag is what agents and frameworks on the host get as
	// --master: the masters' ZooKeeper election.
	masterFlag string
	agents     []*agentProc
	services   []*fwProc
	jobs       []*fwProc
}

// agentProc is an agent process.
type agentProc struct {
	*proc
	url     string
	workDir string
	ns      *netns // the agent's namespace; nil when it runs on the host
}

// fwProc is a framework (services or jobs) process with its API.
type fwProc struct {
	*proc
	url string
}

// logDirPrefix names the suite's directories under the system temporary
// directory; see sweepDirs.
const logDirPrefix = "corral-chaos-"

// startCluster starts ZooKeeper, a fresh database, the masters, the
// agents and the framework instances, and waits until each component has
// a leader and every agent is registered.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	sweepDirs()
	dir, err := os.MkdirTemp("", logDirPrefix+strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	// Agents run tasks as nobody: their sandboxes under dir must be
	// reachable.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, bin: testcluster.Binary(t)}
	t.Cleanup(c.cleanup) // runs last: the processes below are gone by then

	var nss []*netns
	if o.netnsAgents {
		for range numAgents {
			nss = append(nss, newNetns(t))
		}
	}
	hosts := []string{"127.0.0.1"}
	for _, ns := range nss {
		hosts = append(hosts, ns.hostIP, ns.nsIP)
	}
	c.secure(hosts)
	c.zk = testzk.Start(t, max(o.zkServers, 1))
	c.db = testpg.URL(t)
	c.masterFlag = c.zk.URL("/corral")

	host := "127.0.0.1"
	if len(nss) > 0 {
		host = nss[0].hostIP // reachable from every namespace
	}
	for i := range numMasters {
		addr := freeAddr(t, host)
		u := "https://" + addr
		args := append([]string{"master", "--listen", addr, "--advertise", u, "--db", c.db,
			"--agent_ping_interval", agentPing.String(), "--allocation_interval", "100ms", "--agent_reregister_timeout", "30s",
			"--zk", c.masterFlag, "--zk_session_timeout", masterZKSession.String()}, c.trustFlags("")...)
		p := c.spawn(fmt.Sprintf("master-%d", i), nil, args...)
		c.masters = append(c.masters, p)
		c.masterURLs = append(c.masterURLs, u)
	}
	c.waitFor(60*time.Second, "a leading master", func() bool { _, ok := c.masterLeader(); return ok })

	for i := range numAgents {
		var ns *netns
		if len(nss) > 0 {
			ns = nss[i]
		}
		c.addAgent(i, ns)
	}
	c.waitFor(60*time.Second, "every agent registered", func() bool {
		st, err := c.state()
		return err == nil && st.ActivatedAgents == numAgents
	})

	jobsZK := jobsHaveZK(c.bin)
	for i := range numServices {
		c.services = append(c.services, c.addFramework(fmt.Sprintf("services-%d", i), "services",
			"--zk", c.zk.URL("/corral/services"), "--zk_session_timeout", frameworkZKSession.String()))
	}
	for i := range numJobs {
		var extra []string
		if jobsZK {
			extra = []string{"--zk", c.zk.URL("/corral/jobs"), "--zk_session_timeout", frameworkZKSession.String()}
		}
		c.jobs = append(c.jobs, c.addFramework(fmt.Sprintf("jobs-%d", i), "jobs", extra...))
	}
	if !jobsZK {
		t.Log("corral jobs has no --zk flag in this tree: its instances elect through the database lock alone")
	}
	c.waitFor(60*time.Second, "a leading services instance", func() bool { _, ok := c.servicesLeader(); return ok })
	c.waitFor(60*time.Second, "a leading jobs instance", func() bool { _, ok := c.jobsLeader(); return ok })
	return c
}

// secure writes the cluster's security files into its directory: the
// credentials every process demands, each component's own credential, the
// development ACLs, and a CA with a certificate for hosts. It points the
// suite's client at that CA.
func (c *cluster) secure(hosts []string) {
	c.t.Helper()
	files := map[string]string{
		"credentials.json": credentialsFile,
		"agent.json":       `{"principal": "agent", "secret": "chaos-agent-secret"}`,
		"services.json":    `{"principal": "services", "secret": "chaos-services-secret"}`,
		"jobs.json":        `{"principal": "jobs", "secret": "chaos-jobs-secret"}`,
		"acls.json":        devsecure.ACLs,
	}
	for name, body := range files {
		if err := os.WriteFile(c.file(name), []byte(body), 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
	tf, err := devca.Ensure(c.file("tls"), hosts, "ops", time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	c.tls = edge.TLSFiles{Cert: tf.Cert, Key: tf.Key, CA: tf.CA}
	tr, err := edge.Transport(edge.TLSFiles{CA: tf.CA})
	if err != nil {
		c.t.Fatal(err)
	}
	httpClient.Transport = opsCredential.RoundTripper(tr)
}

// trustFlags are the security flags of a process presenting principal's
// credential ("" for none: a master).
func (c *cluster) trustFlags(principal string) []string {
	f := []string{"--credentials", c.file("credentials.json"), "--acls", c.file("acls.json"),
		"--tls_cert", c.tls.Cert, "--tls_key", c.tls.Key, "--tls_ca", c.tls.CA}
	if principal != "" {
		f = append(f, "--credential", c.file(principal+".json"))
	}
	return f
}

// file is the path of name in the cluster's directory.
func (c *cluster) file(name string) string { return filepath.Join(c.dir, name) }

// spawn starts `corral args...` behind prefix and kills it when the test
// ends.
func (c *cluster) spawn(name string, prefix []string, args ...string) *proc {
	c.t.Helper()
	p := newProc(c.dir, name, append(append(append([]string(nil), prefix...), c.bin), args...))
	if err := p.start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

// addAgent starts agent i on the host, or inside ns. A namespaced agent
// finds the leader through the master list (ZooKeeper listens on the
// host's loopback only); the others through ZooKeeper.
func (c *cluster) addAgent(i int, ns *netns) {
	c.t.Helper()
	wd := filepath.Join(c.dir, fmt.Sprintf("agent-%d", i))
	if err := os.MkdirAll(wd, 0o755); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { testcluster.KillSandboxProcs(wd) })
	addr, masters := freeAddr(c.t, "127.0.0.1"), c.masterFlag
	var prefix []string
	if ns != nil {
		addr, masters, prefix = net.JoinHostPort(ns.nsIP, "5051"), strings.Join(c.masterURLs, ","), ns.exec()
	}
	a := &agentProc{url: "https://" + addr, workDir: wd, ns: ns}
	a.proc = c.spawn(fmt.Sprintf("agent-%d", i), prefix, append([]string{"agent", "--master", masters, "--listen", addr, "--advertise", a.url,
		"--work_dir", wd, "--hostname", fmt.Sprintf("agent%d.chaos", i), "--attributes", fmt.Sprintf("rack:r%d", i),
		"--resources", fmt.Sprintf("cpus:4;mem:4096;disk:10000;ports:[%d-%d]", 31000+i*1000, 31999+i*1000)}, c.trustFlags("agent")...)...)
	c.agents = append(c.agents, a)
}

// addFramework starts a services or jobs instance and waits for its API.
func (c *cluster) addFramework(name, kind string, extra ...string) *fwProc {
	c.t.Helper()
	addr := freeAddr(c.t, "127.0.0.1")
	f := &fwProc{url: "https://" + addr}
	args := append([]string{kind, "--master", c.masterFlag, "--db", c.db, "--http", addr, "--advertise", f.url}, c.trustFlags(kind)...)
	f.proc = c.spawn(name, nil, append(args, extra...)...)
	c.waitFor(60*time.Second, f.url+"/ping answering", func() bool {
		resp, err := httpClient.Get(f.url + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return f
}

// waitFor polls cond every 100 ms until it holds, failing the test after d.
func (c *cluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// masterLeader returns the index of the master that leads and has
// recovered its registry.
func (c *cluster) masterLeader() (int, bool) {
	for i, u := range c.masterURLs {
		var h master.Health
		if getJSON(u+"/health", &h) == nil && h.Leader && h.Recovered {
			return i, true
		}
	}
	return -1, false
}

// state returns the leading master's /state.
func (c *cluster) state() (master.State, error) {
	var st master.State
	i, ok := c.masterLeader()
	if !ok {
		return st, errors.New("no leading master")
	}
	err := apiclient.New("master", c.masterURLs[i], httpClient).GetJSON(context.Background(), "/state", &st)
	return st, err
}

// servicesLeader returns the index of the services instance that leads:
// the one whose GET /v2/leader names itself.
func (c *cluster) servicesLeader() (int, bool) {
	for i, f := range c.services {
		if !f.running() {
			continue
		}
		if l, err := (marathon{f.url}).leader(); err == nil && l == hostPort(f.url) {
			return i, true
		}
	}
	return -1, false
}

// jobsLeader returns the index of the jobs instance whose /health says
// it leads; false if none or several do.
func (c *cluster) jobsLeader() (int, bool) {
	leader, n := -1, 0
	for i, f := range c.jobs {
		if !f.running() {
			continue
		}
		if leading, _, err := (jobsAPI{f.url}).health(); err == nil && leading {
			leader, n = i, n+1
		}
	}
	return leader, n == 1
}

// marathon returns a client of the leading services instance, or of any
// running one while none leads (it answers 503 then).
func (c *cluster) marathon() marathon {
	if i, ok := c.servicesLeader(); ok {
		return marathon{c.services[i].url}
	}
	for _, f := range c.services {
		if f.running() {
			return marathon{f.url}
		}
	}
	return marathon{c.services[0].url}
}

// jobsAPI returns a client of the leading jobs instance, or of any
// running one.
func (c *cluster) jobsAPI() jobsAPI {
	if i, ok := c.jobsLeader(); ok {
		return jobsAPI{c.jobs[i].url}
	}
	for _, f := range c.jobs {
		if f.running() {
			return jobsAPI{f.url}
		}
	}
	return jobsAPI{c.jobs[0].url}
}

// agentIDs maps the agents' kernel ids to their index in c.agents.
func (c *cluster) agentIDs(st master.State) map[string]int {
	out := map[string]int{}
	for _, a := range st.Agents {
		for i, p := range c.agents {
			if a.Endpoint == p.url {
				out[a.ID] = i
			}
		}
	}
	return out
}

// procs lists every process of the cluster.
func (c *cluster) procs() []*proc {
	var ps []*proc
	ps = append(ps, c.masters...)
	for _, a := range c.agents {
		ps = append(ps, a.proc)
	}
	for _, f := range append(append([]*fwProc(nil), c.services...), c.jobs...) {
		ps = append(ps, f.proc)
	}
	return ps
}

// cleanup keeps the logs of a failed test, printing their ends, and
// removes the directory of a passed one (unless envKeepLogs is set).
func (c *cluster) cleanup() {
	if os.Getenv(envKeepLogs) != "" && !c.t.Failed() {
		c.t.Logf("%s is set: the scenario's logs are kept in %s", envKeepLogs, c.dir)
		return
	}
	if c.t.Failed() {
		var b strings.Builder
		fmt.Fprintf(&b, "the failed scenario's logs are kept in %s", c.dir)
		for _, p := range c.procs() {
			fmt.Fprintf(&b, "\n--- %s (last 40 lines of %s)\n%s", p.name, p.logPath, p.tail(40))
		}
		c.t.Log(b.String())
		return
	}
	_ = os.RemoveAll(c.dir)
}

// sweepDirs removes the directories of test binaries that died before
// their cleanup, after killing task processes still running in them.
func sweepDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), logDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue
		}
		// Only the directories of dead owners; kept logs of failed
		// scenarios stay until then, which is until the next run.
		agents, _ := filepath.Glob(filepath.Join(d, "agent-*"))
		for _, a := range agents {
			testcluster.KillSandboxProcs(a)
		}
		_ = os.RemoveAll(d)
	}
}

// freeAddr returns a free TCP address on host.
func freeAddr(t testing.TB, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	jobsZKOnce sync.Once
	jobsZK     bool
)

// jobsHaveZK reports whether `corral jobs` has the --zk flag (its
// ZooKeeper election); without it the instances elect through the
// database lock.
func jobsHaveZK(bin string) bool {
	jobsZKOnce.Do(func() {
		out, _ := exec.Command(bin, "help", "jobs").CombinedOutput()
		jobsZK = strings.Contains(string(out), "--zk\n") || strings.Contains(string(out), "--zk ")
	})
	return jobsZK
}
