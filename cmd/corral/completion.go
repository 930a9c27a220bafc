package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"corral/internal/cli"
)

// completionCommand prints a shell's completion script for corral.
func completionCommand() *command {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	c := &command{name: "completion", summary: "print a shell completion script: source <(corral completion bash); zsh and fish too", usage: "bash|zsh|fish", fs: fs}
	c.run = func(args []string) error {
		if len(args) != 1 {
			return usageError{"want one shell: bash, zsh or fish"}
		}
		w := completionWords()
		switch args[0] {
		case "bash":
			writeBash(os.Stdout, w)
		case "zsh":
			writeZsh(os.Stdout, w)
		case "fish":
			writeFish(os.Stdout, w)
		default:
			return usageError{fmt.Sprintf("unknown shell %q (want bash, zsh or fish)", args[0])}
		}
		return nil
	}
	return c
}

// words is what a shell completes on corral's command line: the first
// words, the second words after each, and the flags of each command
// ("master") or client verb ("app deploy").
type words struct {
	top   []string
	sub   map[string][]string
	flags map[string][]string
}

// completionWords gathers the words from the commands and client verbs
// themselves, so the scripts cannot fall behind them.
func completionWords() words {
	cmds := commands()
	w := words{sub: map[string][]string{}, flags: map[string][]string{}}
	for _, c := range cmds {
		w.top = append(w.top, c.name)
		var fl []string
		c.fs.VisitAll(func(f *flag.Flag) { fl = append(fl, "--"+f.Name) })
		w.flags[c.name] = append(fl, "--help")
	}
	for _, g := range cli.GroupNames() {
		if !slices.Contains(w.top, g) {
			w.top = append(w.top, g)
		}
		w.sub[g] = cli.VerbNames(g)
		for _, v := range w.sub[g] {
			w.flags[g+" "+v] = append(cli.VerbFlags(g, v), "--help")
		}
	}
	w.top = append(w.top, "help")
	w.sub["help"] = w.top[:len(w.top)-1]
	w.sub["migrate"] = []string{"up", "down", "version"}
	w.sub["completion"] = []string{"bash", "zsh", "fish"}
	return w
}

// keys returns m's keys, sorted, so the scripts come out the same each
// time.
func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// writeBash writes the bash completion function.
func writeBash(out io.Writer, w words) {
	fmt.Fprintf(out, "# bash completion for corral: source <(corral completion bash)\n")
	fmt.Fprintf(out, "_corral() {\n")
	fmt.Fprintf(out, "\tlocal cur=${COMP_WORDS[COMP_CWORD]} w1=${COMP_WORDS[1]} w2=${COMP_WORDS[2]} words=\n")
	fmt.Fprintf(out, "\tif ((COMP_CWORD == 1)); then\n\t\twords=%q\n", strings.Join(w.top, " "))
	fmt.Fprintf(out, "\telif [[ $cur == -* ]]; then\n\t\tcase \"$w1 $w2\" in\n")
	for _, k := range keys(w.flags) {
		if strings.Contains(k, " ") {
			fmt.Fprintf(out, "\t\t%q) words=%q ;;\n", k, strings.Join(w.flags[k], " "))
		}
	}
	fmt.Fprintf(out, "\t\tesac\n\t\tif [[ -z $words ]]; then\n\t\t\tcase \"$w1\" in\n")
	for _, k := range keys(w.flags) {
		if !strings.Contains(k, " ") {
			fmt.Fprintf(out, "\t\t\t%q) words=%q ;;\n", k, strings.Join(w.flags[k], " "))
		}
	}
	fmt.Fprintf(out, "\t\t\tesac\n\t\tfi\n\telif ((COMP_CWORD == 2)); then\n\t\tcase \"$w1\" in\n")
	for _, k := range keys(w.sub) {
		fmt.Fprintf(out, "\t\t%q) words=%q ;;\n", k, strings.Join(w.sub[k], " "))
	}
	fmt.Fprintf(out, "\t\tesac\n\tfi\n")
	fmt.Fprintf(out, "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n")
	fmt.Fprintf(out, "complete -F _corral corral\n")
}

// writeZsh writes the bash function for zsh's bash completion emulation.
func writeZsh(out io.Writer, w words) {
	fmt.Fprintf(out, "#compdef corral\n# zsh completion for corral: source <(corral completion zsh)\n")
	fmt.Fprintf(out, "autoload -U +X bashcompinit && bashcompinit\n")
	writeBash(out, w)
}

// writeFish writes fish's complete commands.
func writeFish(out io.Writer, w words) {
	fmt.Fprintf(out, "# fish completion for corral: corral completion fish | source\n")
	fmt.Fprintf(out, "complete -c corral -f\n")
	fmt.Fprintf(out, "complete -c corral -n __fish_use_subcommand -a %q\n", strings.Join(w.top, " "))
	for _, k := range keys(w.sub) {
		fmt.Fprintf(out, "complete -c corral -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a %q\n",
			k, strings.Join(w.sub[k], " "), strings.Join(w.sub[k], " "))
	}
	for _, k := range keys(w.flags) {
		cond := "__fish_seen_subcommand_from " + k
		if g, v, ok := strings.Cut(k, " "); ok {
			cond = "__fish_seen_subcommand_from " + g + "; and __fish_seen_subcommand_from " + v
		}
		for _, f := range w.flags[k] {
			fmt.Fprintf(out, "complete -c corral -n '%s' -l %s\n", cond, strings.TrimPrefix(f, "--"))
		}
	}
}
