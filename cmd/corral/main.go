// Command corral is the single binary of the corral cluster: the master,
// the agent, the migration tool, and (as they arrive) the frameworks and
// client verbs. It is the only composition root: it turns flags and
// CORRAL_* environment variables into configs, wires the parts together
// and runs them until SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // job schedules need IANA zones even where the host has none

	"corral/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func commands() []*command {
	return []*command{devCommand(), masterCommand(), agentCommand(), servicesCommand(), jobsCommand(), migrateCommand(), secureInitCommand(), loggerCommand(), versionCommand()}
}

func run(args []string) int {
	cmds := commands()
	mentionClientVerbs(cmds)
	if cli.Handles(args) {
		return runClient(args)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if code, ok := clientHelp(args[1:]); ok {
				return code
			}
			for _, c := range cmds {
				if c.name == args[1] {
					printUsage(os.Stdout, c)
					return 0
				}
			}
		}
		usage(cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		c.fs.Usage = func() { printUsage(os.Stderr, c) }
		if err := parse(c.fs, args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "corral %s: %v\n", c.name, err)
			return 2
		}
		if err := c.run(c.fs.Args()); err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(os.Stderr, "corral %s: %v\n", c.name, err)
				printUsage(os.Stderr, c)
				return 2
			}
			fmt.Fprintf(os.Stderr, "corral %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "corral: unknown command %q\n\n", args[0])
	usage(cmds)
	return 2
}

func usage(cmds []*command) {
	fmt.Println("corral — a lean cluster kernel (master, agents, resource offers) with its frameworks.")
	fmt.Println("\nUsage: corral <command> [flags]\n\nCommands:")
	for _, c := range cmds {
		fmt.Printf("  %-10s %s\n", c.name, c.summary)
	}
	fmt.Println("\nRun 'corral <command> --help' for the flags of a command.")
	fmt.Println()
	cli.Usage(os.Stdout)
}

// usageError marks errors caused by how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// signalContext returns a context cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// logFlags are the logging flags every server command has.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log_level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log_format", "text", "log format: text or json")
}

func (l *logFlags) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usageError{fmt.Sprintf("log_level: %q is not one of debug, info, warn, error", l.level)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("log_format: %q is not text or json", l.format)}
}

func versionCommand() *command {
	c := &command{name: "version", summary: "print the version", fs: flag.NewFlagSet("version", flag.ContinueOnError)}
	c.run = func([]string) error {
		fmt.Println("corral", version)
		return nil
	}
	return c
}
