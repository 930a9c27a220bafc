package acl_test

import (
	"strings"
	"testing"

	"corral/internal/acl"
)

// TestParseErrors covers every file Parse refuses, most of which Mesos
// would accept and then evaluate differently from what was written.
func TestParseErrors(t *testing.T) {
	// entry builds a one-entry file for act.
	entry := func(act, body string) string { return `{"` + act + `": [` + body + `]}` }
	// users builds a run_tasks entry with principals ANY and the given
	// "users" entity.
	users := func(ent string) string {
		return entry("run_tasks", `{"principals": {"type": "ANY"}, "users": `+ent+`}`)
	}
	tests := []struct {
		name, doc, want string
	}{
		// JSON itself.
		{"syntax error", "{\n  \"run_tasks\": [\n    {\"principals\": {\"type\": \"ANY\"},}\n  ]\n}",
			`acls: line 3, column 36: invalid character '}' looking for beginning of object key string`},
		{"truncated", "{\n  \"permissive\": ", `acls: line 2, column 17: unexpected end of JSON input`},
		{"empty", "", `acls: line 1, column 1: unexpected end of JSON input`},
		{"trailing data", "{}\n{}", `acls: line 2, column 1: invalid character '{' after top-level value`},
		{"column counts characters", "{\"é\": x}", `acls: line 1, column 7: invalid character 'x' looking for beginning of value`},
		{"not an object", `["run_tasks"]`, `acls: the file must hold a JSON object, not a list`},
		{"null", `null`, `acls: the file must hold a JSON object, not null`},

		// Top-level keys.
		{"permissive string", `{"permissive": "false"}`, `acls: "permissive" must be true or false, not the string "false"`},
		{"permissive number", `{"permissive": 0}`, `acls: "permissive" must be true or false, not a number`},
		{"permissive twice", `{"permissive": false, "permissive": true}`, `acls: "permissive" appears twice`},
		{"permissive misspelled", `{"permisive": false}`, `acls: unknown action "permisive" (did you mean "permissive"?)`},
		{"action singular", `{"run_task": []}`, `acls: unknown action "run_task" (did you mean "run_tasks"?)`},
		{"action wrong case", `{"Run_Tasks": []}`, `acls: unknown action "Run_Tasks" (did you mean "run_tasks"?)`},
		{"corral action singular", `{"manage_app": []}`, `acls: unknown action "manage_app" (did you mean "manage_apps"?)`},
		{"view_framework", `{"view_framework": []}`, `acls: unknown action "view_framework" (did you mean "view_frameworks"?)`},
		{"far from everything", `{"launch_rockets": []}`, `acls: unknown action "launch_rockets"`},
		{"Mesos action corral lacks", `{"reserve_resources": []}`, `acls: "reserve_resources" is a Mesos action that corral does not enforce; remove it`},
		{"action twice", `{"run_tasks": [], "run_tasks": []}`, `acls: "run_tasks" appears twice`},
		{"entries not a list", `{"run_tasks": {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}}`, `acls: run_tasks must be a list of entries, not an object`},
		{"entries null", `{"run_tasks": null}`, `acls: run_tasks must be a list of entries, not null`},

		// Entries.
		{"entry not an object", entry("run_tasks", `"root"`), `acls: run_tasks[0]: must be an object, not the string "root"`},
		{"entry unknown key", entry("run_tasks", `{"principals": {"type": "ANY"}, "users": {"type": "ANY"}, "comment": "x"}`),
			`acls: run_tasks[0]: unknown key "comment" (an entry of this action has "principals" and "users")`},
		{"entry wrong object key", entry("run_tasks", `{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}`),
			`acls: run_tasks[0]: unknown key "roles" (an entry of this action has "principals" and "users")`},
		{"entry singular object key", entry("manage_apps", `{"principals": {"type": "ANY"}, "app": {"type": "ANY"}}`),
			`acls: manage_apps[0]: unknown key "app" (an entry of this action has "principals" and "apps")`},
		{"entry missing principals", entry("view_roles", `{"roles": {"type": "ANY"}}`), `acls: view_roles[0]: missing "principals"`},
		{"entry missing object", entry("teardown_frameworks", `{"principals": {"type": "ANY"}}`),
			`acls: teardown_frameworks[0]: missing "framework_principals"`},
		{"entry empty", entry("run_tasks", `{}`), `acls: run_tasks[0]: missing "principals"`},
		{"entry principals twice", entry("run_tasks", `{"principals": {"type": "ANY"}, "principals": {"type": "NONE"}, "users": {"type": "ANY"}}`),
			`acls: run_tasks[0]: "principals" appears twice`},
		{"entry object twice", entry("run_tasks", `{"principals": {"type": "ANY"}, "users": {"type": "NONE"}, "users": {"type": "ANY"}}`),
			`acls: run_tasks[0]: "users" appears twice`},
		{"index of the bad entry", `{"run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}, {"principals": {"type": "ANY"}}]}`,
			`acls: run_tasks[1]: missing "users"`},

		// Entities.
		{"type unknown", entry("run_tasks", `{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}, {"principals": {"type": "ANY"}, "users": {"type": "admin"}}`),
			`acls: run_tasks[1]: "users": type "admin" is not ANY or NONE`},
		{"type admin in principals (the published teardown example)", entry("teardown_frameworks", `{"principals": {"type": "admin"}, "framework_principals": {"type": "ANY"}}`),
			`acls: teardown_frameworks[0]: "principals": type "admin" is not ANY or NONE`},
		{"type lower case", users(`{"type": "any"}`), `acls: run_tasks[0]: "users": type "any" is not ANY or NONE (types are upper case: "ANY")`},
		{"type mixed case none", users(`{"type": "None"}`), `acls: run_tasks[0]: "users": type "None" is not ANY or NONE (types are upper case: "NONE")`},
		{"type SOME", users(`{"type": "SOME", "values": ["a"]}`), `acls: run_tasks[0]: "users": type "SOME" is not ANY or NONE (give just "values" for a list)`},
		{"type not a string", users(`{"type": 1}`), `acls: run_tasks[0]: "users": type must be a string, not a number`},
		{"type with values", users(`{"type": "NONE", "values": ["root"]}`),
			`acls: run_tasks[0]: "users": has both "type" and "values"; a type ignores values, so give one of them`},
		{"type with empty values", users(`{"type": "ANY", "values": []}`),
			`acls: run_tasks[0]: "users": has both "type" and "values"; a type ignores values, so give one of them`},
		{"neither", users(`{}`), `acls: run_tasks[0]: "users": needs "type" (ANY or NONE) or "values"`},
		{"entity unknown key", users(`{"value": ["root"]}`), `acls: run_tasks[0]: "users": unknown key "value" (an entity has "type" or "values")`},
		{"entity key twice", users(`{"type": "ANY", "type": "NONE"}`), `acls: run_tasks[0]: "users": "type" appears twice`},
		{"entity a list", users(`["root"]`), `acls: run_tasks[0]: "users": must be an object, not a list; write {"values": [...]}`},
		{"entity a string", users(`"ANY"`), `acls: run_tasks[0]: "users": must be an object, not the string "ANY"`},
		{"values a string", users(`{"values": "root"}`), `acls: run_tasks[0]: "users": values must be a list of strings, not the string "root"`},
		{"values empty", users(`{"values": []}`),
			`acls: run_tasks[0]: "users": values is empty, so the entry can never match; {"type": "NONE"} is how to say "nobody"`},
		{"value not a string", users(`{"values": ["a", 7]}`), `acls: run_tasks[0]: "users": values[1] must be a string, not a number`},
		{"value empty", users(`{"values": ["a", ""]}`), `acls: run_tasks[0]: "users": values[1] is empty`},
		{"principal empty", entry("run_tasks", `{"principals": {"values": [""]}, "users": {"type": "ANY"}}`),
			`acls: run_tasks[0]: "principals": values[0] is empty`},
		{"/% outside roles", entry("manage_apps", `{"principals": {"type": "ANY"}, "apps": {"values": ["/team-a/%"]}}`),
			`acls: manage_apps[0]: "apps": values[0] "/team-a/%": only roles understand "/%"`},

		// ANY/NONE-only actions.
		{"logs values", entry("access_mesos_logs", `{"principals": {"type": "ANY"}, "logs": {"values": ["master"]}}`),
			`acls: access_mesos_logs[0]: "logs": values are not allowed here; type must be either NONE or ANY`},
		{"flags values", entry("view_flags", `{"principals": {"type": "ANY"}, "flags": {"values": ["x"]}}`),
			`acls: view_flags[0]: "flags": values are not allowed here; type must be either NONE or ANY`},
		{"agents values", entry("register_agents", `{"principals": {"type": "ANY"}, "agents": {"values": ["a1"]}}`),
			`acls: register_agents[0]: "agents": values are not allowed here; type must be either NONE or ANY`},
		{"drain values", entry("drain_agents", `{"principals": {"type": "ANY"}, "agents": {"values": ["a1"]}}`),
			`acls: drain_agents[0]: "agents": values are not allowed here; type must be either NONE or ANY`},
		{"machines values", entry("start_maintenances", `{"principals": {"type": "ANY"}, "machines": {"values": ["m"]}}`),
			`acls: start_maintenances[0]: "machines": values are not allowed here; type must be either NONE or ANY`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := acl.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%s) = %s, nil; want error %q", tt.doc, a.Summary(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%s) error = %q; want %q", tt.doc, got, tt.want)
			}
		})
	}
}

