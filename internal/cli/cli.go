package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"corral/internal/apiclient"
	"corral/internal/edge"
	"corral/internal/suggest"
)

// Env is everything of the outside world a verb uses, so that Run can be
// tested without a process. The zero value is usable: output is
// discarded, stdin is empty and the environment has no variables.
type Env struct {
	// Stdout receives the verb's result (tables, --json documents,
	// progress lines); Stderr receives errors and, with --json, progress.
	Stdout, Stderr io.Writer
	// Stdin is read by `app deploy -` and `job add -`.
	Stdin io.Reader
	// Getenv looks up CORRAL_MASTER, CORRAL_SERVICES and CORRAL_JOBS,
	// the fallbacks of the address flags.
	Getenv func(string) string
	// HTTPClient sends the requests; nil means one with a 30 s timeout
	// per request that follows redirects (a standby's 307 to the leader).
	HTTPClient *http.Client
	// PollInterval is the pause between polls while waiting for a
	// deployment, a run, or a growing log; 0 means 500 ms.
	PollInterval time.Duration
}

func (e Env) withDefaults() Env {
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.HTTPClient == nil {
		e.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if e.PollInterval <= 0 {
		e.PollInterval = 500 * time.Millisecond
	}
	return e
}

// The default addresses match `corral dev` and the servers' defaults.
const (
	DefaultMaster   = "http://127.0.0.1:5050"
	DefaultServices = "http://127.0.0.1:8080"
	DefaultJobs     = "http://127.0.0.1:4400"
)

// apis says which APIs a verb talks to, and so which address flags it has.
type apis uint8

const (
	useMaster apis = 1 << iota
	useServices
	useJobs
)

// addressFlag is one of the address flags.
type addressFlag struct {
	use      apis
	name     string
	env      string
	def      string
	api      string
	describe string
}

var addressFlags = []addressFlag{
	{useMaster, "master", "CORRAL_MASTER", DefaultMaster, "master", "base URL of a master (a standby sends the verb on to the leader)"},
	{useServices, "services", "CORRAL_SERVICES", DefaultServices, "services", "base URL of the services framework's API"},
	{useJobs, "jobs", "CORRAL_JOBS", DefaultJobs, "jobs", "base URL of the jobs framework's API"},
}

// verb is one client command, such as `corral app deploy`.
type verb struct {
	group, name string
	args        string // synopsis of the positional arguments, e.g. "ID N"
	summary     string // one line, lower case, no final period
	about       string // paragraphs for --help
	uses        apis
	jsonDoc     string // what --json prints; "" means the verb has no --json
	minArgs     int
	maxArgs     int // -1: any number
	// watchable verbs (lists) take --watch: shown again every --interval
	// until interrupted.
	watchable bool
	// setup registers the verb's own flags and returns its body, which
	// runs after the command line is parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, r *runner) error
}

func (v *verb) path() string { return v.group + " " + v.name }

// group is a first word of the client verbs.
type group struct {
	name    string
	summary string
}

var groups = []group{
	{"cluster", "look at the whole cluster (master, agents, frameworks)"},
	{"agent", "list, drain and reactivate agents (`corral agent` alone runs an agent)"},
	{"maintenance", "schedule machines for maintenance, take them down and back up"},
	{"task", "list tasks and read their logs from the agents' sandboxes"},
	{"app", "manage the services framework's long-running apps"},
	{"job", "manage the jobs framework's jobs and their runs"},
	{"secret", "manage the master's secrets: store, list and delete values no API reads back"},
}

// verbs lists every verb, in the order --help shows them.
func verbs() []*verb {
	var out []*verb
	out = append(out, clusterVerbs()...)
	out = append(out, agentVerbs()...)
	out = append(out, maintenanceVerbs()...)
	out = append(out, appVerbs()...)
	out = append(out, jobVerbs()...)
	out = append(out, logsVerbs()...)
	out = append(out, secretVerbs()...)
	return out
}

func groupVerbs(g string) []*verb {
	var out []*verb
	for _, v := range verbs() {
		if v.group == g {
			out = append(out, v)
		}
	}
	return out
}

// runner is what a verb's body works with.
type runner struct {
	out, errw io.Writer
	stdin     io.Reader
	args      []string
	json      bool
	poll      time.Duration
	hc        *http.Client
	master    *client
	services  *client
	jobs      *client
}

// progress is where progress lines go: stdout for people, stderr when
// stdout carries a --json document.
func (r *runner) progress() io.Writer {
	if r.json {
		return r.errw
	}
	return r.out
}

// Handles reports whether args (the command line after "corral") name a
// client verb. `corral agent` runs an agent; only `corral agent list` is
// the client verb.
func Handles(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if args[0] == "agent" {
		return len(args) > 1 && slices.Contains([]string{"list", "drain", "undrain", "help"}, args[1])
	}
	return slices.ContainsFunc(groups, func(g group) bool { return g.name == args[0] })
}

// Run runs the client verb named by args (e.g. ["app", "scale", "/web",
// "3"]) and returns its exit code (ExitOK ... ExitUnreachable). Results go
// to env.Stdout, errors to env.Stderr prefixed with the verb. Run returns
// when the verb is done or ctx is cancelled; it is safe for concurrent use
// with distinct Envs.
func Run(ctx context.Context, args []string, env Env) int {
	env = env.withDefaults()
	if len(args) == 0 {
		Usage(env.Stderr)
		return ExitUsage
	}
	g, ok := findGroup(args[0])
	if !ok {
		fmt.Fprintf(env.Stderr, "corral: unknown command %q\n", args[0])
		return ExitUsage
	}
	if len(args) < 2 || isHelp(args[1]) || args[1] == "help" {
		if len(args) >= 2 {
			printGroupHelp(env.Stdout, g)
			return ExitOK
		}
		printGroupHelp(env.Stderr, g)
		return ExitUsage
	}
	var v *verb
	for _, x := range groupVerbs(g.name) {
		if x.name == args[1] {
			v = x
		}
	}
	if v == nil {
		fmt.Fprintf(env.Stderr, "corral %s: unknown verb %q\n%sRun 'corral %s --help' for its verbs.\n",
			g.name, args[1], suggest.DidYouMean(args[1], VerbNames(g.name)), g.name)
		return ExitUsage
	}
	return runVerb(ctx, v, args[2:], env)
}

// flagError words a flag set's parse error for people: an undefined
// flag is named as typed ("unknown flag --lisen") with the likely
// intended one; other errors, flag.ErrHelp included, come back as they
// are.
func flagError(fs *flag.FlagSet, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return err
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := suggest.Word(name, names); s != "" {
		return fmt.Errorf("unknown flag --%s (did you mean --%s?)", name, s)
	}
	return fmt.Errorf("unknown flag --%s", name)
}

// GroupNames lists the first words of the client verbs, in --help order.
func GroupNames() []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.name)
	}
	return out
}

