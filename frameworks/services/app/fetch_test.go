package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFetchDecodedAndKept: fetch and uris are accepted, decoded with
// Marathon's defaults and written back.
func TestFetchDecodedAndKept(t *testing.T) {
	body := `{"id":"/a","cmd":"./run","fetch":[{"uri":"https://h/app.tgz"},` +
		`{"uri":"http://h/run","executable":true,"extract":false,"cache":true,"destPath":"bin/run"}]}`
	verr, ws := checkRequest(t, body, fw)
	if verr != nil || len(ws) != 0 {
		t.Fatalf("checkRequest(%s) = %v, warnings %v; want valid", body, verr, ws)
	}
	a := mustDecode(t, body)
	want := []Artifact{{URI: "https://h/app.tgz", Extract: true},
		{URI: "http://h/run", Executable: true, Cache: true, DestPath: "bin/run"}}
	if !cmp.Equal(a.Fetch, want) {
		t.Errorf("Decode(%s).Fetch = %+v; want %+v", body, a.Fetch, want)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if back := mustDecode(t, string(b)); !cmp.Equal(back.Fetch, want) {
		t.Errorf("Decode(Marshal(app)).Fetch = %+v; want %+v", back.Fetch, want)
	}
	if !strings.Contains(string(b), `"fetch":[{"uri":"https://h/app.tgz","extract":true,"executable":false,"cache":false}`) {
		t.Errorf("Marshal(app) = %s; want fetch in Marathon's shape", b)
	}
	legacy := `{"id":"/a","cmd":"x","uris":["https://h/app.tgz","/opt/tool"]}`
	if verr, _ := checkRequest(t, legacy, fw); verr != nil {
		t.Errorf("checkRequest(%s) = %v; want valid", legacy, verr)
	}
}

// TestFetchValidated: what the agent would refuse is a 422 naming the
// field path.
func TestFetchValidated(t *testing.T) {
	const app = `"id":"/a","cmd":"x",`
	tests := []struct {
		name, body, path, msg string
	}{
		{"scheme", `{` + app + `"fetch":[{"uri":"https://h/a"},{"uri":"hdfs://nn/a.tgz"}]}`, "/fetch(1)/uri", `scheme "hdfs" is not supported`},
		{"relative", `{` + app + `"fetch":[{"uri":"a.tgz"}]}`, "/fetch(0)/uri", "relative path"},
		{"destPath absolute", `{` + app + `"fetch":[{"uri":"http://h/a","destPath":"/etc/a"}]}`, "/fetch(0)/destPath", "absolute"},
		{"destPath climbs", `{` + app + `"fetch":[{"uri":"http://h/a","destPath":"../a"}]}`, "/fetch(0)/destPath", "leaves the sandbox"},
		{"legacy scheme", `{` + app + `"uris":["s3://b/a"]}`, "/uris(0)", `scheme "s3" is not supported`},
		{"both", `{` + app + `"uris":["http://h/a"],"fetch":[{"uri":"http://h/b"}]}`, "/uris", "may not be given together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verr, _ := checkRequest(t, tt.body, fw)
			if verr == nil {
				t.Fatalf("Validate(%s) = nil; want an error at %s", tt.body, tt.path)
			}
			for _, d := range verr.Details {
				if d.Path == tt.path && len(d.Errors) == 1 && strings.Contains(d.Errors[0], tt.msg) {
					return
				}
			}
			t.Errorf("Validate(%s) = %v; want %s: …%s…", tt.body, verr, tt.path, tt.msg)
		})
	}
}
