package place

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Constraint operators, as in Marathon's app JSON.
const (
	OpUnique  = "UNIQUE"   // no two instances share the field's value
	OpCluster = "CLUSTER"  // all instances share one value (Value, or the first one seen)
	OpGroupBy = "GROUP_BY" // spread evenly over the values (Value: how many values to expect)
	OpLike    = "LIKE"     // the value fully matches the regular expression Value
	OpUnlike  = "UNLIKE"   // the value does not fully match Value (a missing attribute passes)
	OpMaxPer  = "MAX_PER"  // at most Value instances per value
	OpIs      = "IS"       // the value equals Value
)

// FieldHostname is the constraint field naming the agent's hostname; the
// Marathon spelling "@hostname" is accepted as well.
const FieldHostname = "hostname"

// Constraint restricts where an app's instances may run: Field names the
// agent's hostname ("hostname" or "@hostname") or one of its attributes
// (another "@name" field names the attribute "name": corral has no separate
// fault-domain record, agents publish region and zone as attributes).
// Operator is one of the Op constants; Value is the operator's argument (see
// each constant). If the agent lacks the attribute, every operator except
// UNLIKE rejects it.
//
// A Constraint is a plain value; build it with ParseConstraint to have it
// validated. Place reports an invalid constraint as a reason on every offer
// instead of failing.
type Constraint struct{ Field, Operator, Value string }

// String renders c as "field OPERATOR[ value]", the form used in reasons.
func (c Constraint) String() string {
	if c.Value == "" {
		return c.Field + " " + c.Operator
	}
	return c.Field + " " + c.Operator + " " + c.Value
}

// ParseConstraint validates one constraint given as Marathon's
// [field, operator(, value)] triple. The operator is matched
// case-insensitively and returned upper case. Errors name the problem in
// terms an API client can act on: an unknown operator, a missing or
// superfluous value, a value that is not a positive integer (MAX_PER,
// GROUP_BY) or not a regular expression (LIKE, UNLIKE).
func ParseConstraint(field, op, value string) (Constraint, error) {
	c := Constraint{Field: strings.TrimSpace(field), Operator: strings.ToUpper(strings.TrimSpace(op)), Value: value}
	if c.Field == "" {
		return Constraint{}, fmt.Errorf("constraint field must not be empty")
	}
	return c, c.validate()
}

func (c Constraint) validate() error {
	switch c.Operator {
	case OpUnique:
		if c.Value != "" {
			return fmt.Errorf("constraint [%s]: UNIQUE takes no value", c)
		}
	case OpCluster:
	case OpGroupBy:
		if c.Value != "" {
			if n, err := strconv.Atoi(c.Value); err != nil || n < 1 {
				return fmt.Errorf("constraint [%s]: GROUP_BY value must be a positive integer", c)
			}
		}
	case OpMaxPer:
		if n, err := strconv.Atoi(c.Value); err != nil || n < 1 {
			return fmt.Errorf("constraint [%s]: MAX_PER value must be a positive integer", c)
		}
	case OpLike, OpUnlike:
		if c.Value == "" {
			return fmt.Errorf("constraint [%s]: %s needs a regular expression", c, c.Operator)
		}
		if _, err := regexp.Compile(fullMatch(c.Value)); err != nil {
			return fmt.Errorf("constraint [%s]: invalid regular expression: %w", c, err)
		}
	case OpIs:
		if c.Value == "" {
			return fmt.Errorf("constraint [%s]: IS needs a value", c)
		}
	default:
		return fmt.Errorf("constraint [%s]: unknown operator %q (want one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)", c, c.Operator)
	}
	return nil
}

func fullMatch(expr string) string { return "^(?:" + expr + ")$" }

// fieldValue returns the value of a constraint field on an agent.
func fieldValue(field, hostname string, attrs map[string]string) (string, bool) {
	if field == FieldHostname || field == "@"+FieldHostname {
		return hostname, true
	}
	if v, ok := attrs[field]; ok {
		return v, true
	}
	if name, ok := strings.CutPrefix(field, "@"); ok {
		v, ok := attrs[name]
		return v, ok
	}
	return "", false
}

