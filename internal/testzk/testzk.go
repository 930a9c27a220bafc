// Package testzk gives tests real ZooKeeper servers: a standalone server or
// an ensemble, started from Debian's zookeeper package on free loopback
// ports, and stopped when the test ends.
//
// Where the servers come from:
//
//   - If CORRAL_TEST_ZK is set (host:port[,host:port...]), it names running
//     servers. Start hands them out without starting anything, and URL puts
//     every path under a root znode unique to the Cluster, which is deleted
//     when the test ends. Stop, Start, Restart and Kill skip the test: the
//     servers are not ours.
//   - Otherwise Start runs n JVMs (QuorumPeerMain), each in its own
//     directory under the system temporary directory, holding its zoo.cfg,
//     its data and its log (zookeeper.log). The directory is removed when
//     the test ends, unless the test failed: then it is kept and its path,
//     with the end of each server's log, is written to the test log.
//
// A server never outlives the test binary: it is started with a
// parent-death signal (SIGKILL), in its own process group, so a ^C meant
// for the tests does not reach it halfway. Directories left by test
// binaries that died are swept by the next Start.
//
// If Java or the ZooKeeper jar cannot be found, the test is skipped with a
// message saying so, or fails when the CI environment variable is "true",
// so that CI never passes without having run it.
//
// The methods of Cluster report problems with the t given to Start
// (t.Fatal), so like t.Fatal they must be called from the goroutine running
// that test, not from other goroutines nor from its subtests.
package testzk

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"corral/internal/childproc"
)

// EnvServers is the environment variable that names running servers to use
// instead of throwaway ones.
const EnvServers = "CORRAL_TEST_ZK"

