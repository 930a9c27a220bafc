package mesos

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// IsExecutable reports CommandURI.executable (default false).
func (u CommandURI) IsExecutable() bool { return u.Executable != nil && *u.Executable }

// IsExtract reports CommandURI.extract (default true). Mesos ignores it
// for an executable URI, and so does IsExtract.
func (u CommandURI) IsExtract() bool {
	return !u.IsExecutable() && (u.Extract == nil || *u.Extract)
}

// IsCache reports CommandURI.cache (default false).
func (u CommandURI) IsCache() bool { return u.Cache != nil && *u.Cache }

// Source is where a URI's artifact comes from.
type Source int

// The sources corral fetches from.
const (
	SourceHTTP Source = iota + 1 // http:// or https://
	SourceFile                   // file:// or an absolute path on the agent
)

// Location is a parsed CommandURI.value.
type Location struct {
	Source Source
	// URL is the http(s) URL for SourceHTTP, the absolute local path for
	// SourceFile.
	URL string
	// Base is the last element of the URL's path, the default name in
	// the sandbox.
	Base string
}

// Locate parses value (leading white space trimmed, as Mesos does) as
// corral fetches it: http, https or file URLs, or an absolute path. Other
// schemes (ftp, hdfs, s3, …), relative paths, and values holding a
// backslash, a quote or a NUL (refused by Mesos' fetcher) are errors
// naming the value.
func Locate(value string) (Location, error) {
	v := strings.TrimLeft(value, " \t\r\n")
	if v == "" {
		return Location{}, fmt.Errorf("URI is empty")
	}
	if strings.ContainsAny(v, "\\'\x00") {
		return Location{}, fmt.Errorf("URI %q contains a backslash, a quote or a NUL", value)
	}
	if strings.HasPrefix(v, "/") {
		return fileLocation(value, v)
	}
	u, err := url.Parse(v)
	if err != nil {
		return Location{}, fmt.Errorf("URI %q: %v", value, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return Location{}, fmt.Errorf("URI %q has no host", value)
		}
		base := path.Base(u.Path)
		if u.Path == "" || base == "/" || base == "." {
			return Location{}, fmt.Errorf("URI %q has no file name in its path; set output_file", value)
		}
		return Location{Source: SourceHTTP, URL: u.String(), Base: base}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("URI %q names host %q; file URIs must be local", value, u.Host)
		}
		return fileLocation(value, u.Path)
	case "":
		return Location{}, fmt.Errorf("URI %q is a relative path; use an absolute path or an http, https or file URI", value)
	default:
		return Location{}, fmt.Errorf("URI %q: scheme %q is not supported; use http, https, file or an absolute path", value, u.Scheme)
	}
}

func fileLocation(value, p string) (Location, error) {
	if !strings.HasPrefix(p, "/") {
		return Location{}, fmt.Errorf("URI %q: want an absolute path", value)
	}
	clean := path.Clean(p)
	if clean == "/" || strings.HasSuffix(p, "/") {
		return Location{}, fmt.Errorf("URI %q names a directory, not a file", value)
	}
	return Location{Source: SourceFile, URL: clean, Base: path.Base(clean)}, nil
}

// OutputPath returns where in the sandbox the URI's artifact is written,
// relative to the sandbox: output_file, else the URI's base name. An
// output_file that is absolute or climbs out of the sandbox ("..") is an
// error, as is one naming the sandbox itself.
func (u CommandURI) OutputPath() (string, error) {
	if u.OutputFile == "" {
		loc, err := Locate(u.Value)
		if err != nil {
			return "", err
		}
		return loc.Base, nil
	}
	return SandboxPath(u.OutputFile)
}

// SandboxPath checks a path meant to stay in a sandbox and returns it
// cleaned: relative, not climbing out through "..", not empty, no NUL.
func SandboxPath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL", p)
	}
	if path.IsAbs(p) {
		return "", fmt.Errorf("path %q is absolute; want a path relative to the sandbox", p)
	}
	c := path.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q leaves the sandbox", p)
	}
	return c, nil
}

// Problem validates a URI as the agent fetches it (Locate, OutputPath)
// and returns "" or what is wrong, naming the URI.
func (u CommandURI) Problem() string {
	if _, err := Locate(u.Value); err != nil {
		return err.Error()
	}
	if _, err := u.OutputPath(); err != nil {
		return fmt.Sprintf("URI %q: output_file: %v", u.Value, err)
	}
	return ""
}
