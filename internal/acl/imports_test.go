package acl

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs: no I/O, no
// clock, no goroutines.
func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "encoding/json", "errors", "fmt", "path", "strings", "unicode/utf8", "corral/internal/suggest")
}
