package cli

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
)

// maxBody bounds what the client reads of one answer.
const maxBody = 64 << 20

// client talks to one API. It is a plain value over an *http.Client, which
// follows a standby's 307 to the leader by itself (the request bodies are
// byte slices, so they can be sent again).
type client struct {
	api  string // "master", "services", "jobs", "agent": for messages
	base string // "http://host:port", no trailing slash
	hint string // how to point the verb elsewhere, for messages
	hc   *http.Client
}

// response is a successful (2xx) answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// baseURL normalizes an address flag: a scheme is added when missing and
// a trailing slash dropped.
func baseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty address")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not an http(s) URL", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// do sends method path (path may carry a query) with body encoded as JSON
// (a []byte is sent as is) and returns the 2xx answer. An answer of 400 or
// more is an *apiError with the API's message; a failed connection is an
// *unreachableError; a cancelled ctx is ctx.Err().
func (c *client) do(ctx context.Context, method, path string, body any) (*response, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, fmt.Errorf("encoding the request: %w", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, usagef("bad %s address %q: %v", c.api, c.base, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &unreachableError{api: c.api, base: c.base, hint: c.hint, err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &unreachableError{api: c.api, base: c.base, hint: c.hint, err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode >= 400 {
		return nil, parseAPIError(c.api, resp.StatusCode, out)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: out}, nil
}

// getJSON GETs path and decodes the answer into out.
func (c *client) getJSON(ctx context.Context, path string, out any) error {
	r, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return decode(c.api, path, r.body, out)
}

func decode(api, path string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the %s API answered %s with unexpected JSON: %w", api, path, err)
	}
	return nil
}

// parseAPIError reads Marathon's and the jobs API's error body
// {"message", "details": [{"path", "errors"}], "deployments": [{"id"}]};
// a body that is not JSON (the agents' file server answers text) becomes
// the message.
func parseAPIError(api string, status int, body []byte) *apiError {
	e := &apiError{api: api, status: status, body: body}
	var eb struct {
		Message     string          `json:"message"`
		Details     json.RawMessage `json:"details"`
		Deployments []struct {
			ID string `json:"id"`
		} `json:"deployments"`
	}
	if json.Unmarshal(body, &eb) != nil {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		e.message = msg
		return e
	}
	e.message = eb.Message
	var ds []detail
	if len(eb.Details) > 0 && json.Unmarshal(eb.Details, &ds) == nil {
		e.details = ds
	}
	for _, d := range eb.Deployments {
		e.deployments = append(e.deployments, d.ID)
	}
	return e
}

// isStatus reports whether err is an API answer with the given status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == status
}

// isUnreachable reports whether err is a failed connection.
func isUnreachable(err error) bool {
	var ur *unreachableError
	return errors.As(err, &ur)
}

// indentJSON writes an API's JSON answer for scripts: indented, with a
// final newline.
func indentJSON(w io.Writer, body []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// appPath is the API path of an app id ("/v2/apps/group/app").
func appPath(id string) string {
	return "/v2/apps" + id
}

// canonicalApp turns "hello", "/hello/" into "/hello".
func canonicalApp(id string) string {
	id = "/" + strings.Trim(strings.TrimSpace(id), "/")
	return id
}

// jobPath is the API path of a job name.
func jobPath(name string) string {
	return "/v1/jobs/" + url.PathEscape(name)
}
