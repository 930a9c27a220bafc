package main

import (
	"os"

	"corral/internal/cli"
)

// runClient runs a client verb (`corral app deploy ...`, see
// internal/cli) with the process's stdio and environment; SIGINT and
// SIGTERM cancel it. It returns the verb's exit code.
func runClient(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return cli.Run(ctx, args, cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv})
}

// clientHelp reports whether args (after "corral help") name a client
// verb or group, and if so prints its help.
func clientHelp(args []string) (code int, ok bool) {
	if !cli.Handles(args) {
		return 0, false
	}
	return runClient(append(append([]string{}, args...), "--help")), true
}

// mentionClientVerbs points `corral agent --help` at `corral agent list`:
// the server command and the client verb share their first word.
func mentionClientVerbs(cmds []*command) {
	for _, c := range cmds {
		if c.name == "agent" {
			c.usage += "\n       corral agent list [flags]   (the client verb: list the cluster's agents; see 'corral agent list --help')"
		}
	}
}
