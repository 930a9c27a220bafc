// Package localpg runs a private Postgres server from the machine's own
// PostgreSQL binaries, as a child process, with its data kept in a
// directory of the caller's choosing. `corral dev` uses it so that a laptop
// needs no database set up by hand; the test helper testpg shares its
// binary lookup and the identity Postgres runs as.
//
// The server listens on 127.0.0.1 only, over TCP (no Unix socket), and
// trusts local connections: it is for one developer's machine, not for
// production. When the caller is root, initdb and postgres run as the
// "postgres" OS user, because Postgres refuses to run as root.
//
// Layout of Options.Dir:
//
//	data/           the cluster (initdb'd on first start, kept after)
//	postgres.log    the server's log
package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/internal/childproc"
)

// ErrNoBinaries is returned (wrapped) by Start and FindBinDir when the
// machine has no PostgreSQL server binaries.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, postgres) found via pg_config, /usr/lib/postgresql/*/bin or PATH")

// Options configure Start.
type Options struct {
	// Dir holds the data directory and the log; it is created if missing.
	Dir string
	// Port is the TCP port on 127.0.0.1. Required.
	Port int
	// Database is created on first start if it does not exist (default
	// "corral").
	Database string
	// StartTimeout bounds the wait for the server to accept connections
	// (default 60s).
	StartTimeout time.Duration
}

// Server is a running private Postgres. Stop it with Stop; it also stops
// if this process dies (parent-death signal).
type Server struct {
	opts Options
	proc *childproc.Process
}

// Start initialises the cluster in opts.Dir if it has none, starts the
// server, waits until it accepts connections and makes sure the database
// exists. A port already taken is an error naming it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Port <= 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("port %d is not a TCP port", opts.Port)
	}
	if opts.Database == "" {
		opts.Database = "corral"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	bindir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := Credential()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if cred != nil {
		if !Traversable(filepath.Dir(dir)) {
			return nil, fmt.Errorf("the postgres OS user cannot enter %s (every parent directory needs o+x); choose another directory", filepath.Dir(dir))
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("handing %s to the postgres user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		_ = os.RemoveAll(data) // a half-made cluster from an interrupted initdb
		initdb := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"),
			"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		initdb.Dir = dir
		if out, err := initdb.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %w\n%s", err, out)
		}
	}
	if err := portFree(opts.Port); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(filepath.Join(bindir, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(opts.Port),
		"-h", "127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group, so the terminal's ^C reaches us first and
		// we stop the server after everything that uses it.
		Setpgid:   true,
		Pdeathsig: syscall.SIGINT,
	}
	p, err := childproc.StartLocked(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s := &Server{opts: opts, proc: p}
	if err := AwaitReady(ctx, p, s.url("postgres"), opts.StartTimeout, logPath); err != nil {
		_ = s.Stop()
		return nil, err
	}
	if err := s.ensureDatabase(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// URL returns the postgres:// URL of the database.
func (s *Server) URL() string { return s.url(s.opts.Database) }

// LogPath returns the path of the server's log.
func (s *Server) LogPath() string { return filepath.Join(s.opts.Dir, "postgres.log") }

func (s *Server) url(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.proc.Done }

// Stop shuts the server down (fast shutdown: open sessions are ended,
// committed data is kept) and waits for it, killing it after 30 s.
// Stopping twice is harmless.
func (s *Server) Stop() error { return StopProcess(s.proc, 30*time.Second) }

// StopProcess shuts a postmaster started in its own process group down
// (fast shutdown) and waits for it, killing the group after timeout. A
// process that has exited already is left alone.
func StopProcess(p *childproc.Process, timeout time.Duration) error {
	select {
	case <-p.Done:
		return nil
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.Done:
		return nil
	case <-time.After(timeout):
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.Done
	return fmt.Errorf("postgres did not stop within %v; killed", timeout)
}

// AwaitReady waits until the postmaster p accepts connections at adminURL,
// for at most timeout. If p exits first, or the time runs out, the error
// carries the end of its log at logPath.
func AwaitReady(ctx context.Context, p *childproc.Process, adminURL string, timeout time.Duration, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		select {
		case <-p.Done:
			return fmt.Errorf("postgres exited during startup:%s", Tail(logPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %v:%s", timeout, Tail(logPath, 20))
		case <-time.After(50 * time.Millisecond):
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, adminURL)
		ccancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
	}
}

func (s *Server) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to the local postgres: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.opts.Database).Scan(&exists); err != nil {
		return fmt.Errorf("looking up database %q: %w", s.opts.Database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.opts.Database}.Sanitize()); err != nil {
		return fmt.Errorf("creating database %q: %w", s.opts.Database, err)
	}
	return nil
}

// EnvBinDir names the environment variable that, when set, is the only
// place FindBinDir looks (to pick one of several installed versions).
const EnvBinDir = "CORRAL_PG_BINDIR"

// FindBinDir finds a directory holding initdb and postgres: $CORRAL_PG_BINDIR
// when set, else pg_config's bindir, then the newest
// /usr/lib/postgresql/*/bin, then PATH. It returns an error wrapping
// ErrNoBinaries if there is none.
func FindBinDir() (string, error) {
	ok := func(d string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv(EnvBinDir); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres: %w", EnvBinDir, d, ErrNoBinaries)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); ok(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if target, err := filepath.EvalSymlinks(p); err == nil && ok(filepath.Dir(target)) {
			return filepath.Dir(target), nil
		}
		if ok(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoBinaries
}

// pgVersion reads the major version from /usr/lib/postgresql/<v>/bin.
func pgVersion(bindir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	return v
}

// Credential returns the identity to run Postgres as: nil (ourselves)
// unless we are root, which Postgres refuses; then the "postgres" OS user.
func Credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a %q OS user to run postgres as: %w", "postgres", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing uid of postgres user: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing gid of postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// Traversable reports whether every directory from dir up to / lets
// others through (o+x), as the postgres user needs when we are root.
func Traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d on 127.0.0.1 is taken (another corral dev, or a Postgres of the machine?); choose another with --pg_port: %w", port, err)
	}
	return l.Close()
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return " (no server log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n" + strings.Join(lines, "\n")
}
