package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/runner"
	"corral/kernel/agent/task"
)

// DefaultSocket is the Docker engine's standard socket.
const DefaultSocket = "/var/run/docker.sock"

// Config configures a Runner.
type Config struct {
	// Socket is the engine's API: a unix socket path, or a unix://,
	// tcp:// or http:// URL. Default DefaultSocket.
	Socket string
	// AgentKey labels this agent's containers (LabelAgent) and goes into
	// their names, so that agents sharing an engine leave each other's
	// containers alone. Required.
	AgentKey string
}

// Runner runs tasks' DOCKER containers through the engine's API: it pulls
// images, creates, starts, watches, kills and removes containers, copies
// their output into the sandbox, and reports each container's end once on
// Exits, as runner.Runner does for processes. Its methods are safe for
// concurrent use.
type Runner struct {
	cli  *client.Client
	key  string
	host string
	log  *slog.Logger

	exits   chan runner.Exit
	closing chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	ctrs   map[string]*ctr      // by runner id
	images map[string]time.Time // when each image was last found present
}

// ctr is one watched container.
type ctr struct {
	id, name string
	killT    *time.Timer
	done     bool
}

// ErrUnknown is returned by Kill for a container the runner does not
// watch.
var ErrUnknown = runner.ErrUnknown

// New connects to the engine and checks that it answers.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Runner, error) {
	if cfg.AgentKey == "" {
		return nil, errors.New("docker: no agent key")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host := cfg.Socket
	if host == "" {
		host = DefaultSocket
	}
	if strings.HasPrefix(host, "/") {
		host = "unix://" + host
	}
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ping, err := cli.Ping(pctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot reach the Docker engine at %s: %w", host, err)
	}
	// Negotiate the API version now, before any goroutine shares the
	// client: the library's lazy negotiation races with calls that read
	// the version directly.
	cli.NegotiateAPIVersionPing(ping)
	r := &Runner{cli: cli, key: cfg.AgentKey, host: host, log: logger.With("component", "docker"),
		exits: make(chan runner.Exit, 1024), closing: make(chan struct{}), ctrs: map[string]*ctr{}, images: map[string]time.Time{}}
	r.log.Info("running DOCKER containers", "engine", host, "api_version", ping.APIVersion)
	return r, nil
}

// Exits returns the channel on which the end of every started or adopted
// container is reported exactly once (unless Close comes first; a later
// runner adopting the container reports it then).
func (r *Runner) Exits() <-chan runner.Exit { return r.exits }

// Start makes s's container run: it pulls the image when it is missing
// (or always, with force_pull_image), creates the container (replacing
// a stopped one of the same name, left by a launch the agent did not
// finish) and starts it, then watches it. logState is the file that
// keeps where the output copy stands across agent restarts. The error,
// meant for the task's TASK_FAILED, names the image or what failed.
func (r *Runner) Start(ctx context.Context, s Spec, logState string) error {
	cfg, host, netCfg, err := Configs(s, r.key)
	if err != nil {
		return err
	}
	if err := r.ensureImage(ctx, s.Container.Docker.Image, s.Container.Docker.ForcePullImage); err != nil {
		return err
	}
	_, err = r.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	if cerrdefs.IsNotFound(err) {
		// The image went since it was last seen: find or pull it again.
		r.mu.Lock()
		delete(r.images, s.Container.Docker.Image)
		r.mu.Unlock()
		if err := r.ensureImage(ctx, s.Container.Docker.Image, false); err != nil {
			return err
		}
		_, err = r.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	}
	if cerrdefs.IsConflict(err) {
		// A container of that name is left from a launch the agent did
		// not finish: replace it.
		if err := r.cli.ContainerRemove(ctx, s.Name, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing an earlier container named %s: %w", s.Name, err)
		}
		_, err = r.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	}
	if err != nil {
		return fmt.Errorf("creating the container of image %q: %w", s.Container.Docker.Image, err)
	}
	if err := r.cli.ContainerStart(ctx, s.Name, container.StartOptions{}); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = r.cli.ContainerRemove(rctx, s.Name, container.RemoveOptions{Force: true})
		return fmt.Errorf("starting the container of image %q: %w", s.Container.Docker.Image, err)
	}
	r.watch(s.ID, s.Name, s.Sandbox, logState, s.Stdout, s.Stderr)
	return nil
}