// VerbNames lists the verbs of group g, in --help order.
func VerbNames(g string) []string {
	var out []string
	for _, v := range groupVerbs(g) {
		out = append(out, v.name)
	}
	return out
}

// VerbFlags lists the flags of the verb `corral g name` as typed
// ("--json"), sorted; nil for no such verb.
func VerbFlags(g, name string) []string {
	for _, v := range groupVerbs(g) {
		if v.name != name {
			continue
		}
		fs, _, _ := newVerbFlags(v, &runner{})
		out := []string{}
		fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name) })
		return out
	}
	return nil
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func findGroup(name string) (group, bool) {
	for _, g := range groups {
		if g.name == name {
			return g, true
		}
	}
	return group{}, false
}

// verbFlags are a verb's parsed flags besides its own.
type verbFlags struct {
	addrs    map[string]*string // by address flag name
	envOf    map[string]string  // flag name → environment variable
	cred     edge.Credential
	tlsFiles edge.TLSFiles
	watch    bool
	interval time.Duration
}

// newVerbFlags registers every flag of v on a new flag set: the address
// flags of the APIs it uses, --json if it has one (into r.json), the
// credential and TLS flags, and its own; it returns them with v's body.
func newVerbFlags(v *verb, r *runner) (*flag.FlagSet, *verbFlags, func(ctx context.Context, r *runner) error) {
	fs := flag.NewFlagSet("corral "+v.path(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vf := &verbFlags{addrs: map[string]*string{}, envOf: map[string]string{}}
	for _, a := range addressFlags {
		if v.uses&a.use == 0 {
			continue
		}
		vf.addrs[a.name] = fs.String(a.name, a.def, a.describe)
		vf.envOf[a.name] = a.env
	}
	if v.jsonDoc != "" {
		fs.BoolVar(&r.json, "json", false, v.jsonDoc)
	}
	fs.StringVar(&vf.cred.Principal, "principal", "", "principal to authenticate as (HTTP Basic), when the cluster demands credentials")
	fs.StringVar(&vf.cred.Secret, "secret", "", "the principal's secret (prefer the environment variable: a command line is visible to other users)")
	vf.envOf["principal"], vf.envOf["secret"] = "CORRAL_PRINCIPAL", "CORRAL_SECRET"
	fs.StringVar(&vf.tlsFiles.CA, "tls_ca", "", "PEM CA bundle that verifies the cluster's https:// servers (default the system's roots)")
	fs.StringVar(&vf.tlsFiles.Cert, "tls_cert", "", "PEM client certificate, for a cluster that demands one (mutual TLS)")
	fs.StringVar(&vf.tlsFiles.Key, "tls_key", "", "PEM private key of --tls_cert")
	vf.envOf["tls_ca"], vf.envOf["tls_cert"], vf.envOf["tls_key"] = "CORRAL_TLS_CA", "CORRAL_TLS_CERT", "CORRAL_TLS_KEY"
	if v.watchable {
		fs.BoolVar(&vf.watch, "watch", false, "show it again every --interval until interrupted (Ctrl-C), as watch(1) does; with --json, one document after another")
		fs.BoolVar(&vf.watch, "w", false, "short for --watch")
		fs.DurationVar(&vf.interval, "interval", 2*time.Second, "how often --watch shows it again")
	}
	return fs, vf, v.setup(fs)
}

func runVerb(ctx context.Context, v *verb, args []string, env Env) int {
	r := &runner{out: env.Stdout, errw: env.Stderr, stdin: env.Stdin, poll: env.PollInterval, hc: env.HTTPClient}
	fs, vf, body := newVerbFlags(v, r)
	addrs, envOf := vf.addrs, vf.envOf
	err := parseArgs(fs, args, env.Getenv, envOf)
	cred, tlsFiles := vf.cred, vf.tlsFiles // as parsed
	if errors.Is(err, flag.ErrHelp) {
		printVerbHelp(env.Stdout, v, fs, envOf)
		return ExitOK
	}
	if err == nil {
		r.args = fs.Args()
		switch {
		case len(r.args) < v.minArgs:
			err = usagef("missing arguments: want %s", v.args)
		case v.maxArgs >= 0 && len(r.args) > v.maxArgs:
			err = usagef("unexpected arguments %q", r.args[v.maxArgs:])
		}
	}
	hc := env.HTTPClient
	if err == nil && vf.watch && vf.interval <= 0 {
		err = usagef("--interval must be positive, got %v", vf.interval)
	}
	if err == nil && (cred.Principal != "") != (cred.Secret != "") {
		err = usagef("--principal and --secret (or CORRAL_PRINCIPAL and CORRAL_SECRET) go together")
	}
	if err == nil && (tlsFiles.CA != "" || tlsFiles.Cert != "") {
		if err = tlsFiles.Validate(); err == nil {
			var tr *http.Transport
			if tr, err = edge.Transport(tlsFiles); err == nil {
				c := *hc
				c.Transport = tr
				hc = &c
			}
		}
		if err != nil {
			err = usagef("%v", err)
		}
	}
	if err == nil && cred.Principal != "" {
		c := *hc
		c.Transport = cred.RoundTripper(c.Transport)
		hc = &c
	}
	r.hc = hc
	for _, a := range addressFlags {
		p := addrs[a.name]
		if p == nil || err != nil {
			continue
		}
		base, berr := baseURL(*p)
		if berr != nil {
			err = usagef("--%s: %v", a.name, berr)
			break
		}
		c := &client{Client: apiclient.New(a.api, base, hc), hint: "--" + a.name + " or " + a.env}
		switch a.use {
		case useMaster:
			r.master = c
		case useServices:
			r.services = c
		case useJobs:
			r.jobs = c
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "corral %s: %v\nRun 'corral %s --help' for usage.\n", v.path(), err, v.path())
		return ExitUsage
	}
	if vf.watch {
		return watch(ctx, v, r, body, vf.interval, env)
	}
	if err := body(ctx, r); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.Stderr, "corral %s: interrupted\n", v.path())
			return ExitFailed
		}
		fmt.Fprintf(env.Stderr, "corral %s: %v\n", v.path(), err)
		code := exitCode(err)
		if code == ExitUsage {
			fmt.Fprintf(env.Stderr, "Run 'corral %s --help' for usage.\n", v.path())
		}
		return code
	}
	return ExitOK
}

