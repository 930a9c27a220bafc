package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"corral/kernel/agent/logrotate"
)

// loggerCommand is the agent's task log writer: the agent's tasks write
// their stdout and stderr into a pipe, and one of these per stream copies
// it into the sandbox file, rotating it by size. It outlives an agent
// restart with its task and stops at the end of its input.
func loggerCommand() *command {
	var l logrotate.Limits
	fs := flag.NewFlagSet("logger", flag.ContinueOnError)
	fs.Int64Var(&l.MaxSize, "max_size", logrotate.DefaultMaxSize, "bytes at which FILE is rotated to FILE.1 (0: never)")
	fs.IntVar(&l.MaxFiles, "max_files", logrotate.DefaultMaxFiles, "files kept, FILE included")
	c := &command{name: "logger", summary: "(used by the agent) copy standard input into a task's log file, rotating it by size", usage: "[flags] FILE", fs: fs}
	c.run = func(args []string) error {
		if len(args) != 1 {
			return usageError{"want exactly one FILE"}
		}
		// A kill of the task's process group must not cut its last
		// output: the logger ends when its input does.
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		if err := logrotate.Copy(os.Stdin, args[0], l); err != nil {
			return fmt.Errorf("logger: %w", err)
		}
		return nil
	}
	return c
}
