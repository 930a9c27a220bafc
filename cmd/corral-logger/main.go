// Command corral-logger is the agent's task log writer, as `corral
// logger` but small, so that starting it costs little: one per task user,
// it copies the stdout and stderr of every task the agent hands it into
// the tasks' sandbox files, rotating them by size (package logd). The
// agent runs it when it lies next to the corral binary.
package main

import (
	"os"

	"corral/kernel/agent/logd"
)

func main() {
	os.Exit(logd.Main(os.Args[1:], os.Stderr))
}
