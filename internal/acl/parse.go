package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"corral/internal/suggest"
)

// Parse reads an ACL file in Mesos' JSON format with corral's actions
// added. It is stricter than Mesos, which ignores what it does not know:
// Parse refuses unknown or repeated keys, entries missing their subject or
// object, entity types other than ANY and NONE, a type given together with
// values, and values where an action takes only ANY or NONE. Every error
// starts with "acls: " and names the action, the entry's index and the key
// at fault; a JSON syntax error gives its line and column.
func Parse(b []byte) (*ACLs, error) {
	doc, err := decode(b)
	if err != nil {
		return nil, err
	}
	if doc.kind != '{' {
		return nil, fmt.Errorf("acls: the file must hold a JSON object, not %s", doc.what())
	}
	a := &ACLs{permissive: true, rules: map[Action][]entry{}}
	seen := map[string]bool{}
	for i, key := range doc.keys {
		val := doc.vals[i]
		if seen[key] {
			return nil, fmt.Errorf("acls: %q appears twice", key)
		}
		seen[key] = true
		if key == "permissive" {
			if val.kind != 'b' {
				return nil, fmt.Errorf("acls: \"permissive\" must be true or false, not %s", val.what())
			}
			a.permissive = val.b
			continue
		}
		act := Action(key)
		objKey, m, ok := act.object()
		if !ok {
			return nil, unknownAction(key)
		}
		if val.kind != '[' {
			return nil, fmt.Errorf("acls: %s must be a list of entries, not %s", act, val.what())
		}
		for j, raw := range val.elems {
			e, err := parseEntry(raw, objKey, m)
			if err != nil {
				return nil, fmt.Errorf("acls: %s[%d]: %w", act, j, err)
			}
			a.rules[act] = append(a.rules[act], e)
			a.count++
		}
	}
	return a, nil
}

// unknownAction explains why key is not an action.
func unknownAction(key string) error {
	if mesosOnly(key) {
		return fmt.Errorf("acls: %q is a Mesos action that corral does not enforce; remove it", key)
	}
	if s := nearestKey(key); s != "" {
		return fmt.Errorf("acls: unknown action %q (did you mean %q?)", key, s)
	}
	return fmt.Errorf("acls: unknown action %q", key)
}

