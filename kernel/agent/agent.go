package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"corral/internal/edge"
	"corral/kernel/agent/checkpoint"
	"corral/kernel/agent/docker"
	"corral/kernel/agent/fetcher"
	"corral/kernel/agent/files"
	"corral/kernel/agent/health/probe"
	"corral/kernel/agent/runner"
	"corral/kernel/agent/update"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Agent is one corral agent. Create it with New and start it with Run,
// once.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	store   *checkpoint.Store
	runner  *runner.Runner
	files   *files.Server
	secrets secretFiles
	docker  *docker.Runner // nil without the docker containerizer
	fetcher *fetcher.Fetcher
	prober  *probe.Prober
	client  *http.Client
	metrics *metrics

	bootID     string
	resources  resource.Resources
	attributes []mesos.Attribute

	inbox   chan message
	stopped chan struct{} // closed when the loop has returned

	// endpoint is set by Run before any goroutine starts.
	endpoint string
}

// message is work for the loop goroutine.
type message func(ctx context.Context, l *loop)

// New checks cfg, detects resources and cgroups, and prepares the work
// dir. It starts nothing; see Run.
func New(cfg Config, logger *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "agent")
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultConfig().Hostname
	}
	store, err := checkpoint.Open(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	m, err := readMachine(store.WorkDir())
	if err != nil {
		return nil, err
	}
	total, err := totalResources(cfg.Resources, cfg.Share, m)
	if err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	attrs, err := resource.ParseAttributes(cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	boot := cfg.BootID
	if boot == "" {
		if boot, err = bootID(); err != nil {
			return nil, err
		}
	}
	parent := CgroupParent(cfg.CgroupRoot, store.WorkDir())
	run, err := runner.New(runner.Config{Cgroups: cfg.Cgroups, CgroupParent: parent}, logger)
	if err != nil {
		return nil, err
	}
	if mode, why := run.Cgroups(); mode == "none" {
		log.Warn("task limits are not enforced", "cgroups", mode, "reason", why)
	} else {
		log.Info("task limits enforced with cgroups", "cgroups", mode, "parent", parent)
	}
	fs, err := files.New(store.SandboxRoot(), logger)
	if err != nil {
		return nil, err
	}
	secretsDir := cfg.SecretsDir
	if secretsDir == "" {
		secretsDir = DefaultSecretsDir(store.WorkDir())
	}
	secrets := secretFiles{root: secretsDir}
	if err := secrets.prepare(); err != nil {
		return nil, fmt.Errorf("secrets dir: %w", err)
	}
	var dockerRunner *docker.Runner
	if cfg.Runs("docker") {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		dockerRunner, err = docker.New(ctx, docker.Config{Socket: cfg.DockerSocket, AgentKey: agentKey(store.WorkDir())}, logger)
		cancel()
		if err != nil {
			run.Close()
			return nil, fmt.Errorf("--containerizers docker: %w", err)
		}
	}
	if !onTmpfs(secretsDir) {
		log.Warn("the files of secret volumes are kept on a disk, not in memory; give --secrets_dir a tmpfs", "secrets_dir", secretsDir)
	}
	fetchDir := cfg.FetcherCacheDir
	if fetchDir == "" {
		fetchDir = filepath.Join(store.WorkDir(), "fetch")
	}
	fetch, err := fetcher.New(fetcher.Config{CacheDir: fetchDir, CacheSize: cfg.FetcherCacheSize,
		Client: artifactClient(cfg.Trust.ClientTLS), Logger: logger})
	if err != nil {
		return nil, err
	}
	return &Agent{
		cfg:     cfg,
		fetcher: fetch,
		log:     log,
		store:   store,
		runner:  run,
		files:   fs,
		secrets: secrets,
		docker:  dockerRunner,
		prober:  probe.New(),
		client: &http.Client{
			// Redirects are followed by hand: a 307 names the leader, which
			// the agent keeps using.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: cfg.Trust.RoundTripper(&http.Transport{
				TLSClientConfig:       cfg.Trust.ClientTLS,
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				ResponseHeaderTimeout: 30 * time.Second,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConnsPerHost:   4,
			}),
		},
		metrics:    newMetrics(),
		bootID:     boot,
		resources:  total,
		attributes: attrs,
		inbox:      make(chan message, 1024),
		stopped:    make(chan struct{}),
	}, nil
}

