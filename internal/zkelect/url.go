package zkelect

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

const scheme = "zk://"

// URL names a ZooKeeper ensemble and the base path under which contenders
// join: zk://host1:2181,host2:2181/some/path.
type URL struct {
	// Servers are the ensemble's client addresses, host:port each.
	Servers []string
	// Path is the base path: absolute, without a trailing slash, never "/".
	Path string
}

// IsURL reports whether s is meant as a zk:// URL (it has the zk://
// prefix), so a flag can take either a zk:// URL or something else, such as
// a list of master addresses. It does not validate the rest; ParseURL does.
func IsURL(s string) bool {
	return strings.HasPrefix(s, scheme)
}

// ParseURL parses zk://host:port[,host:port...]/path. Every host needs a
// port; credentials (user:pass@) are not supported. A trailing slash on the
// path is dropped. The error names the problem and quotes s.
func ParseURL(s string) (URL, error) {
	bad := func(format string, a ...any) (URL, error) {
		return URL{}, fmt.Errorf("zk URL %q: %s", s, fmt.Sprintf(format, a...))
	}
	rest, ok := strings.CutPrefix(s, scheme)
	if !ok {
		return bad("want zk://host:port[,host:port...]/path")
	}
	hosts, path, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("missing path: want zk://host:port[,host:port...]/path")
	}
	if strings.Contains(hosts, "@") {
		return bad("credentials (user:pass@) are not supported")
	}
	if hosts == "" {
		return bad("no hosts: want zk://host:port[,host:port...]/path")
	}
	var servers []string
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			return bad("host %q: want host:port", h)
		}
		if host == "" {
			return bad("empty host in %q", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("bad port in %q", h)
		}
		servers = append(servers, h)
	}
	path = "/" + strings.TrimRight(path, "/")
	if path == "/" {
		return bad("missing path: want zk://host:port[,host:port...]/path")
	}
	for _, seg := range strings.Split(path[1:], "/") {
		switch seg {
		case "":
			return bad("empty element in path %q", path)
		case ".", "..":
			return bad("path %q has a %q element", path, seg)
		}
	}
	return URL{Servers: servers, Path: path}, nil
}

// String returns u in the form ParseURL reads.
func (u URL) String() string {
	return scheme + strings.Join(u.Servers, ",") + u.Path
}
