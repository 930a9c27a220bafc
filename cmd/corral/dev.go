package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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
	"time"

	"corral/frameworks/jobs"
	"corral/frameworks/services"
	"corral/internal/edge"
	"corral/internal/localpg"
	"corral/kernel/agent"
	"corral/kernel/agent/docker"
	"corral/kernel/dnsserver"
	"corral/kernel/master"
)

// devOptions are the flags of `corral dev`.
type devOptions struct {
	dir          string
	fresh        bool
	db           string
	pgPort       int
	host         string
	port         int
	agents       int
	agentPort    int
	servicesPort int
	jobsPort     int
	dnsPort      int    // 0: no DNS
	taskPorts    string // "lo-hi", split evenly among the agents
	secure       bool
	insecure     bool
}

func devCommand() *command {
	o := devOptions{dir: ".corral", pgPort: 55432, host: "127.0.0.1", port: 5050, agents: 2, agentPort: 5051, servicesPort: 8080, jobsPort: 4400, dnsPort: 8053, taskPorts: "31000-31999"}
	var logs logFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", o.dir, "state directory: the private Postgres (pg/) and the agents' work dirs (agent-N/); kept between runs")
	fs.BoolVar(&o.fresh, "fresh", false, "remove --dir first and start over with an empty cluster")
	fs.StringVar(&o.db, "db", "", "Postgres URL to keep state in instead of a private Postgres under --dir")
	fs.IntVar(&o.pgPort, "pg_port", o.pgPort, "port of the private Postgres on 127.0.0.1")
	fs.StringVar(&o.host, "host", o.host, "address every part listens on and advertises (0.0.0.0 listens everywhere and advertises the hostname)")
	fs.IntVar(&o.port, "port", o.port, "port of the master: the console, the scheduler and operator APIs")
	fs.IntVar(&o.agents, "agents", o.agents, "number of agents; each offers an equal share of the machine and its own port range")
	fs.IntVar(&o.agentPort, "agent_port", o.agentPort, "port of the first agent; agent N listens on agent_port+N-1")
	fs.IntVar(&o.servicesPort, "services_port", o.servicesPort, "port of the services framework's Marathon-compatible API")
	fs.IntVar(&o.jobsPort, "jobs_port", o.jobsPort, "port of the jobs framework's API")
	fs.IntVar(&o.dnsPort, "dns_port", o.dnsPort, "port (UDP and TCP) of the master's DNS, in Mesos-DNS's names: dig @127.0.0.1 -p 8053 <app>.services.mesos; 0 = no DNS")
	fs.StringVar(&o.taskPorts, "task_ports", o.taskPorts, "port range tasks get ports from, as lo-hi; split evenly among the agents")
	fs.BoolVar(&o.secure, "secure", false, "turn on TLS, authentication and ACLs: a local CA, certificates, credentials and ACLs are made once under --dir/secure, and the operator's credential is printed")
	fs.BoolVar(&o.insecure, "insecure", false, "allow --host beyond loopback without --secure (anyone who reaches the ports can then run commands as the agents' users)")
	logs.register(fs)
	c := &command{name: "dev", summary: "run a whole cluster in one process for a laptop: master, agents, services, jobs, console (and Postgres)", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := logs.logger()
		if err != nil {
			return err
		}
		if err := o.validate(); err != nil {
			return usageError{err.Error()}
		}
		ctx, stop := signalContext()
		defer stop()
		return runDev(ctx, stop, o, log, os.Stderr)
	}
	return c
}

