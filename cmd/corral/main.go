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
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	_ "time/tzdata" // job schedules need IANA zones even where the host has none

	"corral/internal/cli"
	"corral/internal/suggest"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func commands() []*command {
	return []*command{devCommand(), masterCommand(), agentCommand(), servicesCommand(), jobsCommand(), migrateCommand(), secureInitCommand(), loggerCommand(), completionCommand(), versionCommand()}
}

// run runs the command line args (after "corral") with the process's
// stdio and returns the exit code.
func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith is run writing to stdout and stderr. Help asked for goes to
// stdout; a mistake is told on stderr in a line or two, with the likely
// intended word and where to find help, never with the whole usage.
func runWith(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	mentionClientVerbs(cmds)
	if cli.Handles(args) {
		return runClient(args, stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if code, ok := clientHelp(args[1:], stdout, stderr); ok {
				return code
			}
			for _, c := range cmds {
				if c.name == args[1] {
					printUsage(stdout, c)
					return 0
				}
			}
		}
		if len(args) == 0 {
			usage(stderr, cmds)
			return 2
		}
		usage(stdout, cmds)
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		c.fs.SetOutput(io.Discard)
		c.fs.Usage = func() {}
		hint := func() {
			fmt.Fprintf(stderr, "Run 'corral %s --help' for its flags.\n", c.name)
		}
		if err := parse(c.fs, args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(stdout, c)
				return 0
			}
			fmt.Fprintf(stderr, "corral %s: %v\n", c.name, err)
			hint()
			return 2
		}
		if err := c.run(c.fs.Args()); err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "corral %s: %v\n", c.name, err)
				if c.name == "agent" && len(c.fs.Args()) > 0 {
					// `corral agent lst`: most likely a client verb.
					if v := suggest.Word(c.fs.Arg(0), cli.VerbNames("agent")); v != "" {
						fmt.Fprintf(stderr, "Did you mean \"corral agent %s\"?\n", v)
					}
				}
				hint()
				return 2
			}
			fmt.Fprintf(stderr, "corral %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "corral: unknown command %q\n%sRun 'corral --help' for the commands.\n", args[0], suggest.DidYouMean(args[0], commandNames(cmds)))
	return 2
}

// commandNames lists every first word corral takes: its commands, the
// client verbs' groups and help.
func commandNames(cmds []*command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.name)
	}
	for _, g := range cli.GroupNames() {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return append(out, "help")
}

func usage(w io.Writer, cmds []*command) {
	fmt.Fprintln(w, "corral — a lean cluster kernel (master, agents, resource offers) with its frameworks.")
	fmt.Fprint(w, "\nUsage: corral <command> [flags]\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'corral <command> --help' for the flags of a command; 'corral --version' prints the version.")
	fmt.Fprintln(w)
	cli.Usage(w)
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
