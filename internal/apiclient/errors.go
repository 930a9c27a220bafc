package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Unreachable is an API that could not be reached.
type Unreachable struct {
	API  string
	Base string
	Err  error
}

func (e *Unreachable) Error() string {
	return fmt.Sprintf("cannot reach the %s API at %s: %v", e.API, e.Base, e.Err)
}

func (e *Unreachable) Unwrap() error { return e.Err }

// Detail is one entry of an API error's details: a field path and what is
// wrong with it (Marathon's and the jobs API's 400/422 shape).
type Detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// Error is an answer of an API with a status of 400 or more.
type Error struct {
	API     string
	Status  int
	Message string
	Details []Detail
	// Deployments are, in a 409 from services, the deployments that hold
	// the app.
	Deployments []string
	// Override, when set, is how the caller overrides such a lock; the
	// message names it ("--force").
	Override string
	// Body is the answer as it came.
	Body []byte
}

func (e *Error) Error() string {
	var b strings.Builder
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	fmt.Fprintf(&b, "%s (%s API, HTTP %d)", msg, e.API, e.Status)
	for _, d := range e.Details {
		path := d.Path
		if path == "" {
			path = "/"
		}
		if len(d.Errors) == 0 {
			fmt.Fprintf(&b, "\n  %s: invalid", path)
		}
		for _, m := range d.Errors {
			fmt.Fprintf(&b, "\n  %s: %s", path, forPeople(m))
		}
	}
	if len(e.Deployments) > 0 {
		fmt.Fprintf(&b, "\n  locked by deployment(s) %s", strings.Join(e.Deployments, ", "))
		if e.Override != "" {
			fmt.Fprintf(&b, "; %s overrides", e.Override)
		}
	}
	return b.String()
}

// ParseError reads Marathon's and the jobs API's error body
// {"message", "details": [{"path", "errors"}], "deployments": [{"id"}]};
// a body that is not JSON (an agent's file server answers text) becomes
// the message.
func ParseError(api string, status int, body []byte) *Error {
	e := &Error{API: api, Status: status, Body: body}
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
		e.Message = msg
		return e
	}
	e.Message = eb.Message
	var ds []Detail
	if len(eb.Details) > 0 && json.Unmarshal(eb.Details, &ds) == nil {
		e.Details = ds
	}
	for _, d := range eb.Deployments {
		e.Deployments = append(e.Deployments, d.ID)
	}
	return e
}

// IsStatus reports whether err is an API answer with the given status.
func IsStatus(err error, status int) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.Status == status
}

// IsUnreachable reports whether err is a failed connection.
func IsUnreachable(err error) bool {
	var ur *Unreachable
	return errors.As(err, &ur)
}

// playCodes are the Marathon (Play JSON) error codes the services API
// keeps for compatibility, in words.
var playCodes = map[string]string{
	"error.expected.jsnumber":  "must be a number",
	"error.expected.jsstring":  "must be a string",
	"error.expected.jsboolean": "must be true or false",
	"error.expected.jsarray":   "must be an array",
	"error.expected.jsobject":  "must be an object",
	"error.path.missing":       "is required",
}

// forPeople words an API's detail message: a Play JSON code becomes a
// phrase; anything else is kept.
func forPeople(m string) string {
	if p, ok := playCodes[m]; ok {
		return p
	}
	return m
}
