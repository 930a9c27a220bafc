package blank

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "encoding/json")
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"", true}, {" null ", true}, {"false", true}, {"0", true}, {`""`, true}, {"[]", true}, {"{}", true},
		{`{"a": null, "b": {"c": []}, "d": 0}`, true},
		{"true", false}, {"1", false}, {`"x"`, false}, {"[null]", false}, {`{"a": 1}`, false}, {`{"a": {"b": "x"}}`, false},
		{"{", false},
	} {
		if got := JSON([]byte(tc.raw)); got != tc.want {
			t.Errorf("JSON(%s) = %v; want %v", tc.raw, got, tc.want)
		}
	}
}
