package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"corral/internal/cli"
	"corral/kernel/master"
)

// command is one `corral` subcommand.
type command struct {
	name    string
	summary string
	usage   string // after "corral <name>"
	fs      *flag.FlagSet
	run     func(args []string) error
}

// envName is the environment variable that stands in for a flag.
func envName(flagName string) string {
	return "CORRAL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, then fills every flag not given on the command line
// from its CORRAL_* environment variable. Flags win over the environment.
func parse(fs *flag.FlagSet, args []string) error {
	if err := cli.ParseInterleaved(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// printUsage documents every flag with its default and environment
// variable.
func printUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: corral %s %s\n\n%s\n", c.name, c.usage, c.summary)
	var flags []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	fmt.Fprintf(w, "\nFlags (each can also be set with the environment variable shown):\n")
	for _, f := range flags {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n        %s\n        default: %s; env: %s\n", f.Name, f.Usage, def, envName(f.Name))
	}
}

// durationFlag is a time.Duration flag that also accepts plain seconds
// ("5" = 5s), as Mesos' duration flags accept units.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		var secs float64
		if _, e := fmt.Sscanf(s, "%g", &secs); e != nil {
			return fmt.Errorf("%q is not a duration (e.g. 5s, 1m30s)", s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	*f.d = d
	return nil
}

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, usage string) {
	fs.Var(durationFlag{p}, name, usage)
}

// flagValues lists every flag of fs with its value, for the operator
// API's GET_FLAGS; a password in a URL value is redacted.
func flagValues(fs *flag.FlagSet) []master.Flag {
	var out []master.Flag
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				v = u.Redacted()
			}
		}
		out = append(out, master.Flag{Name: f.Name, Value: v})
	})
	return out
}
