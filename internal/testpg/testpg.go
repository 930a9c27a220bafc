// Package testpg gives tests a fresh, empty Postgres database on a real
// server.
//
// Where the server comes from:
//
//   - If CORRAL_TEST_DATABASE_URL is set, it names a running server (and a
//     database on it to connect to, usually "postgres"). Each call to URL
//     creates a uniquely named database there and drops it when the test ends.
//   - Otherwise the first call to URL in a test binary starts a throwaway
//     cluster (initdb + postgres in a temporary directory, fsync off, small
//     shared_buffers, loopback TCP on a free port), shared by every test in
//     that binary. Main stops it and removes its directory when the tests end.
//     When running as root, initdb and postgres run as the "postgres" OS user,
//     because Postgres refuses to run as root.
//
// A package that uses the throwaway cluster must call Main from its TestMain:
//
//	func TestMain(m *testing.M) { testpg.Main(m) }
//
// If the test binary dies without reaching the end of Main (a panic, a test
// timeout, a kill), the postmaster still stops: it is started with a
// parent-death signal, in its own process group. The directory of such a run
// is swept by the next run that starts a cluster.
//
// If the Postgres binaries cannot be found, tests that need a database are
// skipped with a message saying so, or fail when the CI environment variable
// is "true", so that CI never passes without having run them.
//
// Stop, Start and Restart control the throwaway server for fault tests
// ("Postgres goes away"). They affect every test in the binary, so tests that
// call them must not run in parallel with other tests that use the database.
package testpg

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/internal/childproc"
	"corral/internal/localpg"
)

// EnvURL is the environment variable that names an existing server to use
// instead of a throwaway one.
const EnvURL = "CORRAL_TEST_DATABASE_URL"

const (
	dirPrefix    = "corral-testpg-"
	ownerFile    = "owner.pid"
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	sqlTimeout   = 30 * time.Second
)

// local is the throwaway server of this test binary. It is package state on
// purpose: one cluster is shared by all the tests of a binary, and Main, which
// the testing package gives no other handle, must be able to stop it.
var local server

// URL returns a connection URL (postgres://…) for a new, empty database that
// no other test uses. The database is dropped when t ends. URL is safe to call
// from parallel tests.
func URL(t testing.TB) string {
	t.Helper()
	admin, external := adminURL(t)
	name, err := newName()
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	if err := exec1(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testpg: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !external && !local.running() {
			// The server was stopped by the test and not started again; the
			// whole cluster is thrown away at the end anyway.
			return
		}
		q := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if err := exec1(admin, q); err != nil {
			t.Errorf("testpg: dropping database %s: %v", name, err)
		}
	})
	return u
}

// Main runs the tests of m, then stops the throwaway server (if one was
// started) and removes its directory, and exits with the tests' status. Call
// it from TestMain.
func Main(m *testing.M) {
	local.mu.Lock()
	local.mainCalled = true
	local.mu.Unlock()
	code := m.Run()
	if err := local.shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "testpg: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops the throwaway server (a fast shutdown: clients are
// disconnected). Connections fail until Start. If t ends with the server
// still stopped, it is started again so that later tests find it running.
// With CORRAL_TEST_DATABASE_URL set the server is not ours, and t is skipped.
func Stop(t testing.TB) {
	t.Helper()
	controlled(t)
	if err := local.stop(); err != nil {
		t.Fatalf("testpg: stopping postgres: %v", err)
	}
	t.Cleanup(func() {
		if !local.running() {
			if err := local.launch(); err != nil {
				t.Errorf("testpg: starting postgres again after the test: %v", err)
			}
		}
	})
}

// Start starts the throwaway server again after Stop, on the same port and
// data, so URLs handed out before stay valid. It returns once the server
// accepts connections. Start on a running server does nothing.
func Start(t testing.TB) {
	t.Helper()
	controlled(t)
	if local.running() {
		return
	}
	if err := local.launch(); err != nil {
		t.Fatalf("testpg: starting postgres: %v", err)
	}
}

// Restart stops the throwaway server and starts it again.
func Restart(t testing.TB) {
	t.Helper()
	Stop(t)
	Start(t)
}

// controlled makes sure the throwaway server exists, or skips t when the
// server is an external one.
func controlled(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		t.Skipf("testpg: the server at %s is not ours to stop or start", EnvURL)
	}
	adminURL(t)
}

// adminURL returns the URL of a database to run CREATE/DROP DATABASE from, and
// whether the server is external.
func adminURL(t testing.TB) (string, bool) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u, true
	}
	local.mu.Lock()
	mainCalled := local.mainCalled
	local.mu.Unlock()
	if !mainCalled {
		t.Fatal("testpg: the package's TestMain must call testpg.Main(m) so the throwaway postgres is stopped")
	}
	local.once.Do(func() { local.missing, local.startErr = local.setup() })
	if local.missing != "" {
		msg := "testpg: " + local.missing + "; install PostgreSQL (e.g. apt-get install postgresql) or set " + EnvURL
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if local.startErr != nil {
		t.Fatalf("testpg: starting a throwaway postgres: %v", local.startErr)
	}
	return local.url("postgres"), false
}