// Run serves HTTP, recovers the checkpointed tasks, registers with the
// master and handles its commands until ctx ends. It then stops the HTTP
// server and the master connection and returns; tasks keep running and a
// later Run (of a new Agent on the same work dir) adopts them, unless
// Config.KillTasksOnStop, which kills them first. Run returns
// an error only if the agent cannot start.
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		a.closeRunners()
		return fmt.Errorf("listening on %s: %w", a.cfg.Listen, err)
	}
	a.endpoint = a.advertise(ln.Addr())
	l := newLoop(a)
	if err := l.recover(ctx); err != nil {
		ln.Close()
		a.closeRunners()
		return err
	}
	ecfg := edge.DefaultConfig()
	ecfg.Name = "agent"
	// The executor API authenticates executors by their own tokens.
	ecfg.Guards = []edge.Middleware{
		edge.CrossSite{Hosts: a.cfg.Trust.Hosts, Origins: a.cfg.Trust.Origins}.Guard(),
		edge.Authentication{Credentials: a.cfg.Trust.Credentials, Open: edge.DefaultOpenPaths, Own: executorAPIPaths}.Guard(),
	}
	ecfg.TLS = a.cfg.Trust.ServerTLS
	ecfg.WriteTimeout = 5 * time.Minute // downloads of large sandbox files; the agent serves no stream
	srv := edge.New(ecfg, a.routes(), a.log)
	if blocked := unsearchable(a.store.SandboxRoot()); a.cfg.SwitchUser && os.Geteuid() == 0 && blocked != "" {
		a.log.Warn("tasks run as other users cannot reach their sandboxes: a directory above them may be entered by its owner only; "+
			"choose a work dir every user may enter (as /var/lib/corral/agent), or chmod o+x that directory", "directory", blocked)
	}
	if blocked := unsearchable(filepath.Dir(a.secrets.root)); a.cfg.SwitchUser && os.Geteuid() == 0 && blocked != "" {
		a.log.Warn("tasks run as other users cannot read their secret files: a directory above --secrets_dir may be entered by its owner only; "+
			"chmod o+x that directory or choose another --secrets_dir", "directory", blocked)
	}
	a.log.Info("agent starting", "listen", ln.Addr().String(), "endpoint", a.endpoint, "work_dir", a.store.WorkDir(),
		"resources", a.resources.String(), "masters", a.cfg.Masters)

	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("http server failed", "err", err)
		}
	})
	wg.Go(func() { a.connect(loopCtx) })

	l.run(loopCtx)
	if a.cfg.KillTasksOnStop {
		l.killAll(5 * time.Second)
	}
	close(a.stopped)

	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	srv.Shutdown(shutCtx)
	cancel()
	wg.Wait()
	l.bg.Wait()
	a.closeRunners()
	if a.cfg.KillTasksOnStop {
		a.log.Info("agent stopped; tasks killed")
	} else {
		a.log.Info("agent stopped; tasks keep running")
	}
	return nil
}

// advertise derives the endpoint URL from the configuration and the
// listener's actual address.
func (a *Agent) advertise(addr net.Addr) string {
	if a.cfg.Advertise != "" {
		return strings.TrimRight(a.cfg.Advertise, "/")
	}
	host, _, _ := net.SplitHostPort(a.cfg.Listen)
	_, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = a.cfg.Hostname
	}
	return a.cfg.Trust.Scheme() + "://" + net.JoinHostPort(host, port)
}

// endpointHostPort is MESOS_AGENT_ENDPOINT: host:port of the endpoint.
func (a *Agent) endpointHostPort() string {
	if u, err := url.Parse(a.endpoint); err == nil {
		return u.Host
	}
	return a.endpoint
}

// send queues m for the loop; it gives up when ctx ends or the loop has
// stopped. Messages from one goroutine run in the order sent.
func (a *Agent) send(ctx context.Context, m message) bool {
	select {
	case a.inbox <- m:
		return true
	case <-ctx.Done():
	case <-a.stopped:
	}
	return false
}

// errStopped says the loop is no longer running.
var errStopped = errors.New("agent is stopping")

// ask runs f on the loop and waits for it.
func (a *Agent) ask(ctx context.Context, f func(l *loop)) error {
	done := make(chan struct{})
	if !a.send(ctx, func(_ context.Context, l *loop) { f(l); close(done) }) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-a.stopped:
		return errStopped
	}
}