func (o devOptions) validate() error {
	var errs []error
	for name, p := range map[string]int{"port": o.port, "agent_port": o.agentPort, "services_port": o.servicesPort, "jobs_port": o.jobsPort, "pg_port": o.pgPort} {
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a TCP port", name, p))
		}
	}
	if o.dnsPort < 0 || o.dnsPort > 65535 {
		errs = append(errs, fmt.Errorf("dns_port: %d is not a port (0 for no DNS)", o.dnsPort))
	}
	if o.agents < 1 || o.agents > 16 {
		errs = append(errs, fmt.Errorf("agents: want 1 to 16, got %d", o.agents))
	}
	if lo, hi, err := o.taskPortRange(); err != nil {
		errs = append(errs, err)
	} else if hi-lo+1 < o.agents {
		errs = append(errs, fmt.Errorf("task_ports: %d ports cannot be split among %d agents", hi-lo+1, o.agents))
	}
	if o.dir == "" {
		errs = append(errs, errors.New("dir: must not be empty"))
	}
	if net.ParseIP(o.host) == nil && o.host != "localhost" {
		errs = append(errs, fmt.Errorf("host: %q is not an IP address", o.host))
	} else if !o.secure && !o.insecure && !edge.Loopback(net.JoinHostPort(o.host, "1")) {
		errs = append(errs, fmt.Errorf("host: refusing to listen on %s without --secure: anyone who can reach it could run commands on the agents; add --secure, or --insecure to accept that", o.host))
	}
	return errors.Join(errs...)
}

// taskPortRange parses --task_ports.
func (o devOptions) taskPortRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(o.taskPorts, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("task_ports: want a range like 31000-31999, got %q", o.taskPorts)
	}
	return lo, hi, nil
}

// url is the base URL a part listening on port advertises.
func (o devOptions) url(port int) string {
	scheme := "http"
	if o.secure {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(o.advertiseHost(), strconv.Itoa(port))
}

// advertiseHost is the host the parts advertise: --host, or the machine's
// name when --host listens everywhere.
func (o devOptions) advertiseHost() string {
	h := o.host
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		h, _ = os.Hostname()
	}
	return h
}

func (o devOptions) listen(port int) string { return net.JoinHostPort(o.host, strconv.Itoa(port)) }

// noPostgresMessage is what a machine without Postgres binaries is told.
const noPostgresMessage = `corral dev keeps its state in Postgres and starts a private one from the
machine's PostgreSQL binaries, but there are none (initdb, postgres).
Either:
  - install them: apt-get install postgresql (Debian, Ubuntu),
    dnf install postgresql-server (Fedora), brew install postgresql@15 (macOS),
    or point CORRAL_PG_BINDIR at a directory that holds them;
  - or give a running server: corral dev --db postgres://user@host:5432/corral
    (or CORRAL_DB=...);
  - or run the cluster in Docker instead: docker compose up (make up).`

