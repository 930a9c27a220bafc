// Package apiclient is the typed client of corral's HTTP APIs: the
// master's (/state, /health), services' (Marathon's /v2) and jobs' (/v1).
// The CLI, the end-to-end tests and the chaos suite use it, so that each
// API's shapes and errors are read in one place.
//
// A Client speaks to one API at one base URL. Answers of 400 or more are
// *Error values carrying the API's message, field details and, for a
// locked app, the deployments that hold it; a connection that fails is an
// *Unreachable. The typed methods (Services, Jobs, Master) decode the
// answers into the types of this package; Do gives the raw answer for
// callers that show it as it came.
package apiclient

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

// MaxBody bounds what a Client reads of one answer.
const MaxBody = 64 << 20

// Client talks to one API. It is safe for concurrent use. The
// *http.Client follows a standby's 307 to the leader by itself (request
// bodies are byte slices, so they can be sent again).
type Client struct {
	// API names the API in errors: "master", "services", "jobs", "agent".
	API string
	// Base is "http://host:port", without a trailing slash.
	Base string
	// HTTP sends the requests; nil is http.DefaultClient.
	HTTP *http.Client
}

// New returns a client of api at base (a trailing slash is dropped).
func New(api, base string, hc *http.Client) *Client {
	return &Client{API: api, Base: strings.TrimRight(base, "/"), HTTP: hc}
}

// Response is a successful (2xx) answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends method path (path may carry a query) with body encoded as JSON
// (a []byte or json.RawMessage is sent as is) and returns the 2xx answer.
// An answer of 400 or more is an *Error; a failed connection an
// *Unreachable; a cancelled ctx is ctx.Err().
func (c *Client) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case []byte:
			b = v
		case json.RawMessage:
			b = v
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, fmt.Errorf("encoding the request: %w", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("bad %s address %q: %w", c.API, c.Base, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &Unreachable{API: c.API, Base: c.Base, Err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Unreachable{API: c.API, Base: c.Base, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode >= 400 {
		return nil, ParseError(c.API, resp.StatusCode, out)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: out}, nil
}

// GetJSON GETs path and decodes the answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	r, err := c.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return c.Decode(path, r.Body, out)
}

// Decode decodes an answer of path into out; its error names the API.
func (c *Client) Decode(path string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the %s API answered %s with unexpected JSON: %w", c.API, path, err)
	}
	return nil
}