// site is where an instance runs, as far as constraints care.
type site struct {
	hostname string
	attrs    map[string]string
}

// compiled is a constraint prepared for evaluation.
type compiled struct {
	Constraint
	err error
	re  *regexp.Regexp
	num int
}

func compile(cs []Constraint) []compiled {
	out := make([]compiled, len(cs))
	for i, c := range cs {
		c.Operator = strings.ToUpper(c.Operator)
		out[i] = compiled{Constraint: c, err: c.validate()}
		if out[i].err != nil {
			continue
		}
		switch c.Operator {
		case OpLike, OpUnlike:
			out[i].re = regexp.MustCompile(fullMatch(c.Value))
		case OpMaxPer, OpGroupBy:
			out[i].num, _ = strconv.Atoi(c.Value)
		}
	}
	return out
}

// check evaluates c for an agent (hostname, attrs) against the sites of the
// app's other instances. It returns "" when satisfied, else a reason.
func (c compiled) check(hostname string, attrs map[string]string, others []site) string {
	prefix := "constraint [" + c.String() + "] not met: "
	if c.err != nil {
		return "constraint [" + c.String() + "] is invalid: " + c.err.Error()
	}
	v, ok := fieldValue(c.Field, hostname, attrs)
	if !ok && c.Operator != OpUnlike {
		return prefix + fmt.Sprintf("agent has no attribute %q", c.Field)
	}
	counts := map[string]int{}
	var first string
	var seen bool
	for _, s := range others {
		if ov, ok := fieldValue(c.Field, s.hostname, s.attrs); ok {
			counts[ov]++
			if !seen {
				first, seen = ov, true
			}
		}
	}
	name := c.Field
	switch c.Operator {
	case OpUnique:
		if counts[v] > 0 {
			return prefix + fmt.Sprintf("%s %q already runs an instance", name, v)
		}
	case OpCluster:
		if c.Value != "" && v != c.Value {
			return prefix + fmt.Sprintf("%s is %q", name, v)
		}
		if c.Value == "" && seen && v != first {
			return prefix + fmt.Sprintf("%s is %q, the app runs on %q", name, v, first)
		}
	case OpGroupBy:
		least, leastValue := 0, ""
		if c.num == 0 || len(counts) >= c.num {
			keys := make([]string, 0, len(counts))
			for k := range counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if i == 0 || counts[k] < least {
					least, leastValue = counts[k], k
				}
			}
		}
		if counts[v] > least {
			if leastValue == "" {
				return prefix + fmt.Sprintf("%s %q has %s, %d values are expected and only %d are in use",
					name, v, Plural(counts[v], "instance"), c.num, len(counts))
			}
			return prefix + fmt.Sprintf("%s %q has %s, %q has %d", name, v, Plural(counts[v], "instance"), leastValue, least)
		}
	case OpLike:
		if !c.re.MatchString(v) {
			return prefix + fmt.Sprintf("%s %q does not match %q", name, v, c.Value)
		}
	case OpUnlike:
		if ok && c.re.MatchString(v) {
			return prefix + fmt.Sprintf("%s %q matches %q", name, v, c.Value)
		}
	case OpMaxPer:
		if counts[v] >= c.num {
			return prefix + fmt.Sprintf("%s %q already has %s", name, v, Plural(counts[v], "instance"))
		}
	case OpIs:
		if !sameValue(v, c.Value) {
			return prefix + fmt.Sprintf("%s is %q", name, v)
		}
	}
	return ""
}

// sameValue compares attribute text; numbers compare by value so that a
// scalar attribute "2.0" IS "2".
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

// Plural renders n and word, with an s unless n is 1 ("3 instances").
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// ValidConstraints reports the first invalid constraint of cs, for callers
// that validate a whole spec.
func ValidConstraints(cs []Constraint) error {
	for _, c := range cs {
		c.Operator = strings.ToUpper(c.Operator)
		if err := c.validate(); err != nil {
			return err
		}
	}
	return nil
}
