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

// AnswerError is a master's refusal of a call, with the text it gave.
type AnswerError struct {
	// Code is the HTTP status.
	Code int
	// Message is the master's text (at most 512 bytes), trimmed.
	Message string
}

func (e *AnswerError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("master answered %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("master answered %d: %s", e.Code, e.Message)
}

// Temporary reports whether the same call may succeed later: the master
// is not leading or cannot reach what it needs (502, 503, 504), or the
// connection is stale (409) and the agent must register again first.
func (e *AnswerError) Temporary() bool {
	switch e.Code {
	case http.StatusConflict, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// maxSecretsAnswer bounds a SECRETS answer: a task references few secrets
// of at most 64 KiB each, in base64.
const maxSecretsAnswer = 16 << 20

// Secrets sends a SECRETS call (c.Type must be CallSecrets) to the master
// at base and returns the values it answered, by the names the task's
// environment references. A refusal is an *AnswerError; a transport
// failure or an unreadable answer is another error. Neither ever holds a
// value.
func Secrets(ctx context.Context, client *http.Client, base string, c agentproto.Call) (map[string][]byte, error) {
	resp, _, err := Post(ctx, client, base, c)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		Drain(resp)
		return nil, &AnswerError{Code: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
	}
	var ans agentproto.SecretsAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSecretsAnswer)).Decode(&ans); err != nil {
		// The decoder's error quotes no input beyond a character or a
		// type, but say no more than what went wrong.
		return nil, errors.New("master's SECRETS answer is not the expected JSON")
	}
	return ans.Secrets, nil
}