// clearScreen moves a terminal's cursor home and clears the screen.
const clearScreen = "\x1b[H\x1b[2J"

// watch runs body every interval until ctx ends, each time showing its
// output anew: under a header with the command and the time, on a
// cleared screen (with --json, one document after another, nothing
// cleared). A failed run is shown in its place and watching goes on, so
// an API that is away for a moment does not end it. It returns ExitOK
// once interrupted.
func watch(ctx context.Context, v *verb, r *runner, body func(context.Context, *runner) error, interval time.Duration, env Env) int {
	out := r.out
	for {
		var frame bytes.Buffer
		r.out = &frame
		err := body(ctx, r)
		if ctx.Err() != nil {
			return ExitOK
		}
		if r.json {
			if err != nil {
				fmt.Fprintf(env.Stderr, "corral %s: %v\n", v.path(), err)
			}
			_, _ = out.Write(frame.Bytes())
		} else {
			fmt.Fprintf(out, "%sEvery %v: corral %s%s\n\n", clearScreen, interval, v.path(), time.Now().Format("   15:04:05"))
			_, _ = out.Write(frame.Bytes())
			if err != nil {
				fmt.Fprintf(out, "corral %s: %v\n", v.path(), err)
			}
		}
		select {
		case <-ctx.Done():
			return ExitOK
		case <-time.After(interval):
		}
	}
}