// nearestKey returns the known top-level key closest to key when it is
// close enough to be a slip (a missing "s", a swapped letter, the wrong
// case).
func nearestKey(key string) string {
	best, bestD := "", -1
	try := func(k string) {
		d := suggest.Distance(strings.ToLower(key), k)
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	try("permissive")
	for _, a := range actions {
		try(string(a))
	}
	if bestD <= max(2, len(key)/5) {
		return best
	}
	return ""
}

// parseEntry reads one entry of an action whose object key is objKey. Its
// errors leave out the "acls: action[index]: " the caller puts in front.
func parseEntry(n *node, objKey string, m match) (entry, error) {
	if n.kind != '{' {
		return entry{}, fmt.Errorf("must be an object, not %s", n.what())
	}
	var e entry
	var haveSubject, haveObject bool
	for i, key := range n.keys {
		val := n.vals[i]
		switch key {
		case "principals":
			if haveSubject {
				return entry{}, fmt.Errorf("%q appears twice", key)
			}
			haveSubject = true
			ent, err := parseEntity(val, key, matchExact)
			if err != nil {
				return entry{}, err
			}
			e.subject = ent
		case objKey:
			if haveObject {
				return entry{}, fmt.Errorf("%q appears twice", key)
			}
			haveObject = true
			ent, err := parseEntity(val, key, m)
			if err != nil {
				return entry{}, err
			}
			e.object = ent
		default:
			return entry{}, fmt.Errorf("unknown key %q (an entry of this action has \"principals\" and %q)", key, objKey)
		}
	}
	if !haveSubject {
		return entry{}, errors.New(`missing "principals"`)
	}
	if !haveObject {
		return entry{}, fmt.Errorf("missing %q", objKey)
	}
	return e, nil
}

// parseEntity reads the entity under key, whose values compare under m.
func parseEntity(n *node, key string, m match) (entity, error) {
	fail := func(format string, args ...any) (entity, error) {
		return entity{}, fmt.Errorf("%q: %s", key, fmt.Sprintf(format, args...))
	}
	if n.kind != '{' {
		if n.kind == '[' {
			return fail(`must be an object, not a list; write {"values": [...]}`)
		}
		return fail("must be an object, not %s", n.what())
	}
	var typ, values *node
	for i, k := range n.keys {
		var slot **node
		switch k {
		case "type":
			slot = &typ
		case "values":
			slot = &values
		default:
			return fail(`unknown key %q (an entity has "type" or "values")`, k)
		}
		if *slot != nil {
			return fail("%q appears twice", k)
		}
		*slot = n.vals[i]
	}
	switch {
	case typ != nil:
		if typ.kind != 's' {
			return fail("type must be a string, not %s", typ.what())
		}
		var ent entity
		switch typ.s {
		case "ANY":
			ent.kind = anyKind
		case "NONE":
			ent.kind = none
		case "SOME":
			return fail(`type "SOME" is not ANY or NONE (give just "values" for a list)`)
		default:
			if up := strings.ToUpper(typ.s); up == "ANY" || up == "NONE" {
				return fail("type %q is not ANY or NONE (types are upper case: %q)", typ.s, up)
			}
			return fail("type %q is not ANY or NONE", typ.s)
		}
		if values != nil {
			return fail(`has both "type" and "values"; a type ignores values, so give one of them`)
		}
		return ent, nil
	case values == nil:
		return fail(`needs "type" (ANY or NONE) or "values"`)
	case m == matchFixed:
		return fail("values are not allowed here; type must be either NONE or ANY")
	case values.kind != '[':
		return fail("values must be a list of strings, not %s", values.what())
	case len(values.elems) == 0:
		return fail(`values is empty, so the entry can never match; {"type": "NONE"} is how to say "nobody"`)
	}
	ent := entity{kind: some}
	for i, v := range values.elems {
		if v.kind != 's' {
			return fail("values[%d] must be a string, not %s", i, v.what())
		}
		s := v.s
		switch {
		case s == "":
			return fail("values[%d] is empty", i)
		case m != matchRole && strings.HasSuffix(s, "/%"):
			return fail(`values[%d] %q: only roles understand "/%%"`, i, s)
		case m == matchPath:
			s = path.Clean(s)
		}
		ent.values = append(ent.values, s)
	}
	return ent, nil
}

// node is a JSON value with the order (and any repeats) of object keys
// kept, which encoding/json's maps lose.
type node struct {
	kind  byte // '{' object, '[' list, 's' string, 'n' number, 'b' bool, '0' null
	s     string
	b     bool
	keys  []string // object
	vals  []*node  // object, parallel to keys
	elems []*node  // list
}

// what names n's JSON type for error messages.
func (n *node) what() string {
	switch n.kind {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 's':
		return fmt.Sprintf("the string %q", n.s)
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	}
	return "null"
}

// decode parses b into a node tree, reporting a syntax error with its line
// and column.
func decode(b []byte) (*node, error) {
	// Unmarshal checks the whole input before it decodes, so its syntax
	// errors carry offsets into b; the decoder below then meets only
	// well-formed JSON.
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se)
			return nil, fmt.Errorf("acls: line %d, column %d: %s", line, col, se)
		}
		return nil, fmt.Errorf("acls: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return readNode(dec)
}

// position returns the 1-based line and column (in characters) of the
// byte a syntax error points at: the offending byte, or the end of input.
func position(b []byte, se *json.SyntaxError) (line, col int) {
	p := int(se.Offset) - 1 // Offset counts the offending byte itself
	if p < 0 || p >= len(b) || strings.Contains(se.Error(), "unexpected end") {
		p = min(max(int(se.Offset), 0), len(b))
	}
	start := bytes.LastIndexByte(b[:p], '\n') + 1
	return bytes.Count(b[:p], []byte("\n")) + 1, utf8.RuneCount(b[start:p]) + 1
}

// readNode reads the next value from dec, which holds well-formed JSON.
func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("acls: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: byte(t)}
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("acls: %w", err)
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			if t == '{' {
				n.vals = append(n.vals, v)
			} else {
				n.elems = append(n.elems, v)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("acls: %w", err)
		}
		return n, nil
	case string:
		return &node{kind: 's', s: t}, nil
	case json.Number:
		return &node{kind: 'n'}, nil
	case bool:
		return &node{kind: 'b', b: t}, nil
	}
	return &node{kind: '0'}, nil
}
