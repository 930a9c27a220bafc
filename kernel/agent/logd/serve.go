package logd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/logrotate"
)

// SocketFD is the writer's end of the agent's socket in a writer
// process.
const SocketFD = 4

// Main is the writer's command line (corral-logger, `corral logger`): it
// takes no arguments and serves the socket on SocketFD. It returns the
// exit code.
func Main(args []string, errOut io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(errOut, "logger: takes no arguments (the agent hands it tasks' output on fd %d), got %q\n", SocketFD, args)
		return 2
	}
	// A kill of a task's group, or a terminal's, does not cut output.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	f := os.NewFile(SocketFD, "agent-socket")
	if f == nil {
		fmt.Fprintf(errOut, "logger: no socket on fd %d\n", SocketFD)
		return 2
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(errOut, "logger: fd %d: %v\n", SocketFD, err)
		return 2
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		fmt.Fprintf(errOut, "logger: fd %d is not a unix socket\n", SocketFD)
		return 2
	}
	if err := Serve(uc); err != nil {
		fmt.Fprintln(errOut, "logger:", err)
		return 1
	}
	return 0
}

// Serve copies the streams of every request read from conn into their
// files. It returns once conn has ended and every stream has ended; the
// error is a broken request, after which no more are read. Replies whose
// agent has gone are dropped.
func Serve(conn *net.UnixConn) error {
	defer conn.Close()
	var (
		wg  sync.WaitGroup
		wmu sync.Mutex
	)
	send := func(r reply) {
		b, err := encode(r)
		if err != nil {
			return
		}
		wmu.Lock()
		_, _ = conn.Write(b)
		wmu.Unlock()
	}
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(2*4))
	var err error
	for {
		n, oobn, _, _, rerr := conn.ReadMsgUnix(buf, oob)
		if rerr != nil || n == 0 && oobn == 0 {
			break // the agent's end is closed
		}
		fds, perr := rights(oob[:oobn])
		var req request
		if perr == nil {
			perr = json.Unmarshal(buf[:n], &req)
		}
		if perr == nil && len(fds) != 2 {
			perr = fmt.Errorf("request %d carries %d descriptors; want 2", req.Seq, len(fds))
		}
		if perr != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			err = fmt.Errorf("broken request: %w", perr)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(reply{Done: req.Seq, Err: copyStreams(req, fds[0], fds[1])})
		}()
	}
	wg.Wait()
	return err
}

// rights returns the descriptors passed in oob.
func rights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range got {
			unix.CloseOnExec(fd)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// streamBuffer is each stream's read buffer: a pipe holds 64 KiB, and
// a task's output is read as it comes, so a smaller buffer costs little
// speed and keeps a writer with many tasks small.
const streamBuffer = 16 << 10

// copyStreams copies the two pipes into req.Dir's stdout and stderr
// until both end; it returns what could not be written, if anything.
func copyStreams(req request, out, errfd int) string {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	one := func(fd int, name string, l logrotate.Limits) {
		defer wg.Done()
		if err := copyStream(fd, filepath.Join(req.Dir, name), l); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	wg.Add(2)
	go one(out, "stdout", req.Stdout)
	go one(errfd, "stderr", req.Stderr)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err.Error()
	}
	return ""
}

// copyStream copies the pipe fd into a rotated file at path until the
// pipe ends. A file it cannot write is given up and the pipe drained.
func copyStream(fd int, path string, l logrotate.Limits) error {
	// Non-blocking, so that a parked read waits in the network poller
	// rather than on an OS thread.
	_ = unix.SetNonblock(fd, true)
	in := os.NewFile(uintptr(fd), path)
	defer in.Close()
	w, err := logrotate.Open(path, l, 0o644)
	if err != nil {
		_, _ = io.Copy(io.Discard, in)
		return err
	}
	buf := make([]byte, streamBuffer)
	var werr error
	for {
		n, rerr := in.Read(buf)
		if n > 0 && werr == nil {
			if _, err := w.Write(buf[:n]); err != nil {
				werr = fmt.Errorf("writing %s: %w", path, err)
			}
		}
		if rerr != nil {
			if cerr := w.Close(); werr == nil && cerr != nil {
				werr = cerr
			}
			if rerr != io.EOF && werr == nil {
				werr = fmt.Errorf("reading the task's output for %s: %w", path, rerr)
			}
			return werr
		}
	}
}
