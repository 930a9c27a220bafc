package acl

import (
	"fmt"
	"path"
	"strings"
)

// ACLs is a parsed ACL file. It is immutable once Parse returns it, so any
// number of goroutines may call its methods at once. A nil *ACLs stands
// for "no ACLs configured" and allows every request.
type ACLs struct {
	permissive bool
	rules      map[Action][]entry
	count      int // entries over all actions
}

// entry is one rule: who (subject) may or may not do the action to what
// (object).
type entry struct {
	subject, object entity
}

// kind is the type of an entity, in an entry or in a request.
type kind uint8

const (
	some    kind = iota // the listed values; in a request, one named value
	anyKind             // everyone or everything; in a request, none named
	none                // no one and nothing
)

// entity is a subject or object of an entry. values is set only for some;
// for path-matched objects the values are in path.Clean form.
type entity struct {
	kind   kind
	values []string
}

// request is a subject or object as a request presents it: a named value
// (some) or nothing named (anyKind). Mesos also defines a request of kind
// none; Allowed never builds one, but the table in judge covers it.
type request struct {
	kind  kind
	value string
}

// named turns an Allowed argument into a request: "" names nothing.
func named(s string) request {
	if s == "" {
		return request{kind: anyKind}
	}
	return request{kind: some, value: s}
}

// judge decides one side (subject or object) of an entry for one request,
// following Mesos' local authorizer:
//
//	request ↓ / entry →   some                 none             any
//	some (named)          match+allow iff in   match, deny      match, allow
//	any (nothing named)   no match             match, deny      match, allow
//	none                  no match             match, allow     no match
func judge(r request, e entity, m match) (matches, allows bool) {
	switch r.kind {
	case none:
		return e.kind == none, e.kind == none
	case anyKind:
		return e.kind != some, e.kind == anyKind
	}
	switch e.kind {
	case anyKind:
		return true, true
	case none:
		return true, false
	}
	in := contains(e.values, r.value, m)
	return in, in
}

// contains reports whether value v of a request is covered by one of an
// entry's values under m.
func contains(values []string, v string, m match) bool {
	if m == matchPath {
		v = path.Clean(v)
	}
	for _, w := range values {
		switch m {
		case matchRole:
			if v == w {
				return true
			}
			// "eng/%" covers "eng/dev" and "eng/dev/x", not "eng".
			if parent, ok := strings.CutSuffix(w, "%"); ok && strings.HasSuffix(parent, "/") &&
				len(v) > len(parent) && strings.HasPrefix(v, parent) {
				return true
			}
		case matchPath:
			if w == "/" || v == w || strings.HasPrefix(v, w) && v[len(w)] == '/' {
				return true
			}
		case matchPrefix:
			if strings.HasPrefix(v, w) {
				return true
			}
		default:
			if v == w {
				return true
			}
		}
	}
	return false
}

// Allowed reports whether principal may perform act on object. principal
// "" is an anonymous caller; object "" is a request that names no object
// (Mesos' subject and object ANY). Entries of act are tried in order; the
// first whose subject and object both match the request decides it, and
// the request is allowed iff both also allow it. A request no entry
// matches is allowed iff the file is permissive.
//
// A request about several objects at once (a framework subscribing with
// several roles) is allowed only if each object is: call Allowed once per
// object. Callers pass the object the action really touches (the OS user
// a task will run as after defaults are applied, an app's absolute id),
// since "" matches only entries whose object is ANY or NONE.
//
// A nil *ACLs allows everything. An Action that corral does not define is
// a programming error and is denied, whatever permissive says.
func (a *ACLs) Allowed(act Action, principal, object string) bool {
	if a == nil {
		return true
	}
	matched, allowed, known := a.decide(act, principal, object)
	switch {
	case !known:
		return false
	case matched:
		return allowed
	}
	return a.permissive
}

// decide finds the first entry of act that matches the request: matched
// says whether one did, allowed what it says; known is false for an
// Action corral does not define.
func (a *ACLs) decide(act Action, principal, object string) (matched, allowed, known bool) {
	_, m, ok := act.object()
	if !ok {
		return false, false, false
	}
	subject, obj := named(principal), named(object)
	for _, e := range a.rules[act] {
		ms, as := judge(subject, e.subject, matchExact)
		mo, ao := judge(obj, e.object, m)
		if ms && mo {
			return true, as && ao, true
		}
	}
	return false, false, true
}

// Check is Allowed as an error: nil if the request is allowed, else a
// *Denied describing it.
func (a *ACLs) Check(act Action, principal, object string) error {
	if a.Allowed(act, principal, object) {
		return nil
	}
	return &Denied{Action: act, Principal: principal, Object: object}
}

// Denied is the error Check returns for a refused request. Its fields are
// Check's arguments; Error names all of them and is safe to show to the
// caller it refused.
type Denied struct {
	Action    Action
	Principal string // "" for an anonymous caller
	Object    string // "" when the request named no object
}

// Error reads like `principal "bob" may not run_tasks for users "root"`.
func (d *Denied) Error() string {
	var b strings.Builder
	if d.Principal == "" {
		b.WriteString("an anonymous caller")
	} else {
		fmt.Fprintf(&b, "principal %q", d.Principal)
	}
	fmt.Fprintf(&b, " may not %s", d.Action)
	if d.Object != "" {
		key, _, ok := d.Action.object()
		if !ok {
			key = "object"
		}
		fmt.Fprintf(&b, " for %s %q", key, d.Object)
	}
	return b.String()
}

// Summary returns one line for start-up logs, such as
// "ACLs: 7 rules over 5 actions, permissive=false".
func (a *ACLs) Summary() string {
	if a == nil {
		return "ACLs: none configured, every request is allowed"
	}
	return fmt.Sprintf("ACLs: %d %s over %d %s, permissive=%t",
		a.count, plural(a.count, "rule", "rules"), len(a.rules), plural(len(a.rules), "action", "actions"), a.permissive)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Explicit reports whether an entry of act matches the request and allows
// it: unlike Allowed, a request no entry matches is refused whatever
// permissive says. It is for what corral allows only when an operator
// said so in so many words (tasks as root).
func (a *ACLs) Explicit(act Action, principal, object string) bool {
	if a == nil {
		return false
	}
	matched, allowed, _ := a.decide(act, principal, object)
	return matched && allowed
}

// Grants reports whether principal may perform act on at least some
// object: whether a list of such objects, filtered by Allowed, is the
// caller's to see at all (else the answer is 403, not an empty list). It
// is true for a nil *ACLs; otherwise the first entry whose subject matches
// the principal and whose object is not NONE decides by its subject,
// unless an entry before it denies every object to the principal; with
// none, permissive decides.
func (a *ACLs) Grants(act Action, principal string) bool {
	if a == nil {
		return true
	}
	if _, _, ok := act.object(); !ok {
		return false
	}
	subject := named(principal)
	for _, e := range a.rules[act] {
		ms, as := judge(subject, e.subject, matchExact)
		if !ms {
			continue
		}
		switch {
		case e.object.kind == none:
			continue
		case as:
			return true
		case e.object.kind == anyKind:
			return false
		}
	}
	return a.permissive
}
