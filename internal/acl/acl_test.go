package acl_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"corral/internal/acl"
)

func mustParse(t *testing.T, doc string) *acl.ACLs {
	t.Helper()
	a, err := acl.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return a
}

// req is one Allowed call and its expected answer.
type req struct {
	name              string
	act               acl.Action
	principal, object string
	want              bool
}

func checkAll(t *testing.T, a *acl.ACLs, reqs []req) {
	t.Helper()
	for _, r := range reqs {
		t.Run(r.name, func(t *testing.T) {
			if got := a.Allowed(r.act, r.principal, r.object); got != r.want {
				t.Errorf("Allowed(%s, %q, %q) = %t; want %t", r.act, r.principal, r.object, got, r.want)
			}
		})
	}
}

// entries builds a run_tasks file from entries, with permissive as given.
func runTasks(permissive bool, entries ...string) string {
	p := "false"
	if permissive {
		p = "true"
	}
	return `{"permissive": ` + p + `, "run_tasks": [` + strings.Join(entries, ",") + `]}`
}

// TestSubjectTable walks the subject side of Mesos' table through Allowed:
// a named or anonymous principal against an entry listing it, not listing
// it, NONE and ANY, with the object side fixed to ANY. Each file is tried
// with permissive false and true, so that "no match" (the answer follows
// permissive) is told apart from "match, deny" and "match, allow".
func TestSubjectTable(t *testing.T) {
	tests := []struct {
		name      string
		subject   string
		principal string
		// want[0] with permissive false, want[1] with permissive true
		want [2]bool
	}{
		{"named/SOME listed: match, allow", `{"values": ["alice", "bob"]}`, "alice", [2]bool{true, true}},
		{"named/SOME not listed: no match", `{"values": ["bob"]}`, "alice", [2]bool{false, true}},
		{"named/NONE: match, deny", `{"type": "NONE"}`, "alice", [2]bool{false, false}},
		{"named/ANY: match, allow", `{"type": "ANY"}`, "alice", [2]bool{true, true}},
		{"anonymous/SOME: no match", `{"values": ["alice"]}`, "", [2]bool{false, true}},
		{"anonymous/NONE: match, deny", `{"type": "NONE"}`, "", [2]bool{false, false}},
		{"anonymous/ANY: match, allow", `{"type": "ANY"}`, "", [2]bool{true, true}},
	}
	for _, tt := range tests {
		for i, permissive := range []bool{false, true} {
			entry := `{"principals": ` + tt.subject + `, "users": {"type": "ANY"}}`
			a := mustParse(t, runTasks(permissive, entry))
			if got := a.Allowed(acl.RunTasks, tt.principal, "web"); got != tt.want[i] {
				t.Errorf("%s, permissive=%t: Allowed(run_tasks, %q, \"web\") = %t; want %t",
					tt.name, permissive, tt.principal, got, tt.want[i])
			}
		}
	}
}

// TestObjectTable is TestSubjectTable for the object side: a named object
// or none at all, with principals ANY.
func TestObjectTable(t *testing.T) {
	tests := []struct {
		name   string
		users  string
		object string
		want   [2]bool
	}{
		{"named/SOME listed: match, allow", `{"values": ["web", "db"]}`, "web", [2]bool{true, true}},
		{"named/SOME not listed: no match", `{"values": ["db"]}`, "web", [2]bool{false, true}},
		{"named/NONE: match, deny", `{"type": "NONE"}`, "web", [2]bool{false, false}},
		{"named/ANY: match, allow", `{"type": "ANY"}`, "web", [2]bool{true, true}},
		{"no object/SOME: no match", `{"values": ["web"]}`, "", [2]bool{false, true}},
		{"no object/NONE: match, deny", `{"type": "NONE"}`, "", [2]bool{false, false}},
		{"no object/ANY: match, allow", `{"type": "ANY"}`, "", [2]bool{true, true}},
	}
	for _, tt := range tests {
		for i, permissive := range []bool{false, true} {
			entry := `{"principals": {"type": "ANY"}, "users": ` + tt.users + `}`
			a := mustParse(t, runTasks(permissive, entry))
			if got := a.Allowed(acl.RunTasks, "alice", tt.object); got != tt.want[i] {
				t.Errorf("%s, permissive=%t: Allowed(run_tasks, \"alice\", %q) = %t; want %t",
					tt.name, permissive, tt.object, got, tt.want[i])
			}
		}
	}
}

