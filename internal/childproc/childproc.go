// Package childproc starts the servers tests need (Postgres, ZooKeeper) as
// children that die with the test binary.
package childproc

import (
	"os/exec"
	"runtime"
)

// Process is a started child.
type Process struct {
	Cmd  *exec.Cmd
	Done chan struct{} // closed when it has exited
}

// StartLocked starts cmd from a goroutine locked to its OS thread, which
// stays alive until the child exits. The parent-death signal
// (cmd.SysProcAttr.Pdeathsig) fires when the thread that forked the child
// exits, not the process, so an unlocked thread retired by the runtime
// would kill the server early.
func StartLocked(cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, Done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the child.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.Done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}
