package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an HTTP failure: Status and Message are the client's, Cause is
// only logged. A nil Cause means the Message says it all.
type Error struct {
	Status  int
	Message string
	Cause   error
}

// Errorf returns an Error whose message the client sees.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Internal returns a 500 that tells the client nothing of cause, which is
// logged with the request.
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Message: "internal server error", Cause: cause}
}

// Unavailable returns a 503 with msg for the client; cause is logged.
func Unavailable(msg string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Message: msg, Cause: cause}
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// As returns err as an *Error: itself if it is one (or wraps one), else
// Internal(err).
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Note records err as the cause of r's outcome for its log line (the
// client never sees it). A later note replaces an earlier one.
func Note(r *http.Request, err error) {
	if rec, ok := r.Context().Value(recordKey{}).(*record); ok && err != nil {
		rec.cause = err
	}
}

// Fail notes err's cause for the log and returns the status and the
// message for the client: an API with its own error shape writes those.
func Fail(r *http.Request, err error) (status int, msg string) {
	e := As(err)
	if e.Cause != nil {
		Note(r, e.Cause)
	}
	return e.Status, e.Message
}

// Write answers err in the edge's own shape, {"message": "…"} as JSON,
// for servers without a wire shape of their own; its cause is logged.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := Fail(r, err)
	WriteJSON(w, status, map[string]string{"message": msg})
}

// WriteJSON writes v as JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// HandlerFunc is a handler that may fail: an error it returns after
// writing nothing is answered by the Handle that adapts it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to an http.Handler: a returned error is answered with
// write, the API's own error writer, or with Write when write is nil.
func Handle(h HandlerFunc, write func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if write == nil {
		write = Write
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			write(w, r, err)
		}
	})
}
