// Package acl evaluates access control lists written in the JSON format of
// Mesos' local authorizer (the master's --acls), with corral's own actions
// for apps, jobs and secrets added in the same shape.
//
// The package is pure: Parse takes the file's bytes (the caller reads the
// file), and Allowed is a function of the parsed rules and its arguments.
// A parsed *ACLs never changes, so it is safe for concurrent use; a nil
// *ACLs means no --acls were given and allows everything.
//
// # Vocabulary
//
//   - action: what is asked, such as run_tasks or manage_apps. It is a
//     top-level key of the file, holding an ordered list of entries.
//   - principal: who asks; the subject of a request. An anonymous caller
//     (no principal) is a request for subject ANY.
//   - object: what the action is done to: a role, an OS user, an app id,
//     a job name and so on. Each action names its object key ("roles",
//     "users", "apps", ...). A request that names no object is a request
//     for object ANY.
//   - entry: one rule, {"principals": entity, "<object key>": entity}.
//   - entity: the subject or object side of an entry:
//     {"values": [...]} (type SOME, the listed values), {"type": "ANY"}
//     (everyone, everything) or {"type": "NONE"} (no one, nothing).
//   - match and allow: each side of an entry first matches a request or
//     not, and if it matches, allows it or not (table below).
//   - permissive: the top-level boolean, true unless given, that decides
//     requests no entry matches.
//
// # Deciding a request
//
//	entries of the action, in file order
//	  subject matches AND object matches? ── no ──► next entry
//	        │ yes                                     │ none left
//	        ▼                                         ▼
//	  allowed iff subject allows AND object allows   allowed iff permissive
//
// Later entries are never consulted, and entries with the same subject are
// not merged. For each side:
//
//	request ↓ / entry →   SOME (values)           NONE            ANY
//	named                 match+allow iff listed  match, deny     match, allow
//	anonymous / no object no match                match, deny     match, allow
//
// So {"principals": {"type": "NONE"}, "users": {"values": ["root"]}} is a
// rule that matches every request for root and denies it, whoever asks;
// an entry that lists root among SOME users with principals ANY instead
// matches root and allows it.
//
// # Comparing objects with values
//
//   - roles: the same role, and a value "eng/%" matches every role strictly
//     nested under eng ("eng/dev", "eng/dev/x") but not "eng" itself.
//   - apps, secrets: path prefixes by whole components. "/team-a" matches
//     "/team-a" and "/team-a/web" but not "/team-ab"; "/" matches every
//     path. Values and objects are compared in path.Clean form, so a
//     trailing "/" (and "." or ".." components) changes nothing.
//   - jobs: plain string prefixes of the job name ("team-a-" matches
//     "team-a-nightly").
//   - users, framework_principals, paths: exact strings; principals too.
//   - logs, flags, agents, machines: values are not allowed; an entry gives
//     the type ANY or NONE, as in Mesos.
//
// # Strictness
//
// Mesos ignores JSON keys and enum names it does not know, which silently
// drops a rule (a misspelled "run_task" with permissive true means allow;
// "type": "admin" becomes an empty SOME that matches no one). Parse refuses
// such files instead, naming the action, the entry and the key at fault.
package acl