// imageSeen is how long an image found present is taken to be there
// without asking the engine again (a burst of launches of one image asks
// once).
const imageSeen = 30 * time.Second

// ensureImage pulls image unless it is present and force is false.
func (r *Runner) ensureImage(ctx context.Context, img string, force bool) error {
	if !force {
		r.mu.Lock()
		seen := r.images[img]
		r.mu.Unlock()
		if !seen.IsZero() && time.Since(seen) < imageSeen {
			return nil
		}
		_, err := r.cli.ImageInspect(ctx, img)
		if err == nil {
			r.mu.Lock()
			r.images[img] = time.Now()
			r.mu.Unlock()
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspecting image %q: %w", img, err)
		}
	}
	rc, err := r.cli.ImagePull(ctx, img, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pulling image %q: %w", img, err)
	}
	defer rc.Close()
	// The pull reports progress, and its failure, as JSON messages.
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("pulling image %q: %w", img, err)
		}
		if m.Error != "" {
			return fmt.Errorf("pulling image %q: %s", img, m.Error)
		}
	}
	r.log.Info("pulled image", "image", img)
	return nil
}

// Adopt watches the container of a task an earlier run of the agent
// started: its output copy resumes where logState says (into files
// bounded by stdout and stderr), and its end is reported on Exits (at
// once, Kind Unknown, when the container is gone).
func (r *Runner) Adopt(id, name, sandbox, logState string, stdout, stderr logrotate.Limits) {
	r.watch(id, name, sandbox, logState, stdout, stderr)
}

// watch starts the goroutine that copies a container's output and waits
// for its end.
func (r *Runner) watch(id, name, sandbox, logState string, stdout, stderr logrotate.Limits) {
	c := &ctr{id: id, name: name}
	r.mu.Lock()
	r.ctrs[id] = c
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.follow(c, sandbox, logState, stdout, stderr)
	}()
}

// follow copies c's output until the container stops, then reports its
// end and removes it. Engine errors (a restarting engine, a dropped
// connection) are retried; Close ends it without a report.
func (r *Runner) follow(c *ctr, sandbox, logState string, outLimit, errLimit logrotate.Limits) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	lc := loadLogCopy(logState)
	stdout, stderr, err := openOutput(sandbox, outLimit, errLimit)
	if err != nil {
		r.log.Error("cannot open the task's output files; its output is lost", "task", c.id, "err", err)
	} else {
		defer stdout.Close()
		defer stderr.Close()
	}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return
		}
		if stdout != nil {
			r.copyLogs(ctx, c, lc, stdout, stderr)
		}
		st, err := r.cli.ContainerInspect(ctx, c.name)
		switch {
		case ctx.Err() != nil:
			return
		case cerrdefs.IsNotFound(err):
			r.report(c, task.Exit{Kind: task.Unknown})
			return
		case err != nil:
			r.log.Warn("cannot inspect the task's container; retrying", "task", c.id, "container", c.name, "err", err)
		case st.State != nil && st.State.Status == "created":
			// Made but never started: the agent stopped mid-launch.
			r.remove(c.name)
			r.report(c, task.Exit{Kind: task.NotStarted})
			return
		case st.State != nil && !st.State.Running && !st.State.Restarting:
			lc.save()
			r.remove(c.name)
			r.report(c, task.Exit{Kind: task.Exited, Code: st.State.ExitCode, OOM: st.State.OOMKilled})
			return
		default:
			// Still running: the log stream ended early (the engine
			// restarted, the connection dropped). Wait for the end.
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			waitC, errC := r.cli.ContainerWait(wctx, c.name, container.WaitConditionNotRunning)
			select {
			case <-waitC:
			case <-errC:
			case <-wctx.Done():
			}
			wcancel()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt+1)*500*time.Millisecond, 5*time.Second)):
		}
	}
}

