package secrets

import (
	"errors"
	"fmt"
	"strings"

	"corral/internal/pg"
)

// The store's limits.
const (
	// MaxNameBytes bounds a name, without its optional leading "/".
	MaxNameBytes = 255
	// MaxValueBytes bounds a value: 64 KiB.
	MaxValueBytes = 64 << 10
)

// ErrNotFound is returned (wrapped) when the secret asked for does not
// exist (the value every corral store shares).
var ErrNotFound = pg.ErrNotFound

// ErrInvalid is returned (wrapped, as an *InvalidError) when a name, a
// prefix or a value cannot be stored, before the database is asked.
var ErrInvalid = pg.ErrInvalid

// InvalidError is an argument the store refuses: Field is "name",
// "prefix" or "value", Problem says what is wrong with it. Its message is
// safe to show to the caller (it never quotes a value). errors.Is(err,
// ErrInvalid) holds for it.
type InvalidError struct {
	Field   string
	Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Normalize returns name as the store keeps it, without its optional
// leading "/", or an *InvalidError (field "name") saying why it is not a
// name: empty, longer than MaxNameBytes, or with a component that is
// empty ("a//b", a trailing "/"), "." or "..", or holds a character
// outside [A-Za-z0-9._-].
func Normalize(name string) (string, error) {
	return normalize("name", name)
}

// NormalizePrefix returns the prefix List takes as the store compares it:
// "" or "/" is every secret; otherwise a name, whose optional leading and
// trailing "/" are dropped. Its errors are Normalize's, for field
// "prefix".
func NormalizePrefix(prefix string) (string, error) {
	p := strings.TrimPrefix(prefix, "/")
	if p == "" {
		return "", nil
	}
	return normalize("prefix", strings.TrimSuffix(p, "/"))
}

func normalize(field, name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	switch {
	case n == "":
		return "", invalid(field, "must not be empty")
	case len(n) > MaxNameBytes:
		return "", invalid(field, "%d bytes long; at most %d", len(n), MaxNameBytes)
	}
	for i, c := range strings.Split(n, "/") {
		if err := component(c); err != nil {
			return "", invalid(field, "component %d of %q %v", i+1, name, err)
		}
	}
	return n, nil
}

// component checks one component of a name.
func component(c string) error {
	switch c {
	case "":
		return errors.New(`is empty (a "//" or a trailing "/"); components are separated by single slashes`)
	case ".", "..":
		return fmt.Errorf("is %q; relative components are not allowed", c)
	}
	for _, r := range c {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("holds %q; components are made of A-Z, a-z, 0-9, '.', '_' and '-'", r)
		}
	}
	return nil
}

// checkValue refuses a value the store cannot hold.
func checkValue(value []byte) error {
	switch {
	case len(value) == 0:
		return invalid("value", "must not be empty")
	case len(value) > MaxValueBytes:
		return invalid("value", "%d bytes; at most %d (64 KiB)", len(value), MaxValueBytes)
	}
	return nil
}
