package mesos

import (
	"strings"
	"testing"
)

func TestCommandURIProblem(t *testing.T) {
	cases := []struct {
		name string
		uri  CommandURI
		want string // "" or a part of the problem
	}{
		{"http", CommandURI{Value: "http://h/a.tgz"}, ""},
		{"https query with output", CommandURI{Value: "https://h/x?y=1", OutputFile: "d/a.zip"}, ""},
		{"file", CommandURI{Value: "file:///opt/a"}, ""},
		{"absolute path", CommandURI{Value: " /opt/a"}, ""},
		{"ftp", CommandURI{Value: "ftp://h/a"}, `scheme "ftp" is not supported`},
		{"hdfs", CommandURI{Value: "hdfs://h/a"}, "not supported"},
		{"relative", CommandURI{Value: "a/b"}, "relative"},
		{"empty", CommandURI{Value: ""}, "empty"},
		{"quote", CommandURI{Value: "http://h/a'b"}, "quote"},
		{"no path", CommandURI{Value: "http://h"}, "no file name"},
		{"remote file", CommandURI{Value: "file://other/a"}, "local"},
		{"directory", CommandURI{Value: "/opt/"}, "directory"},
		{"output absolute", CommandURI{Value: "http://h/a", OutputFile: "/etc/x"}, "absolute"},
		{"output climbs", CommandURI{Value: "http://h/a", OutputFile: "a/../../x"}, "leaves the sandbox"},
		{"output dot", CommandURI{Value: "http://h/a", OutputFile: "."}, "leaves the sandbox"},
	}
	for _, c := range cases {
		got := c.uri.Problem()
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: Problem(%+v) = %q; want %q", c.name, c.uri, got, c.want)
		}
	}
}

func TestCommandURIDefaults(t *testing.T) {
	tr, fa := true, false
	if u := (CommandURI{}); u.IsExecutable() || !u.IsExtract() || u.IsCache() {
		t.Errorf("defaults = executable %v, extract %v, cache %v; want false, true, false", u.IsExecutable(), u.IsExtract(), u.IsCache())
	}
	if u := (CommandURI{Executable: &tr}); u.IsExtract() {
		t.Errorf("an executable URI extracts")
	}
	if u := (CommandURI{Extract: &fa}); u.IsExtract() {
		t.Errorf("extract false extracts")
	}
}
