package allocator_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/resource"
)

// TestScripts replays the traces in testdata/*.txt. A trace is a list of
// commands, one a line; indented lines after a command are its expected
// output, and a command with no indented lines expects no output. Output
// lines are compared sorted, so the agent order of a cycle does not matter.
//
//	config min-cpus=<f> min-mem=<f>      replace the allocator (only first)
//	at <duration>                        set now to the epoch + duration
//	agent <id> <resources>               AddAgent
//	remove-agent <id>                    RemoveAgent
//	agent-active <id> <bool>             SetAgentActive
//	framework <id> [roles=a,b] [suppressed=a]   AddFramework
//	remove-framework <id>                RemoveFramework
//	framework-active <id> <bool>         SetFrameworkActive
//	allocate <agent> <fw> <role> <res>   Allocate
//	recover <agent> <fw> <role> <res> [refuse=<duration>]   Recover at now
//	suppress|revive <fw> [role...]       Suppress, Revive
//	weight <role> <w>                    SetWeight
//	cycle                                Cycle; output "<fw> <agent> <role> <res>"
//	cycle-agents <id>...                 CycleAgents; output as for cycle
//	free <agent>                         Free; output the resources, if any
//	shares                               Shares; output "<role> <share %.3f>"
//
// Every step is followed by the allocator's internal invariant check.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type step struct {
	line int
	args []string
	want []string
}

func readScript(t *testing.T, file string) []step {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if len(steps) == 0 {
				t.Fatalf("%s:%d: output line before any command", file, n)
			}
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, strings.Join(strings.Fields(trimmed), " "))
		default:
			steps = append(steps, step{line: n, args: strings.Fields(trimmed)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

func runScript(t *testing.T, file string) {
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := epoch
	a := allocator.New(allocator.Config{})
	for i, s := range readScript(t, file) {
		where := fmt.Sprintf("%s:%d: %s", file, s.line, strings.Join(s.args, " "))
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s: %s", where, fmt.Sprintf(format, args...))
		}
		res := func(s string) resource.Resources {
			t.Helper()
			r, err := resource.Parse(s)
			if err != nil {
				fail("%v", err)
			}
			return r
		}
		need := func(n int) {
			t.Helper()
			if len(s.args) < n {
				fail("want at least %d arguments", n-1)
			}
		}
		cmd, args := s.args[0], s.args[1:]
		var got []string
		switch cmd {
		case "config":
			if i != 0 {
				fail("config must come first")
			}
			var cfg allocator.Config
			for _, kv := range args {
				k, v, _ := strings.Cut(kv, "=")
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					fail("%v", err)
				}
				switch k {
				case "min-cpus":
					cfg.MinCPUs = f
				case "min-mem":
					cfg.MinMem = f
				default:
					fail("unknown config %q", k)
				}
			}
			if err := cfg.Validate(); err != nil {
				fail("%v", err)
			}
			a = allocator.New(cfg)
		case "at":
			need(2)
			d, err := time.ParseDuration(args[0])
			if err != nil {
				fail("%v", err)
			}
			now = epoch.Add(d)
		case "agent":
			need(3)
			a.AddAgent(args[0], res(args[1]))
		case "remove-agent":
			need(2)
			a.RemoveAgent(args[0])
		case "agent-active":
			need(3)
			a.SetAgentActive(args[0], args[1] == "true")
		case "framework":
			need(2)
			var roles, suppressed []string
			for _, kv := range args[1:] {
				k, v, _ := strings.Cut(kv, "=")
				var list []string
				if v != "" {
					list = strings.Split(v, ",")
				}
				switch k {
				case "roles":
					roles = list
				case "suppressed":
					suppressed = list
				default:
					fail("unknown framework option %q", k)
				}
			}
			a.AddFramework(args[0], roles, suppressed)
		case "remove-framework":
			need(2)
			a.RemoveFramework(args[0])
		case "framework-active":
			need(3)
			a.SetFrameworkActive(args[0], args[1] == "true")
		case "allocate":
			need(5)
			a.Allocate(args[0], args[1], args[2], res(args[3]))
		case "recover":
			need(5)
			var refuse time.Duration
			if len(args) > 4 {
				v, ok := strings.CutPrefix(args[4], "refuse=")
				d, err := time.ParseDuration(v)
				if !ok || err != nil {
					fail("want refuse=<duration>, got %q", args[4])
				}
				refuse = d
			}
			a.Recover(args[0], args[1], args[2], res(args[3]), refuse, now)
		case "suppress":
			need(2)
			a.Suppress(args[0], args[1:])
		case "revive":
			need(2)
			a.Revive(args[0], args[1:])
		case "weight":
			need(3)
			w, err := strconv.ParseFloat(args[1], 64)
			if err != nil {
				fail("%v", err)
			}
			a.SetWeight(args[0], w)
		case "cycle", "cycle-agents":
			var offers []allocator.Offer
			if cmd == "cycle" {
				offers = a.Cycle(now)
			} else {
				offers = a.CycleAgents(now, args)
			}
			for _, o := range offers {
				got = append(got, fmt.Sprintf("%s %s %s %s", o.FrameworkID, o.AgentID, o.Role, o.Resources))
			}
		case "free":
			need(2)
			if f := a.Free(args[0]); !f.IsEmpty() {
				got = append(got, f.String())
			}
		case "shares":
			for role, s := range a.Shares() {
				got = append(got, fmt.Sprintf("%s %.3f", role, s))
			}
		default:
			fail("unknown command")
		}
		if err := a.CheckInvariants(); err != nil {
			fail("invariant broken: %v", err)
		}
		slices.Sort(got)
		want := slices.Clone(s.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			fail("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
}
