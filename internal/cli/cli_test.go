package cli

import (
	"flag"
	"strings"
	"testing"
)

func TestHandles(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"agent"}, false},
		{[]string{"agent", "--master", "x"}, false},
		{[]string{"agent", "--help"}, false},
		{[]string{"agent", "list"}, true},
		{[]string{"app"}, true},
		{[]string{"job", "add", "f"}, true},
		{[]string{"task", "logs", "x"}, true},
		{[]string{"cluster", "status"}, true},
		{[]string{"master"}, false},
		{[]string{"services"}, false},
		{[]string{"jobs"}, false},
		{[]string{"dev"}, false},
	} {
		if got := Handles(tc.args); got != tc.want {
			t.Errorf("Handles(%q) = %v; want %v", tc.args, got, tc.want)
		}
	}
}

// TestHelpIsComplete checks that every verb's --help exits 0, names the
// verb and its arguments, documents every flag it accepts (with the
// environment variable of the address flags) and the exit codes.
func TestHelpIsComplete(t *testing.T) {
	for _, v := range verbs() {
		t.Run(v.path(), func(t *testing.T) {
			res := runCLI(t, invocation{}, v.group, v.name, "--help")
			if res.code != ExitOK {
				t.Fatalf("%s --help = %d; want 0", v.path(), res.code)
			}
			out := res.stdout
			if want := strings.TrimSpace("Usage: corral " + v.path() + " " + v.args); !strings.Contains(out, want) {
				t.Errorf("%s --help lacks %q:\n%s", v.path(), want, out)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			v.setup(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(out, "-"+f.Name) {
					t.Errorf("%s --help does not document -%s", v.path(), f.Name)
				}
			})
			for _, a := range addressFlags {
				if v.uses&a.use != 0 && !strings.Contains(out, "--"+a.name+" URL") || v.uses&a.use != 0 && !strings.Contains(out, a.env) {
					t.Errorf("%s --help does not document --%s and %s", v.path(), a.name, a.env)
				}
			}
			if v.jsonDoc != "" && !strings.Contains(out, "--json") {
				t.Errorf("%s --help does not document --json", v.path())
			}
			if !strings.Contains(out, exitCodesHelp) {
				t.Errorf("%s --help does not list the exit codes", v.path())
			}
		})
	}
	for _, g := range groups {
		res := runCLI(t, invocation{}, g.name, "--help")
		if res.code != ExitOK {
			t.Errorf("%s --help = %d; want 0", g.name, res.code)
		}
		for _, v := range groupVerbs(g.name) {
			if !strings.Contains(res.stdout, "  "+strings.TrimSpace(v.name+" "+v.args)+" ") {
				t.Errorf("%s --help does not list %q:\n%s", g.name, v.name, res.stdout)
			}
		}
	}
	var b strings.Builder
	Usage(&b)
	for _, g := range groups {
		if !strings.Contains(b.String(), "  "+g.name+" ") {
			t.Errorf("Usage does not list %s", g.name)
		}
	}
}

func TestTable(t *testing.T) {
	tb := newTable("ID", "NAME", "NOTE")
	tb.add("1", "ünïcode", "")
	tb.add("22", "x", "two\nlines")
	tb.add("333")
	want := "ID    NAME      NOTE\n" +
		"1     ünïcode   -\n" +
		"22    x         two lines\n" +
		"333   -         -\n"
	if got := tb.String(); got != want {
		t.Errorf("table.String() =\n%q; want\n%q", got, want)
	}
	var k kv
	k.add("A", "1")
	k.add("Longer", "x\ny")
	k.add("Empty", "")
	if got, want := k.String(), "A:       1\nLonger:  x\n         y\nEmpty:   -\n"; got != want {
		t.Errorf("kv.String() = %q; want %q", got, want)
	}
}