// Where Debian's zookeeper package puts the server. The jar's manifest
// names its dependencies; slf4j-simple (from libslf4j-java, a dependency of
// the package) makes the server log to stderr, which goes to the log file.
const (
	zookeeperJar = "/usr/share/java/zookeeper.jar"
	slf4jSimple  = "/usr/share/java/slf4j-simple.jar"
	mainClass    = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

const (
	dirPrefix    = "corral-testzk-"
	ownerFile    = "owner.pid"
	pidFile      = "zookeeper.pid"
	logFile      = "zookeeper.log"
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	srvrTimeout  = 2 * time.Second
	pollInterval = 50 * time.Millisecond
	launchTries  = 3
)

// Cluster is a set of ZooKeeper servers for one test: a standalone server
// (n = 1) or an ensemble. Servers are indexed from 0 in the order of
// Servers. Its methods are safe for concurrent use.
type Cluster struct {
	t       testing.TB
	dir     string // parent of the servers' directories; "" when external
	root    string // prefix of every URL path; "" unless external
	addrs   []string
	servers []*server // nil when external
}

// server is one throwaway ZooKeeper server and at most one running JVM.
type server struct {
	id                              int // myid, index+1
	dir                             string
	clientPort, peerPort, electPort int

	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is a running JVM.
type process = childproc.Process

// Start starts n ZooKeeper servers (n = 1: standalone; n > 1: an ensemble,
// usually 3) and returns once every one of them serves clients and, for an
// ensemble, one reports itself leader. The servers are killed and their
// directories removed when t ends (kept when t failed; see the package
// doc). With CORRAL_TEST_ZK set, Start starts nothing and n is ignored.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testzk.Start(t, %d): want at least one server", n)
	}
	if env := os.Getenv(EnvServers); env != "" {
		return external(t, env)
	}
	java, classpath, missing := findServer()
	if missing != "" {
		msg := "testzk: " + missing + "; install ZooKeeper (apt-get install zookeeper) or set " + EnvServers
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	base := os.TempDir()
	sweep(base)
	dir, err := os.MkdirTemp(base, dirPrefix+dirName(t.Name())+"-")
	if err != nil {
		t.Fatalf("testzk: creating directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatalf("testzk: writing owner file: %v", err)
	}
	c := &Cluster{t: t, dir: dir}
	t.Cleanup(c.shutdown)

	for try := 1; ; try++ {
		err := c.launchAll(java, classpath, n)
		if err == nil {
			break
		}
		c.killAll()
		if try == launchTries || !errors.Is(err, errPortTaken) {
			t.Fatalf("testzk: starting %d server(s): %v", n, err)
		}
		// Another process took a port between our probe and the server's
		// bind; start over on fresh ports.
	}
	return c
}

// errPortTaken is returned by launchAll when a server could not bind.
var errPortTaken = errors.New("port already in use")

// launchAll configures n servers on fresh ports, starts them and waits
// until they serve.
func (c *Cluster) launchAll(java, classpath string, n int) error {
	ports, err := freePorts(3 * n)
	if err != nil {
		return err
	}
	servers := make([]*server, n)
	addrs := make([]string, n)
	for i := range servers {
		s := &server{
			id:         i + 1,
			dir:        filepath.Join(c.dir, fmt.Sprintf("server%d", i+1)),
			clientPort: ports[3*i],
			peerPort:   ports[3*i+1],
			electPort:  ports[3*i+2],
		}
		servers[i] = s
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
	}
	for _, s := range servers {
		if err := os.RemoveAll(s.dir); err != nil {
			return err
		}
		if err := s.configure(servers, java, classpath); err != nil {
			return err
		}
	}
	c.servers, c.addrs = servers, addrs
	for _, s := range servers {
		if err := s.launch(java, classpath); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(startTimeout)
	for i, s := range servers {
		if err := s.waitServing(deadline); err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
	}
	if n > 1 {
		for c.LeaderIndex() < 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("no server reported itself leader within %v", startTimeout)
			}
			time.Sleep(pollInterval)
		}
	}
	return nil
}

// external returns a Cluster naming the running servers in env.
func external(t testing.TB, env string) *Cluster {
	t.Helper()
	var addrs []string
	for _, a := range strings.Split(env, ",") {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
			t.Fatalf("testzk: %s=%q: want host:port[,host:port...]", EnvServers, env)
		}
		addrs = append(addrs, strings.TrimSpace(a))
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testzk: %v", err)
	}
	c := &Cluster{t: t, addrs: addrs, root: fmt.Sprintf("/corral-test-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))}
	if err := createRoot(addrs, c.root); err != nil {
		t.Fatalf("testzk: creating %s on %s: %v", c.root, env, err)
	}
	t.Cleanup(func() {
		if err := deleteTree(addrs, c.root); err != nil {
			t.Errorf("testzk: deleting %s on %s: %v", c.root, env, err)
		}
	})
	return c
}

// Servers returns the client address ("127.0.0.1:port") of each server, in
// index order. The addresses stay the same across Stop and Start.
func (c *Cluster) Servers() []string {
	return append([]string(nil), c.addrs...)
}

// URL returns a zk:// URL naming every server and path, which must start
// with "/": "zk://127.0.0.1:p1,127.0.0.1:p2/path". With CORRAL_TEST_ZK set,
// path is put under a root znode unique to c (created by Start, deleted
// with everything under it when the test ends), so tests sharing servers
// do not see each other's znodes.
func (c *Cluster) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		c.t.Fatalf("testzk: URL(%q): the path must start with /", path)
	}
	return "zk://" + strings.Join(c.addrs, ",") + c.root + path
}

// Stop stops server i (SIGTERM, then SIGKILL of its process group after a
// grace period) and waits until it has exited. Stopping a stopped server
// does nothing.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	s := c.controlled(i)
	if err := s.stop(syscall.SIGTERM); err != nil {
		c.t.Fatalf("testzk: stopping server %d: %v", i, err)
	}
}

// Kill kills server i with SIGKILL, as a crash would, and waits until it
// has exited. Clients see their connections reset at once. Killing a
// stopped server does nothing.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	s := c.controlled(i)
	if err := s.stop(syscall.SIGKILL); err != nil {
		c.t.Fatalf("testzk: killing server %d: %v", i, err)
	}
}

// Start starts server i again after Stop or Kill, on the same ports and
// data, so the ensemble keeps its state and URLs stay valid, and waits
// until it serves clients (WaitServing). Start on a running server does
// nothing.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	s := c.controlled(i)
	if s.running() {
		return
	}
	java, classpath, missing := findServer()
	if missing != "" {
		c.t.Fatalf("testzk: %s", missing)
	}
	if err := s.launch(java, classpath); err != nil {
		c.t.Fatalf("testzk: starting server %d: %v", i, err)
	}
	c.WaitServing(i)
}

