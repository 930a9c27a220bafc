package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: Decode never panics; a body that decodes and validates
// survives a write-and-read round trip unchanged, and merging an arbitrary
// body into a valid app never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"/web","cmd":"sleep 100"}`, base, stored, `{"ports":[1,2],"portDefinitions":[{"port":1}]}`,
		`{"healthChecks":[{"protocol":"COMMAND","command":{"value":"x"}}],"unreachableStrategy":"disabled"}`,
		`{"constraints":[["a"],["b","LIKE","("]],"env":{"A":{"secret":"x"}}}`, `[]`, `null`, `{"instances":1e999}`,
		`{"id":"/s","cmd":"x","env":{"A":{"secret":"s"},"B":{"secret":"t","k":1}},"secrets":{"s":{"source":"/a/s"},"t":{}}}`,
	} {
		f.Add([]byte(s))
	}
	for _, name := range []string{"marathon14.json", "marathon14-docker.json", "secrets.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	cur, err := Decode([]byte(stored))
	if err != nil {
		f.Fatal(err)
	}
	cur.Normalize()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = Merge(cur, data, Framework{Role: "*", User: "root"})
		a, err := Decode(data)
		if err != nil {
			return
		}
		a.Normalize()
		if Validate(a) != nil {
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("json.Marshal(valid app) = %v", err)
		}
		b, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(%s) = %v; want no error", out, err)
		}
		b.Normalize()
		if v := Validate(b); v != nil {
			t.Fatalf("Validate(round trip of %s) = %v; want nil", out, v)
		}
		again, _ := json.Marshal(b)
		if string(again) != string(out) || b.Instances != a.Instances {
			t.Fatalf("round trip changed the app:\n%s\n%s", out, again)
		}
	})
}
