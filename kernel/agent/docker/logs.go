package docker

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corral/kernel/agent/logrotate"
)

// logCopy appends a container's output, as the engine's log API gives it
// with timestamps, to the task's sandbox files, without the timestamps.
// It remembers the timestamp of the last message written (in memory and,
// at most every saveEvery, in a file), so that a copy resumed after an
// agent restart (Since, Skip) repeats at most the messages of the last
// saveEvery and loses none.
type logCopy struct {
	stateFile string

	// resume is the last message an earlier copy wrote: messages no newer
	// are repeats.
	resume time.Time

	mu    sync.Mutex
	last  time.Time // the newest message written
	saved time.Time // when last was last saved
}

// saveEvery bounds how often the last timestamp is written to disk.
const saveEvery = 500 * time.Millisecond

// loadLogCopy returns the copy of a container whose state lives in
// stateFile ("" keeps it in memory only), resuming from what the file
// holds.
func loadLogCopy(stateFile string) *logCopy {
	lc := &logCopy{stateFile: stateFile}
	if stateFile != "" {
		if b, err := os.ReadFile(stateFile); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, string(bytes.TrimSpace(b))); err == nil {
				lc.last, lc.resume = t, t
			}
		}
	}
	return lc
}

// Since is the engine's since for a resumed copy: the last message
// written, or "" to start from the beginning.
func (lc *logCopy) Since() string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.last.IsZero() {
		return ""
	}
	return lc.last.Format(time.RFC3339Nano)
}

// writer returns the writer for one stream, appending to f.
func (lc *logCopy) writer(f io.Writer) *stampedWriter {
	return &stampedWriter{lc: lc, f: f}
}

// seen records a message's timestamp; it reports false for a message no
// newer than the last one an earlier copy wrote (a resumed copy's
// repeat). Messages of this copy with equal timestamps are all written.
func (lc *logCopy) seen(t time.Time) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !t.IsZero() && !lc.resume.IsZero() && !t.After(lc.resume) {
		return false
	}
	if t.After(lc.last) {
		lc.last = t
	}
	if lc.stateFile != "" && time.Since(lc.saved) >= saveEvery {
		lc.saveLocked()
	}
	return true
}

// save writes the last timestamp now.
func (lc *logCopy) save() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.stateFile != "" {
		lc.saveLocked()
	}
}

func (lc *logCopy) saveLocked() {
	lc.saved = time.Now()
	if lc.last.IsZero() {
		return
	}
	tmp := lc.stateFile + ".tmp"
	if os.WriteFile(tmp, []byte(lc.last.Format(time.RFC3339Nano)), 0o600) == nil {
		_ = os.Rename(tmp, lc.stateFile)
	}
}

// stampedWriter takes one log message per Write, as the engine's
// multiplexed stream gives them: "<RFC 3339 timestamp> <text>". It
// writes the text of each message newer than the last one written.
type stampedWriter struct {
	lc *logCopy
	f  io.Writer
}

func (w *stampedWriter) Write(p []byte) (int, error) {
	text, ts := p, time.Time{}
	if i := bytes.IndexByte(p, ' '); i > 0 {
		if t, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil {
			text, ts = p[i+1:], t
		}
	}
	if !w.lc.seen(ts) {
		return len(p), nil
	}
	if _, err := w.f.Write(text); err != nil {
		return 0, err
	}
	return len(p), nil
}

// openOutput opens the sandbox's stdout and stderr for appending, rotated
// at their limits, made as the sandbox's owner when they do not exist.
func openOutput(sandbox string, outLimit, errLimit logrotate.Limits) (stdout, stderr *logrotate.Writer, err error) {
	uid, gid := -1, -1
	if fi, err := os.Stat(sandbox); err == nil {
		uid, gid = ownerOf(fi)
	}
	open := func(name string, l logrotate.Limits) (*logrotate.Writer, error) {
		path := filepath.Join(sandbox, name)
		w, err := logrotate.Open(path, l, 0o644)
		if err != nil {
			return nil, err
		}
		if uid >= 0 {
			_ = os.Lchown(path, uid, gid)
		}
		return w, nil
	}
	if stdout, err = open("stdout", outLimit); err != nil {
		return nil, nil, err
	}
	if stderr, err = open("stderr", errLimit); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}
