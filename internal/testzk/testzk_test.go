package testzk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// connect opens a client session on the cluster's servers.
func connect(t *testing.T, c *Cluster) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(c.Servers(), 8*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// eventually polls cond until it holds, failing the test after a generous
// deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStandaloneStopStartKill(t *testing.T) {
	c := Start(t, 1)
	if os.Getenv(EnvServers) != "" {
		t.Skip("the servers are not ours")
	}
	if got := Mode(c.Servers()[0]); got != "standalone" {
		t.Fatalf("Mode(%s) = %q; want standalone", c.Servers()[0], got)
	}
	if got, want := c.URL("/x/y"), "zk://"+c.Servers()[0]+"/x/y"; got != want {
		t.Errorf("URL(/x/y) = %q; want %q", got, want)
	}
	if got := c.LeaderIndex(); got != 0 {
		t.Errorf("LeaderIndex() = %d; want 0", got)
	}

	conn := connect(t, c)
	if _, err := conn.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("Create: %v", err)
	}

	c.Stop(0)
	if m := Mode(c.Servers()[0]); m != "" {
		t.Fatalf("stopped server answers srvr with mode %q", m)
	}
	if c.LeaderIndex() != -1 {
		t.Errorf("LeaderIndex() = %d with the server stopped; want -1", c.LeaderIndex())
	}
	c.Start(0)
	// A new session: a client that reconnected while the server was still
	// starting may hang (ZOOKEEPER-5051), which is not what this tests.
	conn = connect(t, c)
	data, _, err := conn.Get("/kept")
	if err != nil || string(data) != "v" {
		t.Fatalf("after Start: Get = %q, %v; want \"v\"", data, err)
	}

	c.Kill(0)
	if m := Mode(c.Servers()[0]); m != "" {
		t.Fatalf("killed server answers srvr with mode %q", m)
	}
	c.Restart(0) // Stop of a stopped server does nothing; Start brings it back
	conn = connect(t, c)
	if _, _, err := conn.Get("/kept"); err != nil {
		t.Fatalf("after Kill and Restart: Get: %v", err)
	}
}

func TestEnsembleSurvivesLeaderRestart(t *testing.T) {
	c := Start(t, 3)
	if os.Getenv(EnvServers) != "" {
		t.Skip("the servers are not ours")
	}
	if n := len(c.Servers()); n != 3 {
		t.Fatalf("len(Servers()) = %d; want 3", n)
	}
	if !strings.HasPrefix(c.URL("/p"), "zk://"+strings.Join(c.Servers(), ",")+"/p") {
		t.Errorf("URL(/p) = %q; want every server and /p", c.URL("/p"))
	}
	modes := map[string]int{}
	for _, a := range c.Servers() {
		modes[Mode(a)]++
	}
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Fatalf("modes = %v; want one leader and two followers", modes)
	}
	conn := connect(t, c)
	if _, err := conn.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("Create: %v", err)
	}

	old := c.LeaderIndex()
	c.Restart(old)
	eventually(t, "the ensemble has a leader again", func() bool { return c.LeaderIndex() >= 0 })
	for i := range c.Servers() {
		c.WaitServing(i)
	}
	conn = connect(t, c)
	data, _, err := conn.Get("/kept")
	if err != nil || string(data) != "v" {
		t.Fatalf("after restarting the leader: Get = %q, %v; want \"v\"", data, err)
	}

	// A quorum survives one killed server. The client may have been
	// connected to it (or the ensemble may be re-electing): it moves on to
	// another server, so the write succeeds after a retry.
	c.Kill((old + 1) % 3)
	var lastErr error
	eventually(t, "a write with one server down", func() bool {
		_, lastErr = conn.Create("/more", nil, 0, zk.WorldACL(zk.PermAll))
		return lastErr == nil || errors.Is(lastErr, zk.ErrNodeExists)
	})
}

func TestSweep(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, owner, server int) string {
		d := filepath.Join(base, dirPrefix+name)
		if err := os.MkdirAll(filepath.Join(d, "server1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != 0 {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if server != 0 {
			if err := os.WriteFile(filepath.Join(d, "server1", pidFile), []byte(strconv.Itoa(server)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	cases := []struct {
		name string
		dir  string
		keep bool
	}{
		{"dead owner", mk("dead", dead.Process.Pid, 0), false},
		{"dead owner, dead server", mk("deadserver", dead.Process.Pid, dead.Process.Pid), false},
		{"live owner", mk("live", os.Getpid(), 0), true},
		{"no owner file yet", mk("new", 0, 0), true},
		{"server still running", mk("serving", dead.Process.Pid, os.Getpid()), true},
	}
	sweep(base)
	for _, c := range cases {
		_, err := os.Stat(c.dir)
		if kept := err == nil; kept != c.keep {
			t.Errorf("%s: sweep kept = %v; want %v", c.name, kept, c.keep)
		}
	}
}

func TestDirName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"TestX", "TestX"},
		{"TestX/sub case#01", "TestX_sub_case_01"},
		{strings.Repeat("a", 50), strings.Repeat("a", 40)},
	}
	for _, c := range cases {
		if got := dirName(c.in); got != c.want {
			t.Errorf("dirName(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestModeOfNothing(t *testing.T) {
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if m := Mode("127.0.0.1:" + strconv.Itoa(ports[0])); m != "" {
		t.Errorf("Mode of a closed port = %q; want \"\"", m)
	}
}
