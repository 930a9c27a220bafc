package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"corral/kernel/agent/health"
	"corral/kernel/agent/task"
)

// Host is where HTTP and TCP checks connect: tasks share the agent's
// network.
const Host = "127.0.0.1"

// maxBody bounds how much of an HTTP check's response is read (and
// discarded) so that a connection ends cleanly.
const maxBody = 64 << 10

// Target is where a task's command checks run.
type Target struct {
	// Dir is the task's sandbox, the command's working directory.
	Dir string
	// Env is the command's environment (the task's, with the check's own
	// variables applied), as NAME=value strings. Its PATH is where a
	// non-shell command is looked up.
	Env []string
	// Credential, when set, is the user the command runs as (the task's:
	// a check must not run with more rights than its task); nil runs it
	// as the agent's own user.
	Credential *syscall.Credential
	// Exec, when set, runs a command check instead of a local process:
	// inside the task's container (the check's argv and environment; it
	// returns the exit code, or an error when the command could not be
	// run). Dir and Credential are then unused.
	Exec func(ctx context.Context, argv, env []string) (int, error)
}

// Prober runs probes. It is safe for concurrent use; probes run
// independently of each other.
type Prober struct {
	client *http.Client
}

// New returns a Prober.
func New() *Prober {
	return &Prober{client: &http.Client{
		// A redirect is an answer (3xx passes by default), as with curl.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			// Tasks serve self-signed certificates as often as not.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true, // one connection per probe, none idle between probes
			Proxy:             nil,  // the target is local: never through a proxy
		},
	}}
}

// Probe runs one probe of c and returns its result. It returns when the
// probe ends, when c.Timeout has passed, or when ctx ends, whichever comes
// first; the result is then a failure saying so.
func (p *Prober) Probe(ctx context.Context, c health.Check, t Target) health.Result {
	pctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var r health.Result
	switch c.Kind {
	case health.Command:
		r = runCommand(pctx, c, t)
	case health.HTTP:
		r = p.get(pctx, c)
	case health.TCP:
		r = dial(pctx, c)
	default:
		return health.Result{Detail: "unsupported check kind " + c.Kind.String()}
	}
	if !r.OK && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		r.Detail = fmt.Sprintf("%s timed out after %v", what(c), c.Timeout)
	}
	return r
}

// what names the probe of c in messages.
func what(c health.Check) string {
	switch c.Kind {
	case health.Command:
		return "command"
	case health.HTTP:
		return "GET " + checkURL(c)
	}
	return "connection to " + net.JoinHostPort(Host, strconv.Itoa(c.Port))
}

func checkURL(c health.Check) string {
	return c.Scheme + "://" + net.JoinHostPort(Host, strconv.Itoa(c.Port)) + c.Path
}

func runCommand(ctx context.Context, c health.Check, t Target) health.Result {
	argv := c.Argv()
	if len(argv) == 0 {
		return health.Result{Detail: "check has no command"}
	}
	if t.Exec != nil {
		code, err := t.Exec(ctx, argv, t.Env)
		switch {
		case err != nil:
			return health.Result{Detail: fmt.Sprintf("running command in the container: %v", err)}
		case code == 0:
			return health.Result{OK: true, Detail: "command exited with status 0"}
		}
		return health.Result{Detail: fmt.Sprintf("command exited with status %d", code)}
	}
	path, err := lookPath(argv[0], t.Env)
	if err != nil {
		return health.Result{Detail: err.Error()}
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir, cmd.Env = t.Dir, t.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never the agent's own environment
	}
	// Stdin and output are /dev/null: no pipes a lingering grandchild could
	// hold open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: t.Credential}
	// Kill the whole group: a shell's children must not outlive the probe.
	// The leader is not reaped yet when Cancel runs, so its pid still names
	// the group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return health.Result{OK: true, Detail: "command exited with status 0"}
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return health.Result{Detail: "command terminated by signal " + task.SignalName(int(ws.Signal()))}
		}
		return health.Result{Detail: fmt.Sprintf("command exited with status %d", ee.ExitCode())}
	}
	return health.Result{Detail: fmt.Sprintf("running command: %v", err)}
}

// lookPath finds name as the task would: in the PATH of its environment,
// not the agent's.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	dirs := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			dirs = v
		}
	}
	for _, d := range filepath.SplitList(dirs) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the task's PATH", name)
}

func (p *Prober) get(ctx context.Context, c health.Check) health.Result {
	u := checkURL(c)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return health.Result{Detail: fmt.Sprintf("GET %s: %v", u, err)}
	}
	req.Header.Set("User-Agent", "corral-health-check")
	resp, err := p.client.Do(req)
	if err != nil {
		return health.Result{Detail: fmt.Sprintf("GET %s: %v", u, unwrapURLError(err))}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	detail := fmt.Sprintf("GET %s returned status %d", u, resp.StatusCode)
	return health.Result{OK: c.Passes(resp.StatusCode), Detail: detail}
}

// unwrapURLError drops the "Get \"url\":" prefix the message already has.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func dial(ctx context.Context, c health.Check) health.Result {
	addr := net.JoinHostPort(Host, strconv.Itoa(c.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return health.Result{Detail: fmt.Sprintf("connecting to %s: %v", addr, err)}
	}
	conn.Close()
	return health.Result{OK: true, Detail: "connected to " + addr}
}
