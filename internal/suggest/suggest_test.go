package suggest

import (
	"testing"

	"corral/internal/purity"
)

func TestWord(t *testing.T) {
	verbs := []string{"list", "show", "deploy", "scale", "restart", "delete", "versions"}
	for _, tc := range []struct{ word, want string }{
		{"lst", "list"},      // a letter left out
		{"lsit", "list"},     // two letters swapped
		{"dpeloy", "deploy"}, // swapped
		{"restrat", "restart"},
		{"versoin", "versions"}, // swapped, and one short
		{"sh", "show"},          // the only one it begins
		{"de", ""},              // deploy or delete: no guess
		{"frobnicate", ""},      // nothing near
		{"xyz", ""},
		{"", ""},
		{"LIST", "list"},
	} {
		if got := Word(tc.word, verbs); got != tc.want {
			t.Errorf("Word(%q) = %q; want %q", tc.word, got, tc.want)
		}
	}
	if got := DidYouMean("scael", verbs); got != "Did you mean \"scale\"?\n" {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := DidYouMean("zzz", verbs); got != "" {
		t.Errorf("DidYouMean with nothing near = %q; want none", got)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"list", "list", 0},
		{"list", "lsit", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPure(t *testing.T) { purity.Check(t, "strings") }
