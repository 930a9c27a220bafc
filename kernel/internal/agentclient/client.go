// Package agentclient is the agent's side of the HTTP transport of the
// master⇄agent protocol (the wire types are in agentproto): it posts calls
// to the leading master and maps the master's answers to errors.
package agentclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"corral/kernel/internal/agentproto"
)

// maxRedirects bounds the hops Post follows to reach the leader.
const maxRedirects = 5

// Post sends c to the master at base (a base URL, "http://host:5050"),
// following up to five redirects from standbys to the leader. It returns
// the response, whose body the caller must close, and the base URL that
// answered it.
func Post(ctx context.Context, client *http.Client, base string, c agentproto.Call) (*http.Response, string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s call: %w", c.Type, err)
	}
	for range maxRedirects {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+agentproto.Path, bytes.NewReader(body))
		if err != nil {
			return nil, "", fmt.Errorf("building request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if c.Type == agentproto.CallRegister {
			req.Header.Set("Accept", "application/recordio")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("%s call to %s: %w", c.Type, base, err)
		}
		switch resp.StatusCode {
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther:
			loc := resp.Header.Get("Location")
			Drain(resp)
			if base, err = leaderBase(req.URL, loc); err != nil {
				return nil, "", err
			}
			continue
		}
		return resp, base, nil
	}
	return nil, "", fmt.Errorf("%s call: too many redirects", c.Type)
}

// leaderBase resolves a redirect's Location (possibly protocol-relative,
// "//host:5050/internal/v1/agent") to the leader's base URL.
func leaderBase(from *url.URL, loc string) (string, error) {
	if loc == "" {
		return "", errors.New("redirect without Location")
	}
	u, err := from.Parse(loc)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad redirect Location %q", loc)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Drain reads what is left of a response body (up to 64 KiB, so the
// connection can be reused) and closes it.
func Drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// ErrNotLeader is a 503 answer: the master knows no leader, or has not
// finished taking over.
var ErrNotLeader = errors.New("master has no leader")

// ErrStale is a 409 answer: the agent's connection id is no longer current.
var ErrStale = errors.New("connection is stale")

// StatusError maps a master's answer to an agent call to nil (2xx),
// ErrNotLeader (503), ErrStale (409), or an error carrying the body. It
// drains the body of the 503 and 409 answers; the caller still closes it.
func StatusError(resp *http.Response) error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		Drain(resp)
		return ErrNotLeader
	case resp.StatusCode == http.StatusConflict:
		Drain(resp)
		return ErrStale
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("master answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
}
