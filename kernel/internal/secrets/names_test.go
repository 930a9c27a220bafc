package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	long := strings.Repeat("a", MaxNameBytes)
	for _, tc := range []struct {
		in, want, err string
	}{
		{"team/db", "team/db", ""},
		{"/team/db", "team/db", ""},
		{"A-z_0.9", "A-z_0.9", ""},
		{"..a/b..", "..a/b..", ""},
		{long, long, ""},
		{"/" + long, long, ""},
		{"", "", "must not be empty"},
		{"/", "", "must not be empty"},
		{long + "a", "", "256 bytes long; at most 255"},
		{"team//db", "", `component 2 of "team//db" is empty`},
		{"team/db/", "", `component 3 of "team/db/" is empty`},
		{"//team", "", "component 1"},
		{"team/./db", "", `is "."`},
		{"team/../db", "", `is ".."`},
		{"..", "", `is ".."`},
		{"team/d b", "", `holds ' '`},
		{"tëam", "", `holds 'ë'`},
		{"team:db", "", `holds ':'`},
	} {
		got, err := Normalize(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "name" || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want an invalid name error saying %q", tc.in, got, err, tc.err)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"/", "", true},
		{"team", "team", true},
		{"/team/", "team", true},
		{"team/db", "team/db", true},
		{"team//", "", false},
		{"../x", "", false},
	} {
		got, err := NormalizePrefix(tc.in)
		var inv *InvalidError
		if tc.ok && (err != nil || got != tc.want) || !tc.ok && (!errors.As(err, &inv) || inv.Field != "prefix") {
			t.Errorf("NormalizePrefix(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCheckValue(t *testing.T) {
	for _, tc := range []struct {
		n   int
		err string
	}{
		{1, ""},
		{MaxValueBytes, ""},
		{0, "must not be empty"},
		{MaxValueBytes + 1, "65537 bytes; at most 65536"},
	} {
		err := checkValue(make([]byte, tc.n))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), "value: "+tc.err)) {
			t.Errorf("checkValue(%d bytes) = %v; want %q", tc.n, err, tc.err)
		}
	}
}
