package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/internal/localpg"
)

// TestDevKeepsStateAcrossRestarts starts `corral dev` (in process, with
// its private Postgres), deploys an app and a job, stops it as ^C would,
// checks that nothing it started still runs, starts it again and finds
// the app and the job, the app running again.
func TestDevKeepsStateAcrossRestarts(t *testing.T) {
	if _, err := localpg.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corral dev needs PostgreSQL binaries: %v", err)
		}
		t.Skip(err)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("the test app needs python3")
	}
	dir := t.TempDir()
	// The private Postgres runs as the postgres user when we are root; it
	// must be able to enter the directory.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	// Task ports away from the ranges other tests' agents use.
	o := devOptions{dir: filepath.Join(dir, "state"), host: "127.0.0.1", agents: 2, taskPorts: "39000-39199",
		pgPort: devFreePorts(t, 1), port: devFreePorts(t, 1), agentPort: devFreePorts(t, 2), servicesPort: devFreePorts(t, 1), jobsPort: devFreePorts(t, 1), dnsPort: devFreePorts(t, 1)}
	pids := filepath.Join(dir, "pids")
	// The app's tasks run as nobody (corral dev's frameworks run as root
	// here): they may append to the file, nothing more.
	if err := os.WriteFile(pids, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pids, 0o666); err != nil {
		t.Fatal(err)
	}
	base := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	svc, jb := base(o.servicesPort), base(o.jobsPort)

	stop := startDev(t, o)
	app := fmt.Sprintf(`{"id": "/smoke", "cmd": "echo $$ >> %s; exec python3 -m http.server $PORT0", "instances": 2, "cpus": 0.1, "mem": 32,
		"portDefinitions": [{"port": 0}], "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 1}]}`, pids)
	devPost(t, svc+"/v2/apps", app, http.StatusCreated)
	devPost(t, jb+"/v1/jobs", `{"name": "nightly", "command": "echo hi", "schedule": "@daily"}`, http.StatusCreated)
	devWaitHealthy(t, svc, "/smoke", 2)
	// The master's DNS names the app's two tasks.
	dnsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.dnsPort))
	var srvs []dns.RR
	deadline := time.Now().Add(30 * time.Second)
	for len(srvs) != 2 && time.Now().Before(deadline) {
		in, _, err := new(dns.Client).Exchange(new(dns.Msg).SetQuestion("_smoke._tcp.services.mesos.", dns.TypeSRV), dnsAddr)
		if err == nil {
			srvs = in.Answer
		}
		if len(srvs) != 2 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(srvs) != 2 {
		t.Errorf("SRV _smoke._tcp.services.mesos at %s = %v; want the app's 2 tasks", dnsAddr, srvs)
	}
	stop()

	started := devReadPIDs(t, pids)
	if len(started) < 2 {
		t.Fatalf("want at least 2 task pids in %s, got %v", pids, started)
	}
	for _, pid := range started {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("task process %d still runs after corral dev stopped (kill 0: %v)", pid, err)
		}
	}
	for _, p := range []int{o.pgPort, o.port, o.servicesPort, o.jobsPort, o.agentPort, o.agentPort + 1, o.dnsPort} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after corral dev stopped", p)
		}
	}

	stop = startDev(t, o)
	defer stop()
	devWaitHealthy(t, svc, "/smoke", 2)
	var j struct {
		Name     string `json:"name"`
		Schedule string `json:"schedule"`
	}
	devGetJSON(t, jb+"/v1/jobs/nightly", &j)
	if j.Name != "nightly" || j.Schedule != "@daily" {
		t.Errorf("job after restart = %+v; want nightly @daily", j)
	}
	// The tasks killed by the clean stop were replaced, not failed.
	var a struct {
		App struct {
			LastTaskFailure json.RawMessage `json:"lastTaskFailure"`
		} `json:"app"`
	}
	devGetJSON(t, svc+"/v2/apps/smoke", &a)
	if f := a.App.LastTaskFailure; len(f) > 0 && string(f) != "null" {
		t.Errorf("after a clean stop and a restart, lastTaskFailure = %s; want none", f)
	}
	if again := devReadPIDs(t, pids); len(again) < len(started)+2 {
		t.Errorf("want the app relaunched after the restart (new pids), got %v then %v", started, again)
	}
}