// Restart stops server i and starts it again.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.Start(i)
}

// WaitServing waits until server i serves clients: its srvr command reports
// a mode (standalone, leader or follower). A server that is electing a
// leader, or is cut off from its quorum, does not serve. It fails the test
// if that takes longer than a minute or the server exits meanwhile.
func (c *Cluster) WaitServing(i int) {
	c.t.Helper()
	if i < 0 || i >= len(c.addrs) {
		c.t.Fatalf("testzk: no server %d (have %d)", i, len(c.addrs))
	}
	deadline := time.Now().Add(startTimeout)
	if c.servers != nil {
		if err := c.servers[i].waitServing(deadline); err != nil {
			c.t.Fatalf("testzk: server %d: %v", i, err)
		}
		return
	}
	for Mode(c.addrs[i]) == "" {
		if time.Now().After(deadline) {
			c.t.Fatalf("testzk: server %s does not serve after %v", c.addrs[i], startTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// LeaderIndex returns the index of the server that reports itself leader,
// or of the only server when it serves standalone; -1 if none does (a
// quorum is electing, or the servers are down). It asks each server with
// srvr, without waiting.
func (c *Cluster) LeaderIndex() int {
	for i, a := range c.addrs {
		if m := Mode(a); m == "leader" || (m == "standalone" && len(c.addrs) == 1) {
			return i
		}
	}
	return -1
}

// Mode asks the server at addr for its mode with the srvr four-letter word:
// "standalone", "leader", "follower" or "observer"; "" when it does not
// answer within a couple of seconds or does not serve clients.
func Mode(addr string) string {
	conn, err := net.DialTimeout("tcp", addr, srvrTimeout)
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(srvrTimeout))
	if _, err := io.WriteString(conn, "srvr"); err != nil {
		return ""
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// controlled returns server i, or skips the test when the servers are not
// ours.
func (c *Cluster) controlled(i int) *server {
	c.t.Helper()
	if c.servers == nil {
		c.t.Skipf("testzk: the servers in %s are not ours to stop or start", EnvServers)
	}
	if i < 0 || i >= len(c.servers) {
		c.t.Fatalf("testzk: no server %d (have %d)", i, len(c.servers))
	}
	return c.servers[i]
}

// shutdown kills every server, then removes the directory, or keeps it and
// points at it when the test failed.
func (c *Cluster) shutdown() {
	c.killAll()
	if c.t.Failed() {
		var b strings.Builder
		fmt.Fprintf(&b, "testzk: the failed test's ZooKeeper directory is kept (until a later run sweeps it): %s", c.dir)
		for _, s := range c.servers {
			path := filepath.Join(s.dir, logFile)
			fmt.Fprintf(&b, "\n--- %s (last lines)%s", path, tail(path, 15))
		}
		c.t.Log(b.String())
		return
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.t.Errorf("testzk: removing %s: %v", c.dir, err)
	}
}

func (c *Cluster) killAll() {
	for i, s := range c.servers {
		if err := s.stop(syscall.SIGKILL); err != nil {
			c.t.Errorf("testzk: killing server %d: %v", i, err)
		}
	}
}

// configure writes the server's zoo.cfg and myid. The short tick makes
// elections and session bookkeeping fast; sessions may still last from 1 s
// to 60 s.
func (s *server) configure(all []*server, java, classpath string) error {
	if err := os.MkdirAll(filepath.Join(s.dir, "data"), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=500\ninitLimit=10\nsyncLimit=5\n")
	fmt.Fprintf(&b, "dataDir=%s\n", filepath.Join(s.dir, "data"))
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", s.clientPort)
	fmt.Fprintf(&b, "admin.enableServer=false\n4lw.commands.whitelist=srvr,stat,ruok,mntr,cons\n")
	fmt.Fprintf(&b, "minSessionTimeout=1000\nmaxSessionTimeout=60000\n")
	// The data is thrown away: no fsync, small preallocation.
	fmt.Fprintf(&b, "forceSync=no\npreAllocSize=1024\n")
	if len(all) > 1 {
		for _, o := range all {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.id, o.peerPort, o.electPort)
		}
	}
	// How to start this server by hand, for debugging a kept directory.
	fmt.Fprintf(&b, "# started as: %s -cp %s %s %s\n", java, classpath, mainClass, filepath.Join(s.dir, "zoo.cfg"))
	if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "data", "myid"), []byte(strconv.Itoa(s.id)+"\n"), 0o644)
}

// launch starts the server's JVM, appending its output to its log.
func (s *server) launch(java, classpath string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	logPath := filepath.Join(s.dir, logFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(java,
		"-cp", classpath,
		// A small, quickly started JVM is plenty for a test server.
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.net.preferIPv4Stack=true",
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		mainClass, filepath.Join(s.dir, "zoo.cfg"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL, // the data is thrown away anyway
	}
	fmt.Fprintf(logf, "=== testzk: starting server %d at %s\n", s.id, time.Now().Format(time.RFC3339Nano))
	p, err := childproc.StartLocked(cmd)
	if err != nil {
		return fmt.Errorf("starting java: %w", err)
	}
	s.proc = p
	_ = os.WriteFile(filepath.Join(s.dir, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	return nil
}

// waitServing polls the server with srvr until it reports a mode.
func (s *server) waitServing(deadline time.Time) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
	logPath := filepath.Join(s.dir, logFile)
	for {
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		if p == nil {
			return errors.New("not running")
		}
		if Mode(addr) != "" {
			return nil
		}
		select {
		case <-p.Done:
			log := tail(logPath, 20)
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, log)
			}
			return fmt.Errorf("exited during startup (log %s): %s", logPath, log)
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("does not serve clients on %s; its log %s ends: %s", addr, logPath, tail(logPath, 20))
		}
	}
}

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// stop sends sig to the JVM and waits for it to exit, escalating to SIGKILL
// of its process group after stopTimeout. Stopping a stopped server does
// nothing.
func (s *server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = p.Cmd.Process.Signal(sig)
	}
	select {
	case <-p.Done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.Done
	return fmt.Errorf("zookeeper did not stop within %v; killed", stopTimeout)
}

// findServer finds java and builds the classpath of Debian's ZooKeeper
// server. A non-empty missing says what is not there.
func findServer() (java, classpath, missing string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "", "no java on PATH"
	}
	if _, err := os.Stat(zookeeperJar); err != nil {
		return "", "", "no ZooKeeper server jar at " + zookeeperJar
	}
	classpath = zookeeperJar
	if _, err := os.Stat(slf4jSimple); err == nil {
		classpath += ":" + slf4jSimple
	}
	return java, classpath, ""
}

// sweep removes directories left by test binaries that died before their
// cleanup ran: those whose owner process is gone and in which no server
// runs. A directory without an owner file may belong to another binary
// that is setting it up, so it is left alone.
func sweep(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, d := range dirs {
		owner := readPID(filepath.Join(d, ownerFile))
		if owner == 0 || alive(owner) {
			continue
		}
		pids, _ := filepath.Glob(filepath.Join(d, "server*", pidFile))
		serving := false
		for _, p := range pids {
			serving = serving || alive(readPID(p))
		}
		if !serving {
			_ = os.RemoveAll(d)
		}
	}
}

// readPID reads the number on the first line of a pid file; 0 if none.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// alive reports whether process pid exists; false for pid <= 0.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// freePorts returns n distinct free loopback ports. All listeners are held
// until every port is chosen, so the ports differ from each other.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dirName turns a test name into something short and safe for a
// directory name, so a kept directory says which test it belonged to.
func dirName(test string) string {
	b := []byte(test)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n" + strings.Join(lines, "\n")
}

// createRoot creates the znode path (one level under /) on the servers at
// addrs.
func createRoot(addrs []string, path string) error {
	conn, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Create(path, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
	return err
}

// deleteTree deletes path and everything under it on the servers at addrs.
func deleteTree(addrs []string, path string) error {
	conn, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		return err
	}
	defer conn.Close()
	var del func(p string) error
	del = func(p string) error {
		children, _, err := conn.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ch := range children {
			if err := del(p + "/" + ch); err != nil {
				return err
			}
		}
		if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		return nil
	}
	return del(path)
}

// discard is a zk.Logger that drops everything.
type discard struct{}

func (discard) Printf(string, ...any) {}
