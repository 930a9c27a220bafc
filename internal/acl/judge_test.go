package acl

import "testing"

// TestJudge covers Mesos' whole entity table, including the request of
// type NONE that Allowed never builds.
func TestJudge(t *testing.T) {
	named := request{kind: some, value: "alice"}
	anon := request{kind: anyKind}
	noneReq := request{kind: none}
	listed := entity{kind: some, values: []string{"bob", "alice"}}
	unlisted := entity{kind: some, values: []string{"bob"}}
	anyEnt := entity{kind: anyKind}
	noneEnt := entity{kind: none}

	tests := []struct {
		name           string
		r              request
		e              entity
		matches, allow bool
	}{
		{"named/SOME listed", named, listed, true, true},
		{"named/SOME not listed", named, unlisted, false, false},
		{"named/NONE", named, noneEnt, true, false},
		{"named/ANY", named, anyEnt, true, true},
		{"anonymous/SOME", anon, listed, false, false},
		{"anonymous/NONE", anon, noneEnt, true, false},
		{"anonymous/ANY", anon, anyEnt, true, true},
		{"NONE/SOME", noneReq, listed, false, false},
		{"NONE/NONE", noneReq, noneEnt, true, true},
		{"NONE/ANY", noneReq, anyEnt, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, a := judge(tt.r, tt.e, matchExact)
			if m != tt.matches || a != tt.allow {
				t.Errorf("judge(%v, %v) = (matches %t, allows %t); want (%t, %t)", tt.r, tt.e, m, a, tt.matches, tt.allow)
			}
		})
	}
}
