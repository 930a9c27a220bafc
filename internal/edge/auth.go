package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode"
)

// Credential is one principal and its secret: what a client presents
// (Mesos' --credential file).
type Credential struct {
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
}

// String never shows the secret.
func (c Credential) String() string { return fmt.Sprintf("principal %q", c.Principal) }

// Apply sets HTTP Basic authentication on req unless it carries an
// Authorization header already. A zero Credential does nothing.
func (c Credential) Apply(req *http.Request) {
	if c.Principal == "" || req.Header.Get("Authorization") != "" {
		return
	}
	req.SetBasicAuth(c.Principal, c.Secret)
}

// RoundTripper returns next (http.DefaultTransport when nil) presenting c
// on every request that carries no Authorization of its own. A zero
// Credential returns next unchanged.
func (c Credential) RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if c.Principal == "" {
		return next
	}
	return credentialTransport{cred: c, next: next}
}

type credentialTransport struct {
	cred Credential
	next http.RoundTripper
}

func (t credentialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	t.cred.Apply(req)
	return t.next.RoundTrip(req)
}

// validate reports what makes c unusable, naming where it came from.
func (c Credential) validate(where string) error {
	switch {
	case c.Principal == "":
		return fmt.Errorf("%s: the principal is empty", where)
	case strings.ContainsRune(c.Principal, ':'):
		return fmt.Errorf("%s: principal %q contains ':', which HTTP Basic authentication cannot carry", where, c.Principal)
	case strings.IndexFunc(c.Principal, unicode.IsSpace) >= 0 || strings.IndexFunc(c.Principal, unicode.IsControl) >= 0:
		return fmt.Errorf("%s: principal %q contains white space or control characters", where, c.Principal)
	case c.Secret == "":
		return fmt.Errorf("%s: the secret of principal %q is empty", where, c.Principal)
	case strings.TrimSpace(c.Secret) != c.Secret:
		// A trailing newline in a secret file is the classic cause of
		// "authentication fails" with no clue why: say it.
		return fmt.Errorf("%s: the secret of principal %q begins or ends with white space (a trailing newline?); remove it", where, c.Principal)
	case strings.IndexFunc(c.Secret, unicode.IsControl) >= 0:
		return fmt.Errorf("%s: the secret of principal %q contains control characters", where, c.Principal)
	}
	return nil
}

// ParseCredential reads one credential, as Mesos' --credential file:
// JSON {"principal": "…", "secret": "…"}, or the plain-text form, one
// line "principal secret".
func ParseCredential(b []byte) (Credential, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var c Credential
		if err := strictJSON(b, &c); err != nil {
			return Credential{}, err
		}
		return c, c.validate("credential")
	}
	lines := textLines(b)
	if len(lines) != 1 {
		return Credential{}, fmt.Errorf("credential: the text form is one line \"principal secret\"; found %d lines", len(lines))
	}
	c, err := textCredential(lines[0])
	if err != nil {
		return Credential{}, err
	}
	return c, c.validate("credential")
}

// Credentials are the principals a server knows and their secrets
// (Mesos' --credentials file). It is immutable once parsed and safe for
// concurrent use.
type Credentials struct {
	secrets map[string][]byte // principal → secret
	// digests holds each secret's SHA-256 in principal order, so that a
	// Bearer token is compared with every one of them in constant time.
	digests    [][32]byte
	principals []string
}

// ParseCredentials reads a credentials file: Mesos' JSON
// {"credentials": [{"principal": "…", "secret": "…"}, …]}, or its
// plain-text form, one "principal secret" per line. It refuses an empty
// set, duplicate principals, and two principals sharing a secret (a
// Bearer token names its principal by its secret alone).
func ParseCredentials(b []byte) (*Credentials, error) {
	var list []Credential
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var f struct {
			Credentials []Credential `json:"credentials"`
		}
		if err := strictJSON(b, &f); err != nil {
			return nil, err
		}
		list = f.Credentials
	} else {
		for i, line := range textLines(b) {
			c, err := textCredential(line)
			if err != nil {
				return nil, fmt.Errorf("credentials line %d: %w", i+1, err)
			}
			list = append(list, c)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("credentials: the file holds no credential")
	}
	cs := &Credentials{secrets: map[string][]byte{}}
	bySecret := map[string]string{}
	for i, c := range list {
		if err := c.validate(fmt.Sprintf("credentials[%d]", i)); err != nil {
			return nil, err
		}
		if _, dup := cs.secrets[c.Principal]; dup {
			return nil, fmt.Errorf("credentials[%d]: principal %q appears twice", i, c.Principal)
		}
		if other, dup := bySecret[c.Secret]; dup {
			return nil, fmt.Errorf("credentials[%d]: principals %q and %q share a secret; give each its own", i, other, c.Principal)
		}
		bySecret[c.Secret] = c.Principal
		cs.secrets[c.Principal] = []byte(c.Secret)
		cs.principals = append(cs.principals, c.Principal)
	}
	sort.Strings(cs.principals)
	for _, p := range cs.principals {
		cs.digests = append(cs.digests, sha256.Sum256(cs.secrets[p]))
	}
	return cs, nil
}

