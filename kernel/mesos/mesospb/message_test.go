package mesospb

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// outer and inner are messages defined outside package mesos, declared
// out of field number order, as the operator API's are.
type outer struct {
	Name  string            `json:"name" pb:"2"`
	Port  int               `json:"port" pb:"8"`
	Inner *inner            `json:"inner,omitempty" pb:"3"`
	Type  string            `json:"type" pb:"1,enum=OperatorEventType"`
	Seen  map[string]inner  `json:"seen" pb:"4"`
	Times []mesos.TimeInfo  `json:"times" pb:"5"`
	Skip  string            `json:"-"`
	Extra map[string]string `json:"-"`
}

type inner struct {
	Weight float64 `json:"weight" pb:"1,req"`
}

// TestMarshalGeneric: Marshal and Unmarshal take any tagged message,
// write its fields in field number order (type first), and read back
// what they wrote.
func TestMarshalGeneric(t *testing.T) {
	in := outer{Name: "n", Port: -1, Inner: &inner{}, Type: "AGENT_ADDED", Seen: map[string]inner{"b": {2}, "a": {1}},
		Times: []mesos.TimeInfo{{Nanoseconds: 5}}, Skip: "not on the wire"}
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	want := msg(vint(1, 4), str(2, "n"), sub(3, dbl(1, 0)),
		sub(4, str(1, "a"), sub(2, dbl(1, 1))), sub(4, str(1, "b"), sub(2, dbl(1, 2))),
		sub(5, vint(1, 5)), vint(8, -1))
	if string(b) != string(want) {
		t.Errorf("Marshal(%+v) =\n%x; want\n%x", in, b, want)
	}
	got := outer{Name: "stale", Skip: "stale"}
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	in.Skip = ""
	if d := cmp.Diff(in, got); d != "" {
		t.Errorf("round trip differs (-sent +got):\n%s", d)
	}
	for _, m := range []any{outer{}, (*outer)(nil), new(int)} {
		if _, err := Marshal(m); err == nil {
			t.Errorf("Marshal(%T) succeeded; want an error", m)
		}
		if err := Unmarshal(nil, m); err == nil {
			t.Errorf("Unmarshal(%T) succeeded; want an error", m)
		}
	}
}

// TestCheck: a field without a pb tag (and not kept out of JSON), or a
// malformed tag, anywhere under a message is reported by name.
func TestCheck(t *testing.T) {
	if err := Check(&outer{}); err != nil {
		t.Errorf("Check(outer) = %v; want nil", err)
	}
	type untagged struct {
		Inner []struct {
			Lost string `json:"lost"`
		} `json:"inner" pb:"1"`
	}
	type malformed struct {
		Bad string `json:"bad" pb:"1,enum=NoSuchEnum"`
	}
	for _, tc := range []struct {
		m    any
		want string
	}{
		{&untagged{}, "Lost has no pb tag"},
		{&malformed{}, "NoSuchEnum"},
	} {
		if err := Check(tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%T) = %v; want an error containing %q", tc.m, err, tc.want)
		}
	}
}
