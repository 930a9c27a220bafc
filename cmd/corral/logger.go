package main

import (
	"flag"
	"os"

	"corral/kernel/agent/logd"
)

// loggerCommand is the agent's task log writer, when no corral-logger
// lies next to this binary: see logd.Main. It outlives an agent restart
// and ends once its tasks' output has.
func loggerCommand() *command {
	fs := flag.NewFlagSet("logger", flag.ContinueOnError)
	c := &command{name: "logger", summary: "(used by the agent) write the stdout and stderr of a user's tasks into their sandbox files, rotating them by size", usage: "", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{"takes no arguments"}
		}
		if code := logd.Main(nil, os.Stderr); code != 0 {
			os.Exit(code)
		}
		return nil
	}
	return c
}