// copyLogs copies the container's output from where lc stands until the
// stream ends (the container stopped, or the connection dropped).
func (r *Runner) copyLogs(ctx context.Context, c *ctr, lc *logCopy, stdout, stderr io.Writer) {
	rc, err := r.cli.ContainerLogs(ctx, c.name, container.LogsOptions{ShowStdout: true, ShowStderr: true,
		Follow: true, Timestamps: true, Since: lc.Since()})
	if err != nil {
		if ctx.Err() == nil && !cerrdefs.IsNotFound(err) {
			r.log.Warn("cannot read the task's container output", "task", c.id, "err", err)
		}
		return
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(lc.writer(stdout), lc.writer(stderr), rc); err != nil && ctx.Err() == nil {
		r.log.Warn("reading the task's container output", "task", c.id, "err", err)
	}
}

// report delivers c's end once.
func (r *Runner) report(c *ctr, e task.Exit) {
	r.mu.Lock()
	if c.done {
		r.mu.Unlock()
		return
	}
	c.done = true
	if c.killT != nil {
		c.killT.Stop()
	}
	delete(r.ctrs, c.id)
	r.mu.Unlock()
	select {
	case r.exits <- runner.Exit{ID: c.id, Exit: e}:
	case <-r.closing:
	}
}

// remove removes a stopped container.
func (r *Runner) remove(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		r.log.Warn("removing the task's container", "container", name, "err", err)
	}
}

// Kill sends the container SIGTERM, then SIGKILL after grace unless it
// ended. ErrUnknown: the runner watches no container by that id.
func (r *Runner) Kill(id string, grace time.Duration) error {
	r.mu.Lock()
	c := r.ctrs[id]
	if c == nil || c.done {
		r.mu.Unlock()
		return ErrUnknown
	}
	name := c.name
	if c.killT == nil {
		c.killT = time.AfterFunc(grace, func() {
			r.mu.Lock()
			done := c.done
			r.mu.Unlock()
			if done {
				return
			}
			r.log.Info("grace period over, sending SIGKILL", "task", id, "container", name)
			r.signal(name, "SIGKILL")
		})
	}
	r.mu.Unlock()
	r.signal(name, "SIGTERM")
	return nil
}

// signal sends a signal to a container's main process.
func (r *Runner) signal(name, sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.cli.ContainerKill(ctx, name, sig); err != nil && !cerrdefs.IsNotFound(err) &&
		!strings.Contains(err.Error(), "is not running") {
		r.log.Warn("signalling the task's container", "container", name, "signal", sig, "err", err)
	}
}

// RemoveOrphans removes this agent's containers (by label) whose names
// live does not hold: those of tasks the agent no longer knows, left by
// an agent that was killed. It returns how many it removed.
func (r *Runner) RemoveOrphans(ctx context.Context, live map[string]bool) (int, error) {
	list, err := r.cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelAgent+"="+r.key))})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		if live[name] {
			continue
		}
		if err := r.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		r.log.Info("removed an orphan container", "container", name, "task", c.Labels[LabelTask], "framework", c.Labels[LabelFramework])
		n++
	}
	return n, errors.Join(errs...)
}

// Close stops watching without touching the containers: they keep
// running and a later runner can Adopt them. Close waits for the
// watchers to return.
func (r *Runner) Close() {
	r.mu.Lock()
	select {
	case <-r.closing:
		r.mu.Unlock()
		return
	default:
	}
	close(r.closing)
	for _, c := range r.ctrs {
		if c.killT != nil {
			c.killT.Stop()
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.cli.Close()
}

// Exec runs argv with env in the running container name, as a command
// health check does, and returns its exit code once it ends (or ctx
// does: the command is then abandoned, still running in the container).
func (r *Runner) Exec(ctx context.Context, name string, argv, env []string) (int, error) {
	created, err := r.cli.ContainerExecCreate(ctx, name, container.ExecOptions{Cmd: argv, Env: env,
		AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, err
	}
	att, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, att.Reader)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return -1, ctx.Err()
	}
	att.Close()
	ins, err := r.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return -1, err
	}
	return ins.ExitCode, nil
}

// ContainerEnv returns a task's environment as its container gets it:
// without the agent's PATH and HOME unless the task's own variables
// (own) set them, since the image has its own, and with the sandbox
// variables pointing at SandboxMount.
func ContainerEnv(env []string, own map[string]bool) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if (name == "PATH" || name == "HOME") && !own[name] {
			continue
		}
		out = append(out, kv)
	}
	return sandboxEnv(out)
}

// Reachable reports whether the Docker engine at socket (Config.Socket)
// answers: nil, or why not.
func Reachable(ctx context.Context, socket string) error {
	r, err := New(ctx, Config{Socket: socket, AgentKey: "probe"}, nil)
	if err != nil {
		return err
	}
	r.cli.Close()
	return nil
}