// server is a throwaway Postgres cluster: one data directory and at most one
// running postmaster.
type server struct {
	once     sync.Once
	missing  string // why the binaries are unusable, if they are
	startErr error

	mu         sync.Mutex
	mainCalled bool
	bindir     string
	dir        string              // everything lives here; also the socket dir
	cred       *syscall.Credential // nil: run as ourselves
	port       int
	proc       *process // nil when stopped
}

// process is a running postmaster.
type process = childproc.Process

func (s *server) url(db string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.Done:
		return false
	default:
		return true
	}
}

// setup creates the cluster and starts it. A non-empty missing means the
// binaries are not there, which is not an error of the cluster.
func (s *server) setup() (missing string, err error) {
	bindir, err := localpg.FindBinDir()
	if err != nil {
		return err.Error(), nil
	}
	cred, err := localpg.Credential()
	if err != nil {
		return "", err
	}
	base, err := baseDir(cred != nil)
	if err != nil {
		return "", err
	}
	sweep(base)
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return "", fmt.Errorf("creating cluster directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", fmt.Errorf("writing owner file: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("handing %s to the postgres user: %w", dir, err)
		}
	}
	s.mu.Lock()
	s.bindir, s.dir, s.cred = bindir, dir, cred
	s.mu.Unlock()

	initdb := exec.Command(filepath.Join(bindir, "initdb"),
		"-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return "", s.launch()
}

// launch starts the postmaster and waits until it accepts connections. The
// first launch picks a free port; later ones reuse it.
func (s *server) launch() error {
	const attempts = 5
	var err error
	for range attempts {
		s.mu.Lock()
		fresh := s.port == 0
		if fresh {
			s.port, err = freePort()
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if err = s.launchOnce(); err == nil {
			return nil
		}
		if !fresh || !strings.Contains(err.Error(), "could not bind") {
			return err
		}
		// Someone took the port between our probe and the bind; pick another.
		s.mu.Lock()
		s.port = 0
		s.mu.Unlock()
	}
	return err
}

func (s *server) launchOnce() error {
	s.mu.Lock()
	dir, port := s.dir, s.port
	cmd := exec.Command(filepath.Join(s.bindir, "postgres"),
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port),
		"-h", "127.0.0.1",
		"-k", dir,
		"-F", // fsync off: the data is thrown away
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
	)
	cred := s.cred
	s.mu.Unlock()

	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group, so a ^C meant for the tests does not reach
		// it halfway; Main stops it in order.
		Setpgid: true,
		// If the test binary dies without running Main, stop with it.
		Pdeathsig: syscall.SIGINT,
	}
	p, err := childproc.StartLocked(cmd)
	if err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := localpg.AwaitReady(context.Background(), p, s.url("postgres"), startTimeout, logPath); err != nil {
		_ = s.stop()
		return err
	}
	return nil
}

// stop shuts the postmaster down (fast shutdown), escalating to SIGKILL of its
// process group after stopTimeout. Stopping a stopped server does nothing.
func (s *server) stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return localpg.StopProcess(p, stopTimeout)
}

// shutdown stops the server and removes its directory.
func (s *server) shutdown() error {
	err := s.stop()
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir != "" {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", dir, rerr))
		}
	}
	return err
}

// baseDir picks where cluster directories go. When Postgres runs as another
// user, every ancestor must let that user through.
func baseDir(otherUser bool) (string, error) {
	d := os.TempDir()
	if !otherUser || localpg.Traversable(d) {
		return d, nil
	}
	if localpg.Traversable("/tmp") {
		return "/tmp", nil
	}
	return "", fmt.Errorf("neither %s nor /tmp can be entered by the postgres user", d)
}

// sweep removes cluster directories left by test binaries that died without
// running Main: those whose owner process is gone and in which no postmaster
// runs. A directory without an owner file may belong to another binary that
// is setting it up, so it is left alone.
func sweep(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, d := range dirs {
		owner := readPID(filepath.Join(d, ownerFile))
		if owner == 0 || alive(owner) {
			continue
		}
		if alive(readPID(filepath.Join(d, "data", "postmaster.pid"))) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// readPID reads the number on the first line of a pid file; 0 if none.
func readPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(sc.Text()))
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// exec1 runs one statement on a short-lived connection.
func exec1(connURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}

// withDatabase returns connURL with its database replaced by name.
func withDatabase(connURL, name string) (string, error) {
	u, err := url.Parse(connURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// newName returns a database name unique across concurrent test binaries.
func newName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("naming database: %w", err)
	}
	return fmt.Sprintf("corral_test_%d_%s", os.Getpid(), hex.EncodeToString(b[:])), nil
}