// info is the AgentInfo sent on registration.
func (a *Agent) info() agentproto.AgentInfo {
	mode, why := a.runner.Cgroups()
	return agentproto.AgentInfo{
		Hostname:      a.cfg.Hostname,
		Endpoint:      a.endpoint,
		Resources:     a.resources.Wire(""),
		Attributes:    a.attributes,
		Cgroups:       agentproto.CgroupsMode(mode),
		CgroupsReason: why,
		WorkDir:       a.store.WorkDir(),
		// "docker" only when the engine answered (a.docker).
		Containerizers: a.containerizers(),
	}
}

// sandboxOf returns the sandbox directory of a task.
func (a *Agent) sandboxOf(k update.Key) string { return a.store.SandboxDir(k.FrameworkID, k.TaskID) }

// runnerID names a task in the runner; framework ids cannot contain '/'.
func runnerID(k update.Key) string { return k.FrameworkID + "/" + k.TaskID }

func keyOfRunnerID(id string) update.Key {
	fid, tid, _ := strings.Cut(id, "/")
	return update.Key{FrameworkID: fid, TaskID: tid}
}

// cgroupName is the task's cgroup under the agent's parent: readable, and
// distinct for equal task ids of different frameworks.
func cgroupName(k update.Key) string {
	sum := sha256.Sum256([]byte(k.FrameworkID))
	name := hex.EncodeToString(sum[:4]) + "-" + k.TaskID
	if len(name) > 200 || strings.ContainsRune(k.TaskID, '/') { // long, or an executor's (task.ExecutorTaskID)
		t := sha256.Sum256([]byte(k.TaskID))
		name = hex.EncodeToString(sum[:4]) + "-" + hex.EncodeToString(t[:16])
	}
	return name
}

func exitFileOf(s *checkpoint.Store, k update.Key) string {
	return filepath.Join(s.TaskDir(k.FrameworkID, k.TaskID), checkpoint.ExitFile)
}

// agentKey names an agent with the absolute work dir workDir among
// others on its host: its cgroups' parent and its containers' label.
func agentKey(workDir string) string {
	sum := sha256.Sum256([]byte(workDir))
	return hex.EncodeToString(sum[:4])
}

// closeRunners stops watching the tasks' processes and containers,
// which keep running.
func (a *Agent) closeRunners() {
	a.runner.Close()
	if a.docker != nil {
		a.docker.Close()
	}
}

// CgroupParent is the cgroup (relative to each hierarchy's root) under
// which an agent with the absolute work dir workDir makes its tasks'
// cgroups: one per agent, so several agents can share a host.
func CgroupParent(root, workDir string) string {
	return "/" + strings.Trim(root, "/") + "/" + agentKey(workDir)
}

// unsearchable returns the first directory from dir up to the root that
// users other than its owner and group may not enter (no o+x), or "".
func unsearchable(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// artifactClient is the HTTP client of the fetcher. It trusts the CAs the
// agent trusts (--tls_ca) besides the system's, but presents no
// credential and no client certificate of the agent's: artifact servers
// are the frameworks' choice and must not see them.
func artifactClient(clientTLS *tls.Config) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
	}
	if clientTLS != nil && clientTLS.RootCAs != nil {
		cluster := clientTLS.RootCAs
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Verified by VerifyConnection instead, against either pool:
			// RootCAs alone would drop the system's roots.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				return verifyEither(cs, cluster)
			},
		}
	}
	return &http.Client{Transport: tr}
}

// verifyEither verifies a server's chain against the system's roots, and
// failing that against cluster (the agent's --tls_ca).
func verifyEither(cs tls.ConnectionState, cluster *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter}
	_, err := cs.PeerCertificates[0].Verify(opts)
	if err == nil {
		return nil
	}
	opts.Roots = cluster
	if _, cerr := cs.PeerCertificates[0].Verify(opts); cerr == nil {
		return nil
	}
	return err
}

// containerizers are the containerizers the agent runs tasks in, in the
// order of --containerizers.
func (a *Agent) containerizers() []string {
	var out []string
	for _, c := range a.cfg.Containerizers {
		if c != "docker" || a.docker != nil {
			out = append(out, c)
		}
	}
	return out
}
