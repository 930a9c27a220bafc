package main

import (
	"flag"
	"os"
	"os/signal"
	"syscall"

	"corral/kernel/agent/logrotate"
)

// loggerCommand is the agent's task log writer, when no corral-logger
// lies next to this binary: see logrotate.Main. It outlives an agent
// restart with its task and stops at the end of its input.
func loggerCommand() *command {
	fs := flag.NewFlagSet("logger", flag.ContinueOnError)
	var out, errl logrotate.Limits
	logrotate.Flags(fs, &out, &errl)
	c := &command{name: "logger", summary: "(used by the agent) copy a task's stdout (stdin) and stderr (fd 4) into its sandbox files, rotating them by size", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		if len(args) > 0 {
			return usageError{"takes no arguments"}
		}
		if code := logrotate.Run(out, errl, os.Stderr); code != 0 {
			os.Exit(code)
		}
		return nil
	}
	return c
}
