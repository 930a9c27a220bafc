package app

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCanonicalID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"absolute", "/prod/web", "/prod/web"},
		{"relative with trailing slash", "prod/web/", "/prod/web"},
		{"empty is root", "", "/"},
		{"root", "/", "/"},
		{"many trailing slashes", "/a//", "/a"},
		{"inner empty segment kept", "a//b", "/a//b"},
		{"dots kept", "/a/../b", "/a/../b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalID(tt.in); got != tt.want {
				t.Errorf("CanonicalID(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "/web", true},
		{"nested", "/prod/web/frontend", true},
		{"relative form", "prod/web", true},
		{"trailing slash", "/prod/web/", true},
		{"digits and hyphens", "/a-1/2b/c-d-e", true},
		{"dotted labels", "/web.v2/api.internal", true},
		{"single characters", "/a/b/c", true},
		{"restart not last", "/restart/web", true},
		{"underscore", "/prod_web", false},
		{"uppercase", "/Web", false},
		{"uppercase inner", "/prod/WebApp", false},
		{"leading hyphen", "/-web", false},
		{"trailing hyphen", "/web-", false},
		{"leading dot in label", "/.web", false},
		{"double dot inside", "/a..b", false},
		{"space", "/my app", false},
		{"restart last", "/web/restart", false},
		{"tasks last", "/web/tasks", false},
		{"versions last", "/versions", false},
		{"dot last", "/web/.", false},
		{"dotdot last", "/web/..", false},
		{"dotdot inside", "/a/../b", false},
		{"dot inside", "/a/./b", false},
		{"empty segment", "/a//b", false},
		{"root", "/", false},
		{"empty", "", false},
		{"longest", "/" + strings.Repeat("a", 218), true},
		{"longest nested", "/" + strings.Repeat("abcdefgh/", 24) + "ab", true},
		{"one byte too long", "/" + strings.Repeat("a", 219), false},
		{"far too long", "/" + strings.Repeat("a.b/", 300) + "c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidID(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("ValidID(%q) = %v; want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

// TestValidIDTaskIDLimit: an app id is valid exactly when its task ids
// fit the 255 bytes Mesos allows, and the refusal says so.
func TestValidIDTaskIDLimit(t *testing.T) {
	longest := "/" + strings.Repeat("a", MaxIDLen-1)
	if err := ValidID(longest); err != nil {
		t.Fatalf("ValidID(%d bytes) = %v; want nil", len(longest), err)
	}
	if tid := NewTaskID(longest); len(tid) != MaxTaskIDLen {
		t.Errorf("NewTaskID(%d-byte id) has %d bytes; want exactly %d", len(longest), len(tid), MaxTaskIDLen)
	}
	tooLong := longest + "a"
	err := ValidID(tooLong)
	want := fmt.Sprintf("%q has 220 bytes: its task ids would have 256, more than the 255 bytes Mesos allows; an app id has at most 219 bytes", tooLong)
	if err == nil || err.Error() != want {
		t.Errorf("ValidID(%d bytes) = %v; want %s", len(tooLong), err, want)
	}
}

func TestParent(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"deep", "/a/b/c", "/a/b"},
		{"top level", "/a", "/"},
		{"root", "/", "/"},
		{"relative", "a/b", "/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parent(tt.in); got != tt.want {
				t.Errorf("Parent(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInGroup(t *testing.T) {
	tests := []struct {
		name, group, id string
		want            bool
	}{
		{"root contains all", "/", "/a/b", true},
		{"root contains top level", "/", "/a", true},
		{"child", "/a", "/a/b", true},
		{"grandchild", "/a", "/a/b/c", true},
		{"prefix is not membership", "/a", "/ab", false},
		{"not itself", "/a", "/a", false},
		{"sibling", "/a/b", "/a/c", false},
		{"relative forms", "a/", "a/b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InGroup(tt.group, tt.id); got != tt.want {
				t.Errorf("InGroup(%q, %q) = %v; want %v", tt.group, tt.id, got, tt.want)
			}
		})
	}
}

func TestTaskIDRoundTrip(t *testing.T) {
	for _, id := range []string{"/web", "/prod/web", "/prod/web.v2/api-1", "/a/b/c/d"} {
		t.Run(id, func(t *testing.T) {
			tid := NewTaskID(id)
			prefix := strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_") + "."
			if !strings.HasPrefix(tid, prefix) || len(tid) != len(prefix)+36 {
				t.Errorf("NewTaskID(%q) = %q; want %q followed by a UUID", id, tid, prefix)
			}
			if got, ok := AppIDOfTask(tid); !ok || got != id {
				t.Errorf("AppIDOfTask(%q) = %q, %v; want %q, true", tid, got, ok, id)
			}
			if again := NewTaskID(id); again == tid {
				t.Errorf("NewTaskID(%q) twice = %q both times; want distinct ids", id, tid)
			}
		})
	}
}

func TestAppIDOfTask(t *testing.T) {
	const u = "0664256e-8e84-11e4-8d2b-56847afe9799"
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"classic", "prod_web." + u, "/prod/web", true},
		{"dotted app", "web.v2." + u, "/web.v2", true},
		{"no uuid", "prod_web", "", false},
		{"not a uuid", "prod_web.abc", "", false},
		{"uuid without dashes", "prod_web.0664256e8e8411e48d2b56847afe9799", "", false},
		{"empty app", "." + u, "", false},
		{"invalid app", "Prod." + u, "", false},
		{"double underscore", "a__b." + u, "", false},
		{"instance era", "group_app.instance-" + u + "._app.1", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AppIDOfTask(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("AppIDOfTask(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2015, 9, 29, 15, 59, 51, 164_000_000, time.UTC), "2015-09-29T15:59:51.164Z"},
		{"truncated not rounded", time.Date(2015, 9, 29, 15, 59, 51, 164_999_999, time.UTC), "2015-09-29T15:59:51.164Z"},
		{"whole second", time.Date(2014, 3, 1, 23, 42, 20, 0, time.UTC), "2014-03-01T23:42:20.000Z"},
		{"other zone", time.Date(2015, 9, 29, 17, 59, 51, 164_000_000, time.FixedZone("CEST", 2*3600)), "2015-09-29T15:59:51.164Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVersion(tt.in)
			if v != tt.want {
				t.Errorf("NewVersion(%v) = %q; want %q", tt.in, v, tt.want)
			}
			back, err := ParseVersion(v)
			if err != nil {
				t.Fatalf("ParseVersion(%q) = %v; want no error", v, err)
			}
			if want := tt.in.Truncate(time.Millisecond); !back.Equal(want) || back.Location() != time.UTC {
				t.Errorf("ParseVersion(%q) = %v; want %v in UTC", v, back, want)
			}
			if again := NewVersion(back); again != v {
				t.Errorf("NewVersion(ParseVersion(%q)) = %q; want %q", v, again, v)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2015-09-29 15:59:51"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = nil error; want an error", bad)
		}
	}
}
