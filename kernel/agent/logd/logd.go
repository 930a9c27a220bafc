// Package logd is the agent's task log writer: one long-lived process per
// task user that copies every task's stdout and stderr into the files of
// its sandbox, rotated by size (package logrotate).
//
// Starting a process costs far more than a task's output does, so the
// agent starts one writer per user, not one per task, and hands it each
// task's streams as they come:
//
//	agent (Client)                          writer (Serve), as the task's user
//	  socketpair (SOCK_SEQPACKET) ────────▶ fd 4
//	  per task: two pipes
//	  send {seq, dir, limits} + read ends ─▶ opens dir/stdout, dir/stderr,
//	  the task writes to the write ends       copies until both pipes end
//	  done(seq) closes  ◀───────────────────  {done: seq}
//
// The writer runs in its own session, outside every task's cgroup and
// process group: it costs the tasks no memory, a kill of a task does not
// cut its last output, and it outlives an agent restart. It ends once the
// agent's end of the socket is closed (the agent stopped, or dropped it)
// and every stream it was handed has ended, so a restarted agent starts
// a new writer for new tasks while the old one finishes the old tasks'
// output.
//
// A file the writer cannot write is reported back to the agent and the
// stream is drained, so that the task is not stopped by a broken pipe.
package logd

import (
	"encoding/json"
	"fmt"

	"corral/kernel/agent/logrotate"
)

// request hands the writer one task's streams: the read ends of its
// stdout and stderr pipes travel with it, in that order, as SCM_RIGHTS.
type request struct {
	Seq    uint64           `json:"seq"`
	Dir    string           `json:"dir"`
	Stdout logrotate.Limits `json:"stdout"`
	Stderr logrotate.Limits `json:"stderr"`
}

// reply reports a request's end: Done once both streams have ended and
// their files are closed; Err, if set, what could not be written (the
// stream was drained instead).
type reply struct {
	Done uint64 `json:"done"`
	Err  string `json:"err,omitempty"`
}

// maxMessage bounds one message on the socket; a sandbox path is far
// shorter.
const maxMessage = 64 << 10

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil && len(b) > maxMessage {
		err = fmt.Errorf("logd: message of %d bytes exceeds %d", len(b), maxMessage)
	}
	return b, err
}
