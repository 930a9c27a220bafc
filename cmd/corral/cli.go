package main

import (
	"io"
	"os"

	"corral/internal/cli"
)

// runClient runs a client verb (`corral app deploy ...`, see
// internal/cli) with the process's stdio and environment; SIGINT and
// SIGTERM cancel it. It returns the verb's exit code.
func runClient(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	return cli.Run(ctx, args, cli.Env{Stdout: stdout, Stderr: stderr, Stdin: os.Stdin, Getenv: os.Getenv})
}

// clientHelp reports whether args (after "corral help") name a client
// verb or group, and if so prints its help.
func clientHelp(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if !cli.Handles(args) {
		return 0, false
	}
	return runClient(append(append([]string{}, args...), "--help"), stdout, stderr), true
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
