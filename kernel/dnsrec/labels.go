package dnsrec

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"strings"
)

// maxLabel is the longest label RFC 1123 allows.
const maxLabel = 63

// Label makes a DNS label of name as Mesos-DNS does by default (RFC
// 1123): upper case to lower case; a-z and 0-9 kept; "-", "." and "_" to
// "-"; anything else dropped; then leading dashes trimmed, the rest cut at
// 63 characters and trailing dashes trimmed, refilling the cut from what
// follows (labels.RFC1123 in mesos-dns). The result may be empty.
func Label(name string) string {
	mapped := bytes.Map(labelRune, []byte(name))
	trimmed := bytes.TrimLeft(mapped, "-")
	size := min(len(trimmed), maxLabel)
	head := bytes.TrimRight(trimmed[:size], "-")
	if len(head) == size {
		return string(head)
	}
	// Dashes were trimmed off the end of the cut: fill up to the cut
	// from what follows them.
	if tail := bytes.TrimLeft(trimmed[size:], "-"); len(tail) > 0 {
		head = append(head, tail[:min(len(tail), size-len(head))]...)
	}
	return string(head)
}

func labelRune(r rune) rune {
	switch {
	case r >= 'A' && r <= 'Z':
		return r - 'A' + 'a'
	case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		return r
	case r == '-' || r == '.' || r == '_':
		return '-'
	}
	return -1
}

// Domain makes DNS labels of a dotted name, as Mesos-DNS does for
// framework names (labels.DomainFrag): each dot-separated part is a
// Label, empty ones are dropped, and the rest joined with dots.
func Domain(name string) string {
	var parts []string
	for _, p := range strings.Split(name, ".") {
		if l := Label(p); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ".")
}

// zbase32 is the human-oriented base32 alphabet Mesos-DNS encodes task
// id hashes in.
var zbase32 = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

// TaskHash is the {h} of a task's canonical name
// ({task}-{h}-{a}.{fw}): the first five characters of
// zbase32(sha1(task id)).
func TaskHash(taskID string) string {
	sum := sha1.Sum([]byte(taskID))
	return zbase32.EncodeToString(sum[:4])[:5]
}

// agentTail is the {a} of a task's canonical name: the last
// dash-separated piece of its agent's id, lower-cased.
func agentTail(agentID string) string {
	return strings.ToLower(agentID[strings.LastIndexByte(agentID, '-')+1:])
}

// CheckDomain reports whether domain (lower case, without the final dot)
// can be served: dot-separated labels of 1 to 63 characters from a-z, 0-9
// and "-", not beginning or ending with "-", 253 characters at most.
func CheckDomain(domain string) error {
	if domain == "" || len(domain) > 253 {
		return fmt.Errorf("domain %q: must be 1 to 253 characters", domain)
	}
	for _, l := range strings.Split(domain, ".") {
		switch {
		case l == "" || len(l) > maxLabel:
			return fmt.Errorf("domain %q: each dot-separated label must be 1 to 63 characters", domain)
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("domain %q: a label may not begin or end with '-'", domain)
		case strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
			return fmt.Errorf("domain %q: labels may hold only a-z, 0-9 and '-'", domain)
		}
	}
	return nil
}