// ParseInterleaved parses args into fs with the flags allowed before,
// between or after the positional arguments ("corral migrate up --db
// ..."); "--" ends the flags. fs.Args() then holds the positional
// arguments in their order. An undefined flag is named as typed, with
// the likely intended one (see flagError).
func ParseInterleaved(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return flagError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// parseArgs parses flags given before, between or after the positional
// arguments ("--" ends the flags), then fills each flag in envOf that the
// command line did not set from its environment variable.
func parseArgs(fs *flag.FlagSet, args []string, getenv func(string) string, envOf map[string]string) error {
	if err := ParseInterleaved(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	names := make([]string, 0, len(envOf))
	for n := range envOf {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if set[n] {
			continue
		}
		if v := getenv(envOf[n]); v != "" {
			if err := fs.Set(n, v); err != nil {
				return fmt.Errorf("%s=%q: %v", envOf[n], v, err)
			}
		}
	}
	return nil
}

// Usage writes the client verbs' part of `corral --help`.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "Client commands (talk to a running cluster through its HTTP APIs):\n")
	for _, g := range groups {
		var names []string
		for _, v := range groupVerbs(g.name) {
			names = append(names, v.name)
		}
		fmt.Fprintf(w, "  %-10s %s\n  %-10s verbs: %s\n", g.name, g.summary, "", strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "\nThe client commands find the APIs at --master/CORRAL_MASTER (default %s),\n"+
		"--services/CORRAL_SERVICES (default %s) and --jobs/CORRAL_JOBS (default %s).\n"+
		"They print tables, or JSON with --json. Run 'corral <group> --help' for a group's verbs.\n\n%s",
		DefaultMaster, DefaultServices, DefaultJobs, exitCodesHelp)
}

func printGroupHelp(w io.Writer, g group) {
	fmt.Fprintf(w, "Usage: corral %s <verb> [arguments] [flags]\n\n%s.\n\nVerbs:\n", g.name, upperFirst(g.summary))
	vs := groupVerbs(g.name)
	width := 0
	for _, v := range vs {
		width = max(width, len(v.name+" "+v.args))
	}
	for _, v := range vs {
		fmt.Fprintf(w, "  %-*s   %s\n", width, strings.TrimSpace(v.name+" "+v.args), v.summary)
	}
	fmt.Fprintf(w, "\nRun 'corral %s <verb> --help' for a verb's flags.\n\n%s", g.name, exitCodesHelp)
}

func printVerbHelp(w io.Writer, v *verb, fs *flag.FlagSet, envOf map[string]string) {
	synopsis := strings.TrimSpace("corral " + v.path() + " " + v.args)
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s.\n", synopsis, upperFirst(v.summary))
	if v.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(v.about))
	}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	// Single-letter flags are shorthands, shown with their long form.
	short := map[string]string{}
	for _, f := range flags {
		if len(f.Name) == 1 {
			for _, g := range flags {
				if len(g.Name) > 1 && g.Usage == f.Usage {
					short[g.Name] = f.Name
				}
			}
		}
	}
	fmt.Fprintf(w, "\nFlags:\n")
	for _, f := range flags {
		if len(f.Name) == 1 && slices.Contains(mapValues(short), f.Name) {
			continue
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		arg, usage := flagArg(f)
		if arg != "" {
			name += " " + arg
		}
		fmt.Fprintf(w, "  %s\n        %s", name, usage)
		var notes []string
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			notes = append(notes, "default "+f.DefValue)
		}
		if e, ok := envOf[f.Name]; ok {
			notes = append(notes, "env "+e)
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(notes, "; "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%s", exitCodesHelp)
}

// flagArg returns how help names a flag's value ("URL", "DURATION", or
// the back-quoted word of its usage) and its usage without the quotes; ""
// for a boolean flag.
func flagArg(f *flag.Flag) (arg, usage string) {
	arg, usage = flag.UnquoteUsage(f)
	switch {
	case f.Name == "master" || f.Name == "services" || f.Name == "jobs":
		arg = "URL"
	case arg == "duration":
		arg = "DURATION"
	case arg == "int" || arg == "uint":
		arg = "N"
	case arg == "string" || arg == "value":
		arg = "VALUE"
	}
	return arg, usage
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
