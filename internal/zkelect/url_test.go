package zkelect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    URL
		wantErr string // a substring of the error; "" for success
	}{
		{"one host", "zk://127.0.0.1:2181/corral", URL{[]string{"127.0.0.1:2181"}, "/corral"}, ""},
		{"three hosts, deep path", "zk://h1:2181,h2:2182,h3:2183/a/b/c",
			URL{[]string{"h1:2181", "h2:2182", "h3:2183"}, "/a/b/c"}, ""},
		{"trailing slash dropped", "zk://h:2181/mesos/", URL{[]string{"h:2181"}, "/mesos"}, ""},
		{"ipv6", "zk://[::1]:2181/x", URL{[]string{"[::1]:2181"}, "/x"}, ""},
		{"other scheme", "http://h:2181/x", URL{}, "want zk://host:port[,host:port...]/path"},
		{"no scheme", "h:2181/x", URL{}, "want zk://"},
		{"missing path", "zk://h:2181", URL{}, "missing path"},
		{"root path", "zk://h:2181/", URL{}, "missing path"},
		{"no hosts", "zk:///x", URL{}, "no hosts"},
		{"empty host in list", "zk://h:2181,,h2:2181/x", URL{}, `host "": want host:port`},
		{"host without port", "zk://h/x", URL{}, `host "h": want host:port`},
		{"port without host", "zk://:2181/x", URL{}, "empty host"},
		{"non-numeric port", "zk://h:zk/x", URL{}, "bad port"},
		{"port zero", "zk://h:0/x", URL{}, "bad port"},
		{"port too large", "zk://h:65536/x", URL{}, "bad port"},
		{"credentials", "zk://u:p@h:2181/x", URL{}, "credentials"},
		{"empty path element", "zk://h:2181/a//b", URL{}, "empty element"},
		{"dot-dot", "zk://h:2181/a/../b", URL{}, `".." element`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseURL(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseURL(%q) = %v, %v; want error containing %q", c.in, got, err, c.wantErr)
				}
				if !strings.Contains(err.Error(), `"`+c.in+`"`) {
					t.Errorf("ParseURL(%q) error %q does not quote the URL", c.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q) = %v; want %v", c.in, err, c.want)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("ParseURL(%q) mismatch (-want +got):\n%s", c.in, d)
			}
			again, err := ParseURL(got.String())
			if err != nil || !cmp.Equal(again, got) {
				t.Errorf("ParseURL(%q.String() = %q) = %v, %v; want %v", c.in, got.String(), again, err, got)
			}
		})
	}
}

func TestIsURL(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"zk://h:2181/x", true},
		{"zk://", true},
		{"http://m1:5050,m2:5050", false},
		{"m1:5050", false},
		{"", false},
	}
	for _, c := range cases {
		if got := IsURL(c.in); got != c.want {
			t.Errorf("IsURL(%q) = %v; want %v", c.in, got, c.want)
		}
	}
}