// runDev runs the whole cluster until ctx ends, then stops it in order:
// the frameworks first (so nothing launches while agents stop), then the
// agents (killing their tasks) and the master, then Postgres. What people
// read (where everything listens, what is missing) goes to out; the rest
// to log.
func runDev(ctx context.Context, stopSignals func(), o devOptions, log *slog.Logger, out io.Writer) error {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	if o.fresh {
		if err := removeDevDir(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// Ports are checked up front, so that a second `corral dev` says at once
	// what is in the way instead of half starting.
	ports := map[string]int{"master": o.port, "services": o.servicesPort, "jobs": o.jobsPort}
	for i := 0; i < o.agents; i++ {
		ports[fmt.Sprintf("agent-%d", i+1)] = o.agentPort + i
	}
	for name, p := range ports {
		l, err := net.Listen("tcp", o.listen(p))
		if err != nil {
			return fmt.Errorf("%s: port %d is taken (is another corral dev running?): %w", name, p, err)
		}
		l.Close()
	}
	if o.dnsPort != 0 {
		pc, l, err := dnsserver.Listen(o.listen(o.dnsPort))
		if err != nil {
			return fmt.Errorf("dns: port %d is taken (is another corral dev running? --dns_port 0 turns DNS off): %w", o.dnsPort, err)
		}
		pc.Close()
		l.Close()
	}

	var sec *devTrust
	if o.secure {
		if sec, err = secureDev(o, dir, log); err != nil {
			return err
		}
	}

	db := o.db
	var pg *localpg.Server
	if db == "" {
		pg, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "pg"), Port: o.pgPort})
		if errors.Is(err, localpg.ErrNoBinaries) {
			fmt.Fprintln(out, noPostgresMessage)
			return errors.New("no PostgreSQL server binaries")
		}
		if err != nil {
			return fmt.Errorf("starting the private Postgres: %w", err)
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Error("stopping postgres", "err", err)
			}
			log.Info("postgres stopped")
		}()
		db = pg.URL()
		log.Info("postgres started", "url", db, "data", filepath.Join(dir, "pg", "data"), "log", pg.LogPath())
	}
	if err := migrateUpRetry(ctx, db, log.With("component", "migrate")); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}

	// Two stages: the kernel (master and agents) and the frameworks, each
	// with its own context so that they stop in order.
	kernelCtx, stopKernel := context.WithCancel(context.WithoutCancel(ctx))
	defer stopKernel()
	fwCtx, stopFrameworks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFrameworks()
	var failed sync.Once
	var firstErr error
	fail := func(name string, err error) {
		failed.Do(func() {
			firstErr = fmt.Errorf("%s: %w", name, err)
			stopSignals() // a part died: stop the rest as if ^C
		})
	}
	var kernelWG, fwWG sync.WaitGroup
	run := func(wg *sync.WaitGroup, ctx context.Context, name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				log.Error("part stopped", "part", name, "err", err)
				fail(name, err)
			} else if err == nil && ctx.Err() == nil {
				fail(name, errors.New("stopped unexpectedly"))
			}
		})
	}

	masterURL := o.url(o.port)
	mcfg := master.DefaultConfig()
	mcfg.Listen, mcfg.Advertise, mcfg.DB = o.listen(o.port), masterURL, db
	if o.dnsPort != 0 {
		mcfg.DNSListen = o.listen(o.dnsPort)
	}
	mcfg.Trust = sec.trust("", mcfg.Listen, masterURL)
	if sec != nil {
		mcfg.SecretsKey = sec.files.SecretsKey
	}
	if err := mcfg.Validate(); err != nil {
		return err
	}
	mcfg.Version = version
	store, err := master.OpenStore(ctx, db)
	if err != nil {
		return err
	}
	defer store.Close()
	// Whatever way runDev returns, every part has stopped before the store
	// closes and Postgres stops (defers run last-in, first-out).
	defer func() {
		stopFrameworks()
		fwWG.Wait()
		stopKernel()
		kernelWG.Wait()
	}()
	if pg != nil {
		run(&kernelWG, kernelCtx, "postgres", func(ctx context.Context) error {
			select {
			case <-pg.Done():
				return fmt.Errorf("the private Postgres exited; its log is %s", pg.LogPath())
			case <-ctx.Done():
				return nil
			}
		})
	}
	m, err := master.New(mcfg, store, log)
	if err != nil {
		return err
	}
	run(&kernelWG, kernelCtx, "master", m.Run)

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable, the tasks' logger: %w", err)
	}
	logger, loggerArgs := agent.LoggerCommand(exe)
	// Agents run DOCKER containers too when a Docker engine answers.
	containerizers := []string{"mesos"}
	dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
	if err := docker.Reachable(dctx, ""); err == nil {
		containerizers = []string{"docker", "mesos"}
		log.Info("a Docker engine answers: agents run DOCKER containers too", "socket", docker.DefaultSocket)
	} else {
		log.Info("no Docker engine answers: agents run plain processes only", "reason", err)
	}
	dcancel()
	var agentURLs []string
	portsLo, portsHi, _ := o.taskPortRange()
	span := (portsHi - portsLo + 1) / o.agents
	for i := 0; i < o.agents; i++ {
		name := fmt.Sprintf("agent-%d", i+1)
		acfg := agent.DefaultConfig()
		acfg.Masters = []string{masterURL}
		acfg.Listen, acfg.Advertise = o.listen(o.agentPort+i), o.url(o.agentPort+i)
		acfg.Trust = sec.trust("agent", acfg.Listen, acfg.Advertise)
		acfg.WorkDir = filepath.Join(dir, name)
		lo := portsLo + i*span
		acfg.Resources = fmt.Sprintf("ports:[%d-%d]", lo, lo+span-1)
		acfg.Share = 1 / float64(o.agents)
		acfg.Attributes = "agent:" + strconv.Itoa(i+1)
		acfg.KillTasksOnStop = true
		acfg.Containerizers = containerizers
		acfg.Logger, acfg.LoggerArgs = logger, loggerArgs
		acfg.RegisterBackoffFactor = 200 * time.Millisecond
		acfg.RegisterBackoffMax = 2 * time.Second
		if err := acfg.Validate(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		a, err := agent.New(acfg, log.With("node", name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		run(&kernelWG, kernelCtx, name, a.Run)
		agentURLs = append(agentURLs, acfg.Advertise)
	}

	scfg := services.DefaultConfig()
	scfg.Masters, scfg.DB = []string{masterURL}, db
	scfg.Listen, scfg.Advertise = o.listen(o.servicesPort), o.url(o.servicesPort)
	scfg.Trust = sec.trust("services", scfg.Listen, scfg.Advertise)
	if err := scfg.Validate(); err != nil {
		return err
	}
	scfg.Version = version
	sv, err := services.New(scfg, log)
	if err != nil {
		return err
	}
	run(&fwWG, fwCtx, "services", sv.Run)

	jcfg := jobs.DefaultConfig()
	jcfg.Masters, jcfg.DB = []string{masterURL}, db
	jcfg.Listen, jcfg.Advertise = o.listen(o.jobsPort), o.url(o.jobsPort)
	jcfg.Trust = sec.trust("jobs", jcfg.Listen, jcfg.Advertise)
	if err := jcfg.Validate(); err != nil {
		return err
	}
	jcfg.Version = version
	jb, err := jobs.New(jcfg, log)
	if err != nil {
		return err
	}
	run(&fwWG, fwCtx, "jobs", jb.Run)

	if err := awaitDev(ctx, sec.client(), masterURL, o.agents, []string{o.url(o.servicesPort) + "/ping", o.url(o.jobsPort) + "/ping"}); err == nil {
		pgLine := db
		if pg != nil {
			pgLine += "  (data in " + filepath.Join(dir, "pg") + ")"
		}
		dnsLine := "off (--dns_port)"
		if o.dnsPort != 0 {
			dnsLine = fmt.Sprintf("%s   (dig @%s -p %d hello.services.mesos)", o.listen(o.dnsPort), o.advertiseHost(), o.dnsPort)
		}
		fmt.Fprintf(out, `
corral dev is up
  console   %s/
  services  %s   (Marathon API: /v2/apps)
  jobs      %s   (jobs API: /v1/jobs; Chronos: /v1/scheduler)
  agents    %s
  dns       %s
  postgres  %s
Ctrl-C stops everything.

`, masterURL, o.url(o.servicesPort), o.url(o.jobsPort), strings.Join(agentURLs, ", "), dnsLine, pgLine)
		sec.explain(out, o)
	} else if ctx.Err() == nil {
		log.Warn("the cluster is not complete yet", "err", err)
	}

	<-ctx.Done()
	stopSignals() // a second ^C now ends the process at once
	log.Info("stopping: frameworks first, then agents (killing tasks) and the master")
	stopFrameworks()
	fwWG.Wait()
	stopKernel()
	kernelWG.Wait()
	return firstErr
}

// awaitDev waits until the master has n agents and both frameworks
// registered and every URL in pings answers.
func awaitDev(ctx context.Context, client *http.Client, masterURL string, n int, pings []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ready := func() error {
		resp, err := client.Get(masterURL + "/state")
		if err != nil {
			return err
		}
		var st struct {
			Agents []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
			Frameworks []struct {
				Name      string `json:"name"`
				Connected bool   `json:"connected"`
			} `json:"frameworks"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return err
		}
		active := 0
		for _, a := range st.Agents {
			if a.Active {
				active++
			}
		}
		if active < n {
			return fmt.Errorf("%d of %d agents registered", active, n)
		}
		connected := 0
		for _, f := range st.Frameworks {
			if f.Connected {
				connected++
			}
		}
		if connected < 2 {
			return fmt.Errorf("%d of 2 frameworks registered", connected)
		}
		for _, u := range pings {
			resp, err := client.Get(u)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", u, resp.Status)
			}
		}
		return nil
	}
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removeDevDir removes a dev state directory, refusing while its
// Postgres still runs.
func removeDevDir(dir string) error {
	pidFile := filepath.Join(dir, "pg", "data", "postmaster.pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if pid, _ := strconv.Atoi(strings.TrimSpace(first)); pid > 0 && processAlive(pid) {
			return fmt.Errorf("--fresh: the Postgres of %s still runs (pid %d); stop the other corral dev first", dir, pid)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("--fresh: removing %s: %w", dir, err)
	}
	return nil
}

// processAlive reports whether process pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
