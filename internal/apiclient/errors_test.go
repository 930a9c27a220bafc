package apiclient

import (
	"strings"
	"testing"
)

// Marathon's Play JSON codes, which the services API keeps for its
// clients, are put in words when shown to people; Details keeps them.
func TestPlayCodesInWords(t *testing.T) {
	e := ParseError("services", 422, []byte(`{"message": "Object is not valid", "details": [
		{"path": "/instances", "errors": ["error.expected.jsnumber"]},
		{"path": "/cmd", "errors": ["error.expected.jsstring"]},
		{"path": "/id", "errors": ["error.path.missing"]},
		{"path": "/cpus", "errors": ["must be 0 or more"]}]}`))
	msg := e.Error()
	for _, want := range []string{"\n  /instances: must be a number", "\n  /cmd: must be a string", "\n  /id: is required", "\n  /cpus: must be 0 or more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "error.expected") {
		t.Errorf("message %q still shows a Play JSON code", msg)
	}
	if e.Details[0].Errors[0] != "error.expected.jsnumber" {
		t.Errorf("Details = %+v; want the API's code kept", e.Details)
	}
}
