package zkelect

import (
	"strconv"
	"strings"
)

// lowest picks the leader among the children of the base path: among the
// names that are prefix followed by a decimal sequence number, the one
// with the lowest number. Names without the prefix, or whose suffix is not
// all digits (or too large for an int64), are not members and are ignored.
// Equal numbers (json.info_1 and json.info_01) are ordered by name, so the
// choice does not depend on the order of names. ok is false when no name
// is a member.
func lowest(names []string, prefix string) (name string, seq int64, ok bool) {
	for _, n := range names {
		s, member := sequence(n, prefix)
		if !member {
			continue
		}
		if !ok || s < seq || (s == seq && n < name) {
			name, seq, ok = n, s, true
		}
	}
	return name, seq, ok
}

// sequence returns the sequence number of a member's name.
func sequence(name, prefix string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}
