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

	"corral/internal/apiclient"
)

// client talks to one API through apiclient, naming in its errors how to
// point the verb elsewhere (hint) and how to override a lock (--force).
type client struct {
	*apiclient.Client
	hint string // e.g. "--services or CORRAL_SERVICES"
}

// response is a successful (2xx) answer.
type response = apiclient.Response

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
	resp, err := c.Do(ctx, method, path, body)
	var (
		ur *apiclient.Unreachable
		ae *apiError
	)
	switch {
	case errors.As(err, &ur):
		return nil, &unreachableError{api: ur.API, base: ur.Base, hint: c.hint, err: ur.Err}
	case errors.As(err, &ae):
		ae.Override = "--force"
		if ae.Status == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w (give --principal and --secret, or set CORRAL_PRINCIPAL and CORRAL_SECRET)", err)
		}
	}
	return resp, err
}

// getJSON GETs path and decodes the answer into out.
func (c *client) getJSON(ctx context.Context, path string, out any) error {
	r, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return decode(c.API, path, r.Body, out)
}

func decode(api, path string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the %s API answered %s with unexpected JSON: %w", api, path, err)
	}
	return nil
}

// isStatus reports whether err is an API answer with the given status.
func isStatus(err error, status int) bool { return apiclient.IsStatus(err, status) }

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
