package probe

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/kernel/agent/health"
	"corral/kernel/mesos"
)

const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func commandCheck(shell string, timeout time.Duration) health.Check {
	return health.Check{Kind: health.Command, Command: &mesos.CommandInfo{Value: shell}, Timeout: timeout}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "here"), nil, 0o644)
	no := false
	p := New()
	for _, tc := range []struct {
		name   string
		check  health.Check
		ok     bool
		detail string
	}{
		{"exit 0 in the sandbox with the env", commandCheck(`test -f here && test "$X" = y`, 5*time.Second), true, "command exited with status 0"},
		{"exit 1", commandCheck("exit 1", 5*time.Second), false, "command exited with status 1"},
		{"signal", commandCheck("kill -TERM $$", 5*time.Second), false, "command terminated by signal SIGTERM"},
		{"argv looked up in the task's PATH", health.Check{Kind: health.Command, Timeout: 5 * time.Second,
			Command: &mesos.CommandInfo{Shell: &no, Value: "test", Arguments: []string{"test", "-f", "here"}}}, true, ""},
		{"argv not found", health.Check{Kind: health.Command, Timeout: 5 * time.Second,
			Command: &mesos.CommandInfo{Shell: &no, Value: "no-such-program-here"}}, false, "not found in the task's PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Probe(t.Context(), tc.check, Target{Dir: dir, Env: []string{path, "X=y"}})
			if r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("Probe(%q) = %+v; want ok=%v detail containing %q", tc.check.Command.Value, r, tc.ok, tc.detail)
			}
		})
	}
}

// TestCommandTimeoutKillsGroup: a command over its timeout fails at the
// timeout, and its children die with it.
func TestCommandTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	r := New().Probe(t.Context(), commandCheck(`sleep 30 & echo $! > child; wait`, 300*time.Millisecond), Target{Dir: dir, Env: []string{path}})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Probe returned after %v; want about the 300ms timeout", el)
	}
	if r.OK || r.Detail != "command timed out after 300ms" {
		t.Errorf("Probe = %+v; want a timeout", r)
	}
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(2 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break // gone, or a zombie waiting for its reaper
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the timed-out check is still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

func TestHTTP(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	})
	plain := httptest.NewServer(h)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	p := New()
	for _, tc := range []struct {
		name     string
		scheme   string
		port     int
		path     string
		statuses []int
		ok       bool
		detail   string
	}{
		{"200", "http", portOf(t, plain.URL), "/ok", nil, true, "returned status 200"},
		{"302 is not followed and passes", "http", portOf(t, plain.URL), "/redirect", nil, true, "returned status 302"},
		{"404 fails", "http", portOf(t, plain.URL), "/missing", nil, false, "returned status 404"},
		{"404 in statuses passes", "http", portOf(t, plain.URL), "/missing", []int{404}, true, ""},
		{"200 not in statuses fails", "http", portOf(t, plain.URL), "/ok", []int{204}, false, ""},
		{"https without verification", "https", portOf(t, tlsSrv.URL), "/ok", nil, true, ""},
		{"timeout", "http", portOf(t, plain.URL), "/slow", nil, false, "timed out after 300ms"},
		{"nothing listening", "http", freePort(t), "/", nil, false, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := health.Check{Kind: health.HTTP, Scheme: tc.scheme, Port: tc.port, Path: tc.path, Statuses: tc.statuses, Timeout: 300 * time.Millisecond}
			r := p.Probe(t.Context(), c, Target{})
			if r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("Probe(%s %s) = %+v; want ok=%v detail containing %q", tc.scheme, tc.path, r, tc.ok, tc.detail)
			}
		})
	}
}

// freePort returns a port nothing listens on (as far as one can tell).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := New()
	c := health.Check{Kind: health.TCP, Port: ln.Addr().(*net.TCPAddr).Port, Timeout: time.Second}
	if r := p.Probe(t.Context(), c, Target{}); !r.OK {
		t.Errorf("Probe(listening port) = %+v; want ok", r)
	}
	c.Port = freePort(t)
	if r := p.Probe(t.Context(), c, Target{}); r.OK || !strings.Contains(r.Detail, "connecting to 127.0.0.1:") {
		t.Errorf("Probe(closed port) = %+v; want a failed connection", r)
	}
}
