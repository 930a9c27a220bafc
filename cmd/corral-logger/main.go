// Command corral-logger is the agent's task log writer, as `corral
// logger` but small, so that starting one per task costs little: it
// copies a task's stdout (standard input) and stderr (file descriptor 4)
// into the sandbox's files, rotating them by size (package logrotate).
// The agent runs it when it lies next to the corral binary.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"corral/kernel/agent/logrotate"
)

func main() {
	// A kill of the task does not cut its last output: the logger ends
	// when its input does.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	os.Exit(logrotate.Main(os.Args[1:], os.Stderr))
}
