package cli

import (
	"errors"
	"fmt"
	"net/http"

	"corral/internal/apiclient"
	"corral/internal/edge"
)

// The exit codes of the client verbs. Scripts may rely on them.
const (
	// ExitOK is success.
	ExitOK = 0
	// ExitFailed is an operation that failed: the API refused it (a
	// validation error, a conflict, a server error), a deployment failed,
	// was replaced or timed out, a run failed.
	ExitFailed = 1
	// ExitUsage is a command line that cannot be run as given.
	ExitUsage = 2
	// ExitNotFound is an app, job, task, run or file that does not exist.
	ExitNotFound = 3
	// ExitUnreachable is an API that cannot be reached: the connection
	// failed, or it answered 502, 503 or 504 (unavailable, no leader).
	ExitUnreachable = 4
)

// exitCodesHelp documents the exit codes in every --help.
const exitCodesHelp = `Exit codes:
  0  success
  1  the operation failed (refused by the API, deployment failed, replaced or timed out, run failed)
  2  usage error
  3  not found (app, job, task, run)
  4  cannot reach an API (connection failed, or it answered 502/503/504)
`

// usageError is a command line that cannot be run as given (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// notFoundError is something the user named that does not exist (exit 3).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func notFoundf(format string, args ...any) error {
	return &notFoundError{fmt.Sprintf(format, args...)}
}

// unreachableError is an API that could not be reached (exit 4).
type unreachableError struct {
	api  string // "master", "services", "jobs", "agent"
	base string
	hint string // how to point the verb elsewhere, e.g. "--services or CORRAL_SERVICES"
	err  error
}

func (e *unreachableError) Error() string {
	msg := fmt.Sprintf("cannot reach the %s API at %s: %v", e.api, e.base, e.err)
	// The address is right when the server asked for a certificate.
	if e.hint != "" && !errors.Is(e.err, edge.ErrNoClientCertificate) {
		msg += " (set " + e.hint + ")"
	}
	return msg
}

func (e *unreachableError) Unwrap() error { return e.err }

// apiError is an answer of an API with a status of 400 or more.
type apiError = apiclient.Error

// failure is an operation that did not succeed (exit 1), such as a
// deployment that timed out or a run that failed.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

func failf(format string, args ...any) error {
	return &failure{fmt.Sprintf(format, args...)}
}

// exitCode maps an error of a verb to its exit code: nil is ExitOK; the
// package's error kinds map as documented on the constants; anything else
// is ExitFailed.
func exitCode(err error) int {
	var (
		ue *usageError
		nf *notFoundError
		ur *unreachableError
		ae *apiError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &nf):
		return ExitNotFound
	case errors.As(err, &ur):
		return ExitUnreachable
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusNotFound:
			return ExitNotFound
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return ExitUnreachable
		}
	}
	return ExitFailed
}