// startDev runs corral dev until the returned stop is called; stop waits
// for it to end and fails the test if it ended with an error.
func startDev(t *testing.T, o devOptions) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("corral dev log:\n%s", logs.String())
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- runDev(ctx, cancel, o, log, logs) }()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	err := awaitDev(wctx, &http.Client{Timeout: 2 * time.Second}, "http://127.0.0.1:"+strconv.Itoa(o.port), o.agents,
		[]string{"http://127.0.0.1:" + strconv.Itoa(o.servicesPort) + "/ping", "http://127.0.0.1:" + strconv.Itoa(o.jobsPort) + "/ping"})
	if err != nil {
		cancel()
		t.Fatalf("corral dev did not come up: %v (ended: %v)", err, <-errc)
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("corral dev ended with %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("corral dev did not stop within a minute")
		}
	}
	t.Cleanup(stop)
	return stop
}

func devWaitHealthy(t *testing.T, svc, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		var out struct {
			App struct {
				TasksRunning int `json:"tasksRunning"`
				TasksHealthy int `json:"tasksHealthy"`
			} `json:"app"`
		}
		resp, err := http.Get(svc + "/v2/apps" + id)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
		if err == nil && out.App.TasksRunning == n && out.App.TasksHealthy == n {
			return
		}
		last = fmt.Sprintf("running %d, healthy %d, err %v", out.App.TasksRunning, out.App.TasksHealthy, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("app %s not at %d healthy instances within a minute: %s", id, n, last)
}

func devPost(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s = %s %s; want %d", url, resp.Status, b, want)
	}
}

func devGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func devReadPIDs(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading task pids: %v", err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// devFreePorts returns a port p on 127.0.0.1 such that p..p+n-1 are free.
func devFreePorts(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for i := 1; i < n; i++ {
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+i))); err != nil {
				ok = false
			} else {
				l.Close()
			}
		}
		if ok && p+n-1 <= 65535 {
			return p
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

// lockedBuffer is a bytes.Buffer safe for the many goroutines that log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevWithoutPostgres: with no Postgres binaries and no --db, corral
// dev says what to install and how else to run, and starts nothing.
func TestDevWithoutPostgres(t *testing.T) {
	t.Setenv(localpg.EnvBinDir, t.TempDir())
	o := devOptions{dir: filepath.Join(t.TempDir(), "state"), host: "127.0.0.1", agents: 2, taskPorts: "39200-39399",
		pgPort: devFreePorts(t, 1), port: devFreePorts(t, 1), agentPort: devFreePorts(t, 2), servicesPort: devFreePorts(t, 1), jobsPort: devFreePorts(t, 1)}
	var out bytes.Buffer
	err := runDev(t.Context(), func() {}, o, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
	if err == nil {
		t.Fatal("runDev without Postgres binaries succeeded; want an error")
	}
	for _, want := range []string{"apt-get install postgresql", "--db postgres://", "docker compose up"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the message does not mention %q:\n%s", want, out.String())
		}
	}
}

func TestDevOptionsValidate(t *testing.T) {
	good := devOptions{dir: ".corral", host: "127.0.0.1", agents: 2, taskPorts: "31000-31999", pgPort: 55432, port: 5050, agentPort: 5051, servicesPort: 8080, jobsPort: 4400}
	if err := good.validate(); err != nil {
		t.Fatalf("validate(defaults) = %v", err)
	}
	cases := []struct {
		name string
		edit func(*devOptions)
		want string
	}{
		{"port out of range", func(o *devOptions) { o.port = 70000 }, "port: 70000 is not a TCP port"},
		{"no agents", func(o *devOptions) { o.agents = 0 }, "agents: want 1 to 16"},
		{"bad task ports", func(o *devOptions) { o.taskPorts = "31000" }, "task_ports: want a range like 31000-31999"},
		{"too few task ports", func(o *devOptions) { o.taskPorts = "31000-31000" }, "cannot be split among 2 agents"},
		{"host not an address", func(o *devOptions) { o.host = "example.org" }, "host: \"example.org\" is not an IP address"},
		{"empty dir", func(o *devOptions) { o.dir = "" }, "dir: must not be empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			err := o.validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("validate() = %v; want an error containing %q", err, c.want)
			}
		})
	}
}