// TestBothSidesMustMatch: an entry whose subject matches but whose object
// does not (or the reverse) is passed over, even when the side that
// matches would deny.
func TestBothSidesMustMatch(t *testing.T) {
	a := mustParse(t, runTasks(true,
		`{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}`,
		`{"principals": {"values": ["ops"]}, "users": {"type": "NONE"}}`,
	))
	checkAll(t, a, []req{
		{"first entry matches root and denies", acl.RunTasks, "alice", "root", false},
		{"first entry's object does not match web; second's subject not alice", acl.RunTasks, "alice", "web", true},
		{"second entry matches ops and denies", acl.RunTasks, "ops", "web", false},
	})
}

func TestFirstMatchWins(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		want    bool
	}{
		{"allow before deny", []string{
			`{"principals": {"values": ["alice"]}, "users": {"type": "ANY"}}`,
			`{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}`,
		}, true},
		{"deny before allow", []string{
			`{"principals": {"type": "ANY"}, "users": {"type": "NONE"}}`,
			`{"principals": {"values": ["alice"]}, "users": {"type": "ANY"}}`,
		}, false},
		{"a non-matching entry is skipped", []string{
			`{"principals": {"values": ["bob"]}, "users": {"type": "NONE"}}`,
			`{"principals": {"values": ["alice"]}, "users": {"values": ["db"]}}`,
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, runTasks(false, tt.entries...))
			if got := a.Allowed(acl.RunTasks, "alice", "db"); got != tt.want {
				t.Errorf("Allowed(run_tasks, \"alice\", \"db\") = %t; want %t", got, tt.want)
			}
		})
	}
}

func TestPermissive(t *testing.T) {
	// An entry about bob only, so alice's request matches nothing.
	const bob = `[{"principals": {"values": ["bob"]}, "users": {"type": "ANY"}}]`
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"empty file", `{}`, true},
		{"default is true", `{"run_tasks": ` + bob + `}`, true},
		{"true", `{"permissive": true, "run_tasks": ` + bob + `}`, true},
		{"false", `{"permissive": false, "run_tasks": ` + bob + `}`, false},
		{"false, action without entries", `{"permissive": false}`, false},
		{"false, empty entry list", `{"permissive": false, "run_tasks": []}`, false},
		{"false, entries only for another action", `{"permissive": false, "view_tasks": ` + bob + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, tt.doc)
			if got := a.Allowed(acl.RunTasks, "alice", "web"); got != tt.want {
				t.Errorf("Allowed(run_tasks, \"alice\", \"web\") = %t; want %t", got, tt.want)
			}
		})
	}
}

