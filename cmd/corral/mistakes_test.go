package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A mistake is told on stderr in a few lines, with the likely intended
// word and where help is, and nothing on stdout (the whole usage was
// printed to stdout before).
func TestMistakesAreShortAndOnStderr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // lines of stderr, in order
	}{
		{[]string{"nosuch"}, []string{`corral: unknown command "nosuch"`, "Run 'corral --help' for the commands."}},
		{[]string{"aap", "list"}, []string{`corral: unknown command "aap"`, `Did you mean "app"?`, "Run 'corral --help' for the commands."}},
		{[]string{"mastr"}, []string{`corral: unknown command "mastr"`, `Did you mean "master"?`, "Run 'corral --help' for the commands."}},
		{[]string{"app", "lst"}, []string{`corral app: unknown verb "lst"`, `Did you mean "list"?`, "Run 'corral app --help' for its verbs."}},
		{[]string{"job", "rnus"}, []string{`corral job: unknown verb "rnus"`, `Did you mean "runs"?`, "Run 'corral job --help' for its verbs."}},
		{[]string{"agent", "lst"}, []string{`corral agent: unexpected arguments ["lst"]`, `Did you mean "corral agent list"?`, "Run 'corral agent --help' for its flags."}},
		{[]string{"master", "--lisen", ":1"}, []string{"corral master: unknown flag --lisen (did you mean --listen?)", "Run 'corral master --help' for its flags."}},
		{[]string{"job", "list", "--jsno"}, []string{"corral job list: unknown flag --jsno (did you mean --json?)", "Run 'corral job list --help' for usage."}},
		{[]string{"completion", "csh"}, []string{`corral completion: unknown shell "csh" (want bash, zsh or fish)`, "Run 'corral completion --help' for its flags."}},
	} {
		var stdout, stderr bytes.Buffer
		if code := runWith(tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("corral %q exited %d; want 2", tc.args, code)
		}
		if stdout.Len() > 0 {
			t.Errorf("corral %q printed %d bytes on stdout; want none", tc.args, stdout.Len())
		}
		if got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("corral %q stderr:\n%s\nwant:\n%s", tc.args, stderr.String(), strings.Join(tc.want, "\n"))
		}
	}
}

// Help asked for goes to stdout and exits 0; corral alone is a mistake.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"master", "--help"}, {"help", "master"}, {"completion", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := runWith(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Usage: corral") || stderr.Len() > 0 {
			t.Errorf("corral %q = %d, stdout %d bytes, stderr %q; want 0 and usage on stdout", args, code, stdout.Len(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runWith(nil, &stdout, &stderr); code != 2 || stdout.Len() > 0 || !strings.Contains(stderr.String(), "Usage: corral") {
		t.Errorf("corral alone = %d; want 2 with the usage on stderr", code)
	}
}

func TestVersionFlag(t *testing.T) {
	// version prints with fmt.Println: run the binary itself.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"--version", "version"} {
		cmd := exec.Command(exe, arg)
		cmd.Env = append(os.Environ(), "CORRAL_TEST_AS_CORRAL=1")
		out, err := cmd.Output()
		if err != nil || string(out) != "corral "+version+"\n" {
			t.Errorf("corral %s = %q, %v; want %q", arg, out, err, "corral "+version+"\n")
		}
	}
}

// The bash script completes commands, verbs and flags, as bash runs it;
// zsh's runs the same function through bashcompinit; fish's names every
// command, verb and flag.
func TestCompletion(t *testing.T) {
	w := completionWords()
	var script bytes.Buffer
	writeBash(&script, w)
	file := filepath.Join(t.TempDir(), "corral.bash")
	if err := os.WriteFile(file, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		var line strings.Builder
		line.WriteString("source " + file + "; COMP_WORDS=(")
		for _, w := range words {
			line.WriteString(" '" + w + "'")
		}
		line.WriteString(" ); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _corral; echo \"${COMPREPLY[*]}\"")
		out, err := exec.Command("bash", "--norc", "-c", line.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"corral", "ap"}, "app"},
		{[]string{"corral", "ma"}, "master maintenance"},
		{[]string{"corral", "app", "de"}, "deploy delete"},
		{[]string{"corral", "agent", "l"}, "list"},
		{[]string{"corral", "app", "deploy", "--fo"}, "--force"},
		{[]string{"corral", "job", "list", "--js"}, "--json"},
		{[]string{"corral", "master", "--lis"}, "--listen"},
		{[]string{"corral", "agent", "--work"}, "--work_dir"},
		{[]string{"corral", "migrate", "d"}, "down"},
		{[]string{"corral", "completion", "f"}, "fish"},
		{[]string{"corral", "help", "jo"}, "jobs job"},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("completing %q = %q; want %q", tc.words, got, tc.want)
		}
	}

	var zsh bytes.Buffer
	writeZsh(&zsh, w)
	if !strings.HasPrefix(zsh.String(), "#compdef corral\n") || !strings.Contains(zsh.String(), "bashcompinit") || !strings.Contains(zsh.String(), script.String()) {
		t.Error("the zsh script is not the bash function under bashcompinit")
	}
	var fish bytes.Buffer
	writeFish(&fish, w)
	for _, line := range []string{
		"complete -c corral -n '__fish_seen_subcommand_from app; and not __fish_seen_subcommand_from list show deploy scale restart rollback delete versions logs' -a \"list show deploy scale restart rollback delete versions logs\"",
		"complete -c corral -n '__fish_seen_subcommand_from app; and __fish_seen_subcommand_from deploy' -l force",
		"complete -c corral -n '__fish_seen_subcommand_from master' -l listen",
	} {
		if !strings.Contains(fish.String(), line+"\n") {
			t.Errorf("the fish script lacks %q", line)
		}
	}
}