func TestJudge(t *testing.T) {
	app := func(version string, instances, running, healthy int, checks bool) *appView {
		a := &appView{ID: "/a", Version: version, Instances: instances, TasksRunning: running, TasksHealthy: healthy}
		if checks {
			a.HealthChecks = []healthCheckView{{Protocol: "HTTP"}}
		}
		return a
	}
	ours := []deploymentView{{ID: "d"}}
	tg := target{app: "/a", deployment: "d", version: "v1"}
	del := target{app: "/a", deployment: "d", version: "v1", deleting: true}
	for _, tc := range []struct {
		name string
		t    target
		deps []deploymentView
		app  *appView
		want outcome
	}{
		{"deployment runs", tg, ours, app("v1", 2, 2, 2, true), pending},
		{"done and healthy", tg, nil, app("v1", 2, 2, 2, true), reached},
		{"done, not yet healthy", tg, nil, app("v1", 2, 2, 1, true), pending},
		{"done without checks", tg, nil, app("v1", 2, 2, 0, false), reached},
		{"too many still running", tg, nil, app("v1", 2, 3, 3, true), pending},
		{"scaled to zero", tg, nil, app("v1", 0, 0, 0, true), reached},
		{"another version", tg, nil, app("v2", 2, 2, 2, true), replaced},
		{"deleted", tg, nil, nil, vanished},
		{"delete done", del, nil, nil, reached},
		{"delete running", del, ours, app("v1", 2, 1, 1, true), pending},
		{"recreated", del, nil, app("v9", 1, 0, 0, false), replaced},
		{"deployment gone, old app not yet", del, nil, app("v0", 2, 0, 0, true), pending},
		{"recreated later (times)", target{app: "/a", deployment: "d", version: "2026-11-22T03:59:35.298Z", deleting: true}, nil, app("2026-11-22T03:59:36Z", 1, 0, 0, false), replaced},
		{"old version (times)", target{app: "/a", deployment: "d", version: "2026-11-22T03:59:35.298Z", deleting: true}, nil, app("2026-11-22T03:50:00.001Z", 1, 1, 0, false), pending},
		{"running in the history", tg, []deploymentView{{ID: "d", Status: "running"}}, app("v1", 2, 2, 2, true), pending},
		{"succeeded, app at target", tg, []deploymentView{{ID: "d", Status: "succeeded"}}, app("v1", 2, 2, 2, true), reached},
		{"succeeded, app not yet", tg, []deploymentView{{ID: "d", Status: "succeeded"}}, app("v1", 2, 2, 1, true), pending},
		{"failed", tg, []deploymentView{{ID: "d", Status: "failed", Reason: "no progress"}}, app("v1", 2, 0, 0, true), failed},
		{"failed and rolled back", tg, []deploymentView{{ID: "r", RollbackOf: "d"}, {ID: "d", Status: "failed", Reason: "crash loop", RollbackDeploymentID: "r"}},
			app("v2", 2, 2, 2, true), failed},
		{"cancelled", tg, []deploymentView{{ID: "d", Status: "cancelled", Reason: "rolled back by deployment r"}}, app("v1", 2, 0, 0, true), replaced},
		{"stopped, app not yet", tg, []deploymentView{{ID: "d", Status: "stopped"}}, app("v1", 2, 1, 0, true), pending},
		{"stopped, app at target", tg, []deploymentView{{ID: "d", Status: "stopped"}}, app("v1", 2, 2, 2, true), reached},
		{"another's failure", tg, []deploymentView{{ID: "x", Status: "failed"}}, app("v1", 2, 2, 2, true), reached},
	} {
		if got, _ := judge(tc.t, tc.deps, tc.app); got != tc.want {
			t.Errorf("judge(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
	_, why := judge(tg, []deploymentView{{ID: "d", Status: "failed", Reason: "3 new instances failed in a row", RollbackDeploymentID: "r"}}, app("v1", 2, 0, 0, true))
	if want := "deployment d of /a failed: 3 new instances failed in a row; rolling back to the previous version: deployment r"; why != want {
		t.Errorf("judge(failed) says %q; want %q", why, want)
	}
}