// TestMatchers checks how each object key compares objects with values.
// Every file is permissive false with one allowing entry for alice, so
// Allowed is true exactly when the object matches.
func TestMatchers(t *testing.T) {
	file := func(act acl.Action, key string, values ...string) string {
		return `{"permissive": false, "` + string(act) + `": [{"principals": {"values": ["alice"]}, "` +
			key + `": {"values": ["` + strings.Join(values, `", "`) + `"]}}]}`
	}
	tests := []struct {
		name   string
		doc    string
		act    acl.Action
		object string
		want   bool
	}{
		// roles: exact, and "/%" for strictly nested roles.
		{"role exact", file(acl.RegisterFrameworks, "roles", "eng"), acl.RegisterFrameworks, "eng", true},
		{"role exact does not cover children", file(acl.RegisterFrameworks, "roles", "eng"), acl.RegisterFrameworks, "eng/dev", false},
		{"role /% covers a child", file(acl.RegisterFrameworks, "roles", "eng/%"), acl.RegisterFrameworks, "eng/dev", true},
		{"role /% covers a grandchild", file(acl.RegisterFrameworks, "roles", "eng/%"), acl.RegisterFrameworks, "eng/dev/x", true},
		{"role /% not the parent", file(acl.RegisterFrameworks, "roles", "eng/%"), acl.RegisterFrameworks, "eng", false},
		{"role /% not a sibling prefix", file(acl.RegisterFrameworks, "roles", "eng/%"), acl.RegisterFrameworks, "engineering/dev", false},
		{"role /% not a bare slash", file(acl.RegisterFrameworks, "roles", "eng/%"), acl.RegisterFrameworks, "eng/", false},
		{"role /% beside exact", file(acl.ViewRoles, "roles", "ops", "eng/%"), acl.ViewRoles, "ops", true},
		{"role /% on update_quotas", file(acl.UpdateQuotas, "roles", "a/b/%"), acl.UpdateQuotas, "a/b/c", true},
		{"role /% on update_weights", file(acl.UpdateWeights, "roles", "a/%"), acl.UpdateWeights, "b/c", false},
		{"role /% on get_quotas", file(acl.GetQuotas, "roles", "a/%"), acl.GetQuotas, "a/c", true},
		// apps: path prefix by whole components.
		{"app itself", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-a", true},
		{"app under it", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-a/web", true},
		{"app deeper", file(acl.ViewApps, "apps", "/team-a"), acl.ViewApps, "/team-a/x/web", true},
		{"app not a longer component", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-ab", false},
		{"app not a longer component below", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-ab/web", false},
		{"app not the parent", file(acl.ManageApps, "apps", "/team-a/web"), acl.ManageApps, "/team-a", false},
		{"app root matches all", file(acl.ManageApps, "apps", "/"), acl.ManageApps, "/anything/at/all", true},
		{"app value trailing slash", file(acl.ManageApps, "apps", "/team-a/"), acl.ManageApps, "/team-a/web", true},
		{"app value trailing slash, not longer", file(acl.ManageApps, "apps", "/team-a/"), acl.ManageApps, "/team-ab", false},
		{"app object trailing slash", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-a/", true},
		{"app object .. leaves the prefix", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-a/../team-b/web", false},
		{"app object .. stays inside", file(acl.ManageApps, "apps", "/team-a"), acl.ManageApps, "/team-a/x/../web", true},
		// secrets: the same as apps.
		{"secret under prefix", file(acl.UseSecrets, "secrets", "/team-a"), acl.UseSecrets, "/team-a/db/password", true},
		{"secret not a longer component", file(acl.ManageSecrets, "secrets", "/team-a"), acl.ManageSecrets, "/team-abc/db", false},
		{"secret root", file(acl.ManageSecrets, "secrets", "/"), acl.ManageSecrets, "/x", true},
		{"secret relative names", file(acl.UseSecrets, "secrets", "team-a"), acl.UseSecrets, "team-a/db", true},
		// jobs: plain string prefix.
		{"job prefix", file(acl.ManageJobs, "jobs", "team-a-"), acl.ManageJobs, "team-a-nightly", true},
		{"job equal", file(acl.ViewJobs, "jobs", "team-a-nightly"), acl.ViewJobs, "team-a-nightly", true},
		{"job prefix inside a word", file(acl.ManageJobs, "jobs", "team-a"), acl.ManageJobs, "team-ab-nightly", true},
		{"job other", file(acl.ManageJobs, "jobs", "team-a-"), acl.ManageJobs, "team-b-nightly", false},
		{"job longer than name", file(acl.ManageJobs, "jobs", "team-a-nightly"), acl.ManageJobs, "team-a-", false},
		// exact keys.
		{"user exact", file(acl.RunTasks, "users", "web"), acl.RunTasks, "web", true},
		{"user no prefix", file(acl.RunTasks, "users", "web"), acl.RunTasks, "webx", false},
		{"user /% is not special", file(acl.AccessSandboxes, "users", "web"), acl.AccessSandboxes, "web/x", false},
		{"framework principal exact", file(acl.TeardownFrameworks, "framework_principals", "jobs"), acl.TeardownFrameworks, "jobs", true},
		{"framework principal no prefix", file(acl.TeardownFrameworks, "framework_principals", "jobs"), acl.TeardownFrameworks, "jobs2", false},
		{"path exact", file(acl.GetEndpoints, "paths", "/metrics/snapshot"), acl.GetEndpoints, "/metrics/snapshot", true},
		{"path no prefix", file(acl.GetEndpoints, "paths", "/metrics"), acl.GetEndpoints, "/metrics/snapshot", false},
		{"view_tasks user", file(acl.ViewTasks, "users", "a", "b"), acl.ViewTasks, "b", true},
		{"view_executors user", file(acl.ViewExecutors, "users", "a"), acl.ViewExecutors, "b", false},
		{"view_frameworks user", file(acl.ViewFrameworks, "users", "a"), acl.ViewFrameworks, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, tt.doc)
			if got := a.Allowed(tt.act, "alice", tt.object); got != tt.want {
				t.Errorf("Allowed(%s, \"alice\", %q) = %t; want %t", tt.act, tt.object, got, tt.want)
			}
		})
	}
}

// TestPrincipalsExact: principals compare as exact strings whatever the
// action's object key does.
func TestPrincipalsExact(t *testing.T) {
	a := mustParse(t, `{"permissive": false, "manage_jobs": [{"principals": {"values": ["team"]}, "jobs": {"type": "ANY"}}]}`)
	checkAll(t, a, []req{
		{"same", acl.ManageJobs, "team", "x", true},
		{"longer", acl.ManageJobs, "team-a", "x", false},
		{"shorter", acl.ManageJobs, "tea", "x", false},
	})
}

// TestFixedObjects: for the ANY/NONE-only actions the answer does not
// depend on the object a caller passes.
func TestFixedObjects(t *testing.T) {
	a := mustParse(t, `{"permissive": true,
		"drain_agents": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
		                 {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}],
		"view_flags": [{"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}]}`)
	checkAll(t, a, []req{
		{"ops, no object", acl.DrainAgents, "ops", "", true},
		{"ops, an agent", acl.DrainAgents, "ops", "agent-1", true},
		{"bob, no object", acl.DrainAgents, "bob", "", false},
		{"bob, an agent", acl.DrainAgents, "bob", "agent-1", false},
		{"anonymous", acl.DrainAgents, "", "", false},
		{"flags denied to all", acl.ViewFlags, "ops", "", false},
		{"another agent action has no entries", acl.MarkAgentsGone, "bob", "", true},
	})
}

func readExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExampleFile evaluates the example of the security reference (section
// 2.3), including its pitfall: the first run_tasks entry lists root with
// principals ANY, so it matches root and allows it.
func TestExampleFile(t *testing.T) {
	a := mustParse(t, readExample(t))
	if got, want := a.Summary(), "ACLs: 14 rules over 12 actions, permissive=false"; got != want {
		t.Errorf("Summary() = %q; want %q", got, want)
	}
	checkAll(t, a, []req{
		{"services registers its role", acl.RegisterFrameworks, "services", "services", true},
		{"services registers a nested role", acl.RegisterFrameworks, "services", "services/team-a", true},
		{"services may not take the jobs role", acl.RegisterFrameworks, "services", "jobs", false},
		{"jobs registers its role", acl.RegisterFrameworks, "jobs", "jobs", true},
		{"jobs has no nested roles", acl.RegisterFrameworks, "jobs", "jobs/x", false},
		{"an unknown framework", acl.RegisterFrameworks, "other", "other", false},
		{"anonymous framework", acl.RegisterFrameworks, "", "services", false},
		{"pitfall: root is allowed", acl.RunTasks, "services", "root", true},
		{"pitfall: root is allowed to anyone", acl.RunTasks, "", "root", true},
		{"tasks as nobody", acl.RunTasks, "jobs", "nobody", true},
		{"ops tears down", acl.TeardownFrameworks, "ops", "services", true},
		{"bob does not tear down", acl.TeardownFrameworks, "bob", "services", false},
		{"anyone views frameworks", acl.ViewFrameworks, "", "root", true},
		{"anyone views tasks", acl.ViewTasks, "bob", "nobody", true},
		{"anyone views executors", acl.ViewExecutors, "bob", "", true},
		{"ops reads sandboxes", acl.AccessSandboxes, "ops", "nobody", true},
		{"bob does not read sandboxes", acl.AccessSandboxes, "bob", "nobody", false},
		{"ops reads logs", acl.AccessMesosLogs, "ops", "", true},
		{"anonymous does not read logs", acl.AccessMesosLogs, "", "", false},
		{"ops gets endpoints", acl.GetEndpoints, "ops", "/metrics/snapshot", true},
		{"bob does not get endpoints", acl.GetEndpoints, "bob", "/metrics/snapshot", false},
		{"ops updates weights", acl.UpdateWeights, "ops", "services", true},
		{"ops updates quotas", acl.UpdateQuotas, "ops", "jobs/x", true},
		{"bob does not update quotas", acl.UpdateQuotas, "bob", "jobs", false},
		{"ops drains", acl.DrainAgents, "ops", "", true},
		{"no get_quotas entries: permissive false", acl.GetQuotas, "ops", "jobs", false},
		{"no manage_apps entries: permissive false", acl.ManageApps, "ops", "/a", false},
	})
}

// TestExampleFileNoRoot is the example with its first run_tasks entry
// written as docs/authorization.md does to forbid root: principals NONE.
func TestExampleFileNoRoot(t *testing.T) {
	const pitfall = `{"principals": {"type": "ANY"}, "users": {"values": ["root"]}}`
	const fixed = `{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}`
	doc := readExample(t)
	if !strings.Contains(doc, pitfall) {
		t.Fatalf("testdata/example.json lacks the entry %s", pitfall)
	}
	a := mustParse(t, strings.Replace(doc, pitfall, fixed, 1))
	checkAll(t, a, []req{
		{"root is denied", acl.RunTasks, "services", "root", false},
		{"root is denied to anonymous", acl.RunTasks, "", "root", false},
		{"other users still run", acl.RunTasks, "services", "nobody", true},
		{"no user named: the ANY entry allows", acl.RunTasks, "services", "", true},
	})
}

func TestNilAllowsEverything(t *testing.T) {
	var a *acl.ACLs
	checkAll(t, a, []req{
		{"named", acl.RunTasks, "alice", "root", true},
		{"anonymous, no object", acl.ManageSecrets, "", "", true},
		{"not an action", acl.Action("bogus"), "alice", "x", true},
	})
	if err := a.Check(acl.RunTasks, "", "root"); err != nil {
		t.Errorf("Check(run_tasks, \"\", \"root\") on nil = %v; want nil", err)
	}
	if got, want := a.Summary(), "ACLs: none configured, every request is allowed"; got != want {
		t.Errorf("Summary() = %q; want %q", got, want)
	}
}

// TestUnknownActionDenied: an Action that is not one of the constants is a
// caller's bug and is denied even by a permissive file.
func TestUnknownActionDenied(t *testing.T) {
	a := mustParse(t, `{"permissive": true}`)
	checkAll(t, a, []req{
		{"typo", acl.Action("run_task"), "alice", "web", false},
		{"empty", acl.Action(""), "alice", "", false},
		{"known", acl.RunTasks, "alice", "web", true},
	})
}

func TestCheck(t *testing.T) {
	a := mustParse(t, `{"permissive": false, "run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]}`)
	tests := []struct {
		name              string
		act               acl.Action
		principal, object string
		want              string // "" for nil
	}{
		{"allowed", acl.RunTasks, "bob", "nobody", ""},
		{"named", acl.RunTasks, "bob", "root", `principal "bob" may not run_tasks for users "root"`},
		{"anonymous", acl.RunTasks, "", "root", `an anonymous caller may not run_tasks for users "root"`},
		{"no object", acl.TeardownFrameworks, "bob", "", `principal "bob" may not teardown_frameworks`},
		{"roles", acl.RegisterFrameworks, "bob", "eng", `principal "bob" may not register_frameworks for roles "eng"`},
		{"apps", acl.ManageApps, "", "/a", `an anonymous caller may not manage_apps for apps "/a"`},
		{"quoted", acl.ViewJobs, `a"b`, "j", `principal "a\"b" may not view_jobs for jobs "j"`},
		{"unknown action", acl.Action("bogus"), "bob", "x", `principal "bob" may not bogus for object "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Check(tt.act, tt.principal, tt.object)
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check(%s, %q, %q) = %v; want nil", tt.act, tt.principal, tt.object, err)
				}
				return
			}
			var d *acl.Denied
			if !errors.As(err, &d) {
				t.Fatalf("Check(%s, %q, %q) = %v; want a *Denied", tt.act, tt.principal, tt.object, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Check(%s, %q, %q) = %q; want %q", tt.act, tt.principal, tt.object, got, tt.want)
			}
			if d.Action != tt.act || d.Principal != tt.principal || d.Object != tt.object {
				t.Errorf("Check(%s, %q, %q) = %+v; want the request's fields", tt.act, tt.principal, tt.object, *d)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{`{}`, "ACLs: 0 rules over 0 actions, permissive=true"},
		{`{"permissive": false, "run_tasks": []}`, "ACLs: 0 rules over 0 actions, permissive=false"},
		{`{"run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]}`, "ACLs: 1 rule over 1 action, permissive=true"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.doc).Summary(); got != tt.want {
			t.Errorf("Parse(%s).Summary() = %q; want %q", tt.doc, got, tt.want)
		}
	}
}

func TestExplicitAndGrants(t *testing.T) {
	a := mustParse(t, `{"permissive": true,
	  "run_tasks": [
	    {"principals": {"values": ["ops"]}, "users": {"values": ["root"]}},
	    {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}],
	  "view_apps": [
	    {"principals": {"values": ["eve"]}, "apps": {"type": "ANY"}},
	    {"principals": {"type": "NONE"}, "apps": {"type": "ANY"}},
	    {"principals": {"values": ["team"]}, "apps": {"values": ["/team-a"]}}]}`)
	for _, c := range []struct {
		principal, user string
		want            bool
	}{
		{"ops", "root", true}, {"svc", "root", false}, {"svc", "nobody", true}, {"svc", "alice", false},
	} {
		if got := a.Explicit(acl.RunTasks, c.principal, c.user); got != c.want {
			t.Errorf("Explicit(run_tasks, %q, %q) = %v; want %v", c.principal, c.user, got, c.want)
		}
	}
	if (*acl.ACLs)(nil).Explicit(acl.RunTasks, "ops", "root") {
		t.Error("nil ACLs: Explicit = true; want false")
	}
	for _, c := range []struct {
		principal string
		want      bool
	}{{"eve", true}, {"team", false}, {"", false}} {
		if got := a.Grants(acl.ViewApps, c.principal); got != c.want {
			t.Errorf("Grants(view_apps, %q) = %v; want %v", c.principal, got, c.want)
		}
	}
	b := mustParse(t, `{"permissive": false, "view_apps": [{"principals": {"values": ["team"]}, "apps": {"values": ["/team-a"]}}]}`)
	if !b.Grants(acl.ViewApps, "team") || b.Grants(acl.ViewApps, "other") {
		t.Error("Grants(view_apps): want true for a principal with some apps, false for one without")
	}
	if !(*acl.ACLs)(nil).Grants(acl.ViewApps, "x") {
		t.Error("nil ACLs: Grants = false; want true")
	}
}