// Principals lists the known principals, sorted.
func (c *Credentials) Principals() []string { return append([]string(nil), c.principals...) }

// Check reports whether secret is principal's, in time independent of
// how much of it matches.
func (c *Credentials) Check(principal, secret string) bool {
	want, ok := c.secrets[principal]
	if !ok {
		// Compare anyway, so that an unknown principal takes as long as
		// a wrong secret.
		want = []byte{0}
	}
	got := sha256.Sum256([]byte(secret))
	w := sha256.Sum256(want)
	return subtle.ConstantTimeCompare(got[:], w[:]) == 1 && ok
}

// bearer returns the principal whose secret token is, comparing with
// every known secret.
func (c *Credentials) bearer(token string) (string, bool) {
	got := sha256.Sum256([]byte(token))
	found := -1
	for i := range c.digests {
		if subtle.ConstantTimeCompare(got[:], c.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return c.principals[found], true
}

// Authenticate returns the principal r authenticates as, by HTTP Basic
// "principal:secret" or "Bearer <secret>". ok is false when r carries no
// credential or a wrong one; why then says which, for the client.
func (c *Credentials) Authenticate(r *http.Request) (principal string, ok bool, why string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, "authentication required: send HTTP Basic credentials (principal:secret) or 'Authorization: Bearer <secret>'"
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false, "the Basic credentials are not valid base64"
		}
		p, s, found := strings.Cut(string(raw), ":")
		if !found {
			return "", false, "the Basic credentials are not principal:secret"
		}
		if !c.Check(p, s) {
			return "", false, "invalid credentials"
		}
		return p, true, ""
	case "bearer":
		if p, found := c.bearer(rest); found {
			return p, true, ""
		}
		return "", false, "invalid credentials"
	}
	return "", false, fmt.Sprintf("authentication scheme %q is not supported; use Basic or Bearer", scheme)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// Principal returns the principal a request authenticated as, or "" for
// an anonymous one (no credentials are configured, or the path is open).
func Principal(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// DefaultOpenPaths are served without credentials: liveness probes.
var DefaultOpenPaths = []string{"/health", "/ping"}

// Authentication is the guard that demands credentials. Its fields are set
// before it serves.
type Authentication struct {
	// Credentials are the known principals; nil lets every request in
	// anonymously.
	Credentials *Credentials
	// Realm names the protection space in the WWW-Authenticate challenge.
	// Default "corral".
	Realm string
	// Open are paths served without credentials; nil means
	// DefaultOpenPaths. A request to one that carries credentials anyway
	// is still authenticated, so that its principal is known.
	Open []string
	// Own are paths whose handlers authenticate their callers
	// themselves (the executor API's per-executor tokens): the guard
	// lets them through untouched.
	Own []string
}

// Guard returns the middleware: requests without a valid credential get
// 401 with a challenge; the principal of the others is in their context
// (Principal).
func (a Authentication) Guard() Middleware {
	realm := a.Realm
	if realm == "" {
		realm = "corral"
	}
	open := map[string]bool{}
	paths := a.Open
	if paths == nil {
		paths = DefaultOpenPaths
	}
	for _, p := range paths {
		open[p] = true
	}
	own := map[string]bool{}
	for _, p := range a.Own {
		own[p] = true
	}
	challenge := fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm)
	return func(next http.Handler) http.Handler {
		if a.Credentials == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if own[r.URL.Path] || open[r.URL.Path] && r.Header.Get("Authorization") == "" {
				next.ServeHTTP(w, r)
				return
			}
			p, ok, why := a.Credentials.Authenticate(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", challenge)
				Write(w, r, Errorf(http.StatusUnauthorized, "%s", why))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// strictJSON decodes b into v, refusing unknown fields, with the line and
// column of a syntax error.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset)
			return fmt.Errorf("line %d, column %d: %v", line, col, err)
		}
		return err
	}
	return nil
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// textLines are the non-blank lines of b, trimmed.
func textLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// textCredential parses "principal secret" (exactly two tokens).
func textCredential(line string) (Credential, error) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return Credential{}, fmt.Errorf("want \"principal secret\" (two words), found %d", len(f))
	}
	return Credential{Principal: f[0], Secret: f[1]}, nil
}