// TestParseEveryAction: each action accepts an entry with its own object
// key, and one with values unless it is ANY/NONE only.
func TestParseEveryAction(t *testing.T) {
	tests := []struct {
		act      acl.Action
		key      string
		anyNone  bool // values refused
		anObject string
	}{
		{acl.RegisterFrameworks, "roles", false, "r"},
		{acl.RunTasks, "users", false, "u"},
		{acl.TeardownFrameworks, "framework_principals", false, "p"},
		{acl.AccessSandboxes, "users", false, "u"},
		{acl.AccessMesosLogs, "logs", true, ""},
		{acl.ViewFrameworks, "users", false, "u"},
		{acl.ViewTasks, "users", false, "u"},
		{acl.ViewExecutors, "users", false, "u"},
		{acl.ViewRoles, "roles", false, "r"},
		{acl.UpdateWeights, "roles", false, "r"},
		{acl.GetQuotas, "roles", false, "r"},
		{acl.UpdateQuotas, "roles", false, "r"},
		{acl.RegisterAgents, "agents", true, ""},
		{acl.DrainAgents, "agents", true, ""},
		{acl.DeactivateAgents, "agents", true, ""},
		{acl.ReactivateAgents, "agents", true, ""},
		{acl.MarkAgentsGone, "agents", true, ""},
		{acl.StartMaintenances, "machines", true, ""},
		{acl.StopMaintenances, "machines", true, ""},
		{acl.UpdateMaintenanceSchedules, "machines", true, ""},
		{acl.GetMaintenanceSchedules, "machines", true, ""},
		{acl.GetMaintenanceStatuses, "machines", true, ""},
		{acl.ViewFlags, "flags", true, ""},
		{acl.GetEndpoints, "paths", false, "/p"},
		{acl.ManageApps, "apps", false, "/a"},
		{acl.ViewApps, "apps", false, "/a"},
		{acl.ManageJobs, "jobs", false, "j"},
		{acl.ViewJobs, "jobs", false, "j"},
		{acl.ManageSecrets, "secrets", false, "/s"},
		{acl.UseSecrets, "secrets", false, "/s"},
	}
	for _, tt := range tests {
		t.Run(tt.act.String(), func(t *testing.T) {
			obj := `{"type": "NONE"}`
			if !tt.anyNone {
				obj = `{"values": ["` + tt.anObject + `"]}`
			}
			doc := `{"` + string(tt.act) + `": [{"principals": {"values": ["alice"]}, "` + tt.key + `": ` + obj + `}]}`
			a, err := acl.Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse(%s) = %v", doc, err)
			}
			// The entry matches alice's request and denies it if NONE,
			// allows it if it lists the object.
			if got, want := a.Allowed(tt.act, "alice", tt.anObject), !tt.anyNone; got != want {
				t.Errorf("Allowed(%s, \"alice\", %q) = %t; want %t", tt.act, tt.anObject, got, want)
			}
			if tt.anyNone {
				doc = strings.Replace(doc, obj, `{"values": ["x"]}`, 1)
				if _, err := acl.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "type must be either NONE or ANY") {
					t.Errorf("Parse(%s) = %v; want the ANY/NONE error", doc, err)
				}
			}
		})
	}
}
