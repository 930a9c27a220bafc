package logd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/logrotate"
)

// ErrGone is returned by Attach once the writer has ended or its socket
// broke: start another.
var ErrGone = errors.New("logd: the log writer has ended")

// Client is the agent's end of one writer process. Safe for concurrent
// use.
type Client struct {
	conn *net.UnixConn
	pid  int

	mu      sync.Mutex
	seq     uint64
	waiting map[uint64]*Stream
	gone    bool
	onError func(error) // told what the writer could not write

}

// Stream is one task's output in a writer: its done channel is closed
// once the writer has written all of it (or the writer has gone).
type Stream struct {
	done chan struct{}
}

// Done is closed when the writer has finished the stream's files.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Start starts a writer: exe run with args (its command line up to
// Main's), as cred (nil: the agent's user), in its own session, with the
// agent's end of its socket returned. The executable is handed to the
// writer as its fd 3 and run as /proc/self/fd/3, so that cred's user
// need not reach its directory. onError is told what the writer could
// not write, once per stream; it may be nil.
func Start(exe string, args []string, cred *syscall.Credential, onError func(error)) (*Client, error) {
	f, err := os.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("opening the log writer %s: %w", exe, err)
	}
	defer f.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("log writer socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "logd-agent"), os.NewFile(uintptr(fds[1]), "logd-writer")
	defer theirs.Close()
	cmd := exec.Command("/proc/self/fd/3", args...)
	cmd.Args[0] = "corral-logger"
	cmd.Dir, cmd.Env = "/", []string{}
	cmd.ExtraFiles = []*os.File{f, theirs} // fds 3 and 4 (SocketFD)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting the log writer: %w", err)
	}
	// Reaped in the background; an agent restart leaves it to init.
	go func() { _ = cmd.Wait() }()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, err
	}
	cl := &Client{conn: c.(*net.UnixConn), pid: cmd.Process.Pid, waiting: map[uint64]*Stream{}, onError: onError}
	go cl.read()
	return cl, nil
}

// PID is the writer's process id.
func (c *Client) PID() int { return c.pid }

// Attach hands the writer a task's output, to be written into dir's
// stdout and stderr at their limits, and returns the write ends of the
// two pipes (close-on-exec; the caller gives them to the task and closes
// them) and the stream. ErrGone means the writer has ended: start
// another and attach again.
func (c *Client) Attach(dir string, out, errl logrotate.Limits) (stdout, stderr int, s *Stream, err error) {
	var p1, p2 [2]int
	if err := unix.Pipe2(p1[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, nil, err
	}
	if err := unix.Pipe2(p2[:], unix.O_CLOEXEC); err != nil {
		unix.Close(p1[0])
		unix.Close(p1[1])
		return -1, -1, nil, err
	}
	defer unix.Close(p1[0])
	defer unix.Close(p2[0])
	fail := func(err error) (int, int, *Stream, error) {
		unix.Close(p1[1])
		unix.Close(p2[1])
		return -1, -1, nil, err
	}
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return fail(ErrGone)
	}
	c.seq++
	seq := c.seq
	s = &Stream{done: make(chan struct{})}
	c.waiting[seq] = s
	c.mu.Unlock()
	b, err := encode(request{Seq: seq, Dir: dir, Stdout: out, Stderr: errl})
	if err == nil {
		_, _, err = c.conn.WriteMsgUnix(b, unix.UnixRights(p1[0], p2[0]), nil)
		if err != nil {
			c.end()
			err = fmt.Errorf("%w: %v", ErrGone, err)
		}
	}
	if err != nil {
		c.mu.Lock()
		delete(c.waiting, seq)
		c.mu.Unlock()
		return fail(err)
	}
	return p1[1], p2[1], s, nil
}

// read closes each stream as the writer reports it done, and every
// stream left once the writer has gone.
func (c *Client) read() {
	buf := make([]byte, maxMessage)
	for {
		n, err := c.conn.Read(buf)
		if err != nil || n == 0 {
			c.end()
			return
		}
		var r reply
		if json.Unmarshal(buf[:n], &r) != nil {
			continue
		}
		c.mu.Lock()
		s := c.waiting[r.Done]
		delete(c.waiting, r.Done)
		c.mu.Unlock()
		if r.Err != "" && c.onError != nil {
			c.onError(errors.New(r.Err))
		}
		if s != nil {
			close(s.done)
		}
	}
}

// end marks the writer gone and releases every stream's waiters.
func (c *Client) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	c.gone = true
	for seq, s := range c.waiting {
		close(s.done)
		delete(c.waiting, seq)
	}
	c.conn.Close()
}

// Close drops the agent's end of the socket: the writer finishes the
// streams it has and ends. Streams not yet done are released at once.
func (c *Client) Close() error {
	c.end()
	return nil
}
