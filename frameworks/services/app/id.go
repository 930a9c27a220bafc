package app

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// segment is the grammar of one app id segment: dot-separated labels of
// lowercase letters, digits and inner hyphens. Marathon's grammar also
// admits "." and ".." as relative references; corral resolves no relative
// ids, so ValidID rejects them on their own.
var segment = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

// reservedLast are the segments that cannot end an app id because they
// end API paths under /v2/apps/{id}.
var reservedLast = map[string]bool{"restart": true, "tasks": true, "versions": true}

// CanonicalID returns s as an absolute path without trailing slashes:
// "prod/web/" → "/prod/web", "" → "/", "/" → "/". It resolves nothing
// else: "a//b" and "/a/../b" are returned as "/a//b" and "/a/../b" for
// ValidID to reject.
func CanonicalID(s string) string {
	s = strings.TrimRight(s, "/")
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return s
}

// ValidID returns nil if id, after CanonicalID, can name an app: it is not
// the root group "/", it has no empty segment, every segment matches
// Marathon's segment grammar (lowercase letters, digits, hyphens inside a
// label, dots between labels; no underscores, so that task ids can encode
// "/" as "_"), no segment is "." or "..", the last segment is not
// "restart", "tasks" or "versions", and it has at most MaxIDLen bytes, so
// that its task ids fit the MaxTaskIDLen bytes Mesos allows. The error
// says which rule failed.
func ValidID(id string) error {
	id = CanonicalID(id)
	if id == "/" {
		return errors.New("an app id is required, and the root group / is not one")
	}
	segs := strings.Split(id[1:], "/")
	for _, s := range segs {
		switch {
		case s == "":
			return fmt.Errorf("%q has an empty segment", id)
		case s == "." || s == "..":
			return fmt.Errorf("%q: relative segments . and .. are not supported; give the absolute id", id)
		case !segment.MatchString(s):
			return fmt.Errorf("%q: segment %q must consist of lowercase letters, digits, hyphens and dots, and start and end with a letter or digit", id, s)
		}
	}
	if last := segs[len(segs)-1]; reservedLast[last] {
		return fmt.Errorf("%q: the last segment must not be %q", id, last)
	}
	if n := taskIDLen(id); n > MaxTaskIDLen {
		return fmt.Errorf("%q has %d bytes: its task ids would have %d, more than the %d bytes Mesos allows; an app id has at most %d bytes",
			id, len(id), n, MaxTaskIDLen, MaxIDLen)
	}
	return nil
}

// MaxTaskIDLen is the longest task id Mesos (and corral's master and
// agents) accept, in bytes.
const MaxTaskIDLen = 255

// uuidLen is the length of the UUID that ends a task id.
const uuidLen = 36

// MaxIDLen is the longest app id, in bytes, whose task ids (see
// NewTaskID) fit MaxTaskIDLen: the id loses its leading "/" and gains
// "." and a UUID.
const MaxIDLen = MaxTaskIDLen - 1 - uuidLen + 1

// taskIDLen is the length of the task ids NewTaskID makes for the
// canonical id.
func taskIDLen(id string) int { return len(id) - 1 + 1 + uuidLen }

// Parent returns the group that contains id: "/a/b/c" → "/a/b",
// "/a" → "/", and "/" → "/". id is canonicalised first.
func Parent(id string) string {
	id = CanonicalID(id)
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "/"
	}
	return id[:i]
}

// InGroup reports whether id lies inside group, at any depth: "/" contains
// every app, "/a" contains "/a/b" and "/a/b/c" but neither "/ab" nor "/a"
// itself. Both are canonicalised first.
func InGroup(group, id string) bool {
	group, id = CanonicalID(group), CanonicalID(id)
	if group == "/" {
		return id != "/"
	}
	return strings.HasPrefix(id, group+"/")
}

// NewTaskID returns a fresh task id for an app in the classic Marathon
// form: the app id without its leading "/", with "/" replaced by "_", a
// dot and a random UUID: "/prod/web" → "prod_web.<uuid>". appID must be
// valid (ValidID); AppIDOfTask inverts it.
func NewTaskID(appID string) string {
	p := strings.ReplaceAll(strings.TrimPrefix(CanonicalID(appID), "/"), "/", "_")
	return p + "." + uuid.NewString()
}

// AppIDOfTask returns the app id encoded in a task id made by NewTaskID:
// "prod_web.<uuid>" → "/prod/web". ok is false when taskID does not have
// that form (no UUID after the last dot, or an invalid app id before it).
func AppIDOfTask(taskID string) (appID string, ok bool) {
	i := strings.LastIndexByte(taskID, '.')
	if i <= 0 {
		return "", false
	}
	u := taskID[i+1:]
	if len(u) != 36 {
		return "", false
	}
	if _, err := uuid.Parse(u); err != nil {
		return "", false
	}
	id := "/" + strings.ReplaceAll(taskID[:i], "_", "/")
	if ValidID(id) != nil {
		return "", false
	}
	return id, true
}

// versionLayout is RFC 3339 in UTC with exactly three fractional digits,
// the form of Marathon's version timestamps.
const versionLayout = "2006-01-02T15:04:05.000Z"

// NewVersion returns now as an app version: RFC 3339 in UTC with
// milliseconds, e.g. "2015-09-29T15:59:51.164Z". Sub-millisecond precision
// is truncated, so two calls within one millisecond give the same version;
// callers that need distinct versions must ensure it. ParseVersion inverts
// it.
func NewVersion(now time.Time) string {
	return now.UTC().Truncate(time.Millisecond).Format(versionLayout)
}

// ParseVersion parses an app version (any RFC 3339 timestamp, so versions
// written by other tools are accepted too) and returns it in UTC.
// ParseVersion(NewVersion(t)) equals t truncated to the millisecond.
func ParseVersion(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing version %q: %w", s, err)
	}
	return t.UTC(), nil
}
